"""`/pyping [who]`: a command plugin in Python, built with componentize-py.

Build (scripts/build-plugins.sh does this):

    componentize-py -d ../../wit/since_v0.1.0 -w command componentize app -p . -o py_ping.wasm

The `wit_world` modules are generated from the WIT during that build; run
`componentize-py -d ../../wit/since_v0.1.0 -w command bindings bindings` to get them for an
editor.
"""

import wit_world
from wit_world.imports import log, types
from componentize_py_types import Err


class WitWorld(wit_world.WitWorld):
    def commands(self) -> list[types.CommandSpec]:
        who = types.OptionSpec(
            name="who",
            description="Whom to answer",
            kind=types.OptionKind.TEXT,
            required=False,
            autocomplete=False,
        )
        return [types.CommandSpec(name="pyping", description="Pong from Python", options=[who])]

    def run(self, invocation: types.Invocation) -> types.Reply:
        # result<reply, string>: return the reply, raise Err for the error.
        if invocation.command != "pyping":
            raise Err(f"unknown command {invocation.command}")
        who = invocation.context.user_name
        for name, value in invocation.options:
            if name == "who" and isinstance(value, types.OptionValue_Text):
                who = value.value
        log.log(log.Level.INFO, f"pyping for {who}")
        return types.Reply(content=f"pong from Python, {who}", embeds=[], attachments=[], ephemeral=False)

    def autocomplete(self, command: str, option_name: str, partial: str, context: types.Context) -> list[str]:
        return []
