"""A Minstrel command plugin in Python (componentize-py).

`class WitWorld` implements the `command` world of wit/since_v0.2.0; run
`componentize-py -d wit/since_v0.2.0 -w command bindings .` to see the generated types.
"""

import wit_world
from wit_world.imports import types
from componentize_py_types import Err


def again_button() -> list[list[types.Component]]:
    # The id is the plugin's own; a press on it comes back to `on_press`.
    button = types.Button(id="again", label="Again", style=types.ButtonStyle.PRIMARY,
                          disabled=False)
    return [[types.Component_Button(button)]]


class WitWorld(wit_world.WitWorld):
    def describe(self) -> types.PluginInfo:
        # What the plugin is and asks for; `minstrel plugin check` shows it.
        return types.PluginInfo(name="py-buttons", version="0.1.0", http_hosts=[],
                                kv_quota=None, config_keys=[], player_events=False)
    def commands(self) -> list[types.CommandSpec]:
        return [types.CommandSpec(name="hi", description="Say hi", options=[])]

    def run(self, invocation: types.Invocation) -> types.Reply:
        if invocation.command != "hi":
            raise Err(f"unknown command {invocation.command}")
        who = invocation.context.user_name
        return types.Reply(content=f"Hi, {who}!", embeds=[], attachments=[], ephemeral=False,
                           components=again_button())

    def autocomplete(self, command: str, option_name: str, partial: str,
                     context: types.Context) -> list[str]:
        return []

    def on_press(self, press: types.Press) -> types.PressAnswer:
        if press.id != "again":
            raise Err(f"unknown component {press.id}")
        reply = types.Reply(content=f"Hi again, {press.context.user_name}!", embeds=[],
                            attachments=[], ephemeral=False, components=again_button())
        return types.PressAnswer_Update(reply)

    def on_player_event(self, event: types.PlayerEvent) -> None:
        pass

    def on_timer(self, timer: types.Timer) -> None:
        pass
