//! A 0.2.0 `command` plugin that abuses the new callbacks: too many timers, a press that
//! floods the log, a player event that never returns. The host must bound each.

// In a module of its own so the lint allowance covers only generated code, whose
// functions take one argument per WIT record field.
#[allow(clippy::too_many_arguments)]
mod bindings {
    wit_bindgen::generate!({
        path: "../../wit/since_v0.2.0",
        world: "command",
    });
}

use bindings::minstrel::plugin::log::{self, Level};
use bindings::minstrel::plugin::timers;
use bindings::minstrel::plugin::types::{Button, ButtonStyle, Component};
// The types the world `use`s are at the bindings' root already.
use bindings::{
    CommandSpec, Context, Guest, Invocation, PlayerEvent, PluginInfo, Press, PressAnswer, Reply,
    Timer,
};

struct Hostile;

fn reply(content: impl Into<String>, components: Vec<Vec<Component>>) -> Reply {
    Reply {
        content: content.into(),
        embeds: Vec::new(),
        attachments: Vec::new(),
        ephemeral: false,
        components,
    }
}

fn spec(name: &str, description: &str) -> CommandSpec {
    CommandSpec {
        name: name.into(),
        description: description.into(),
        options: Vec::new(),
    }
}

impl Guest for Hostile {
    fn describe() -> PluginInfo {
        PluginInfo {
            name: "hostile-v2".into(),
            version: "0.2.0".into(),
            http_hosts: Vec::new(),
            kv_quota: None,
            config_keys: Vec::new(),
            player_events: true,
        }
    }

    fn commands() -> Vec<CommandSpec> {
        vec![
            spec("bomb", "attack: schedule 5000 timers"),
            spec("flood", "attack: a button that floods the log"),
        ]
    }

    fn run(invocation: Invocation) -> Result<Reply, String> {
        match invocation.command.as_str() {
            // Keeps going after a refusal, so the reply shows where the host drew the line.
            "bomb" => {
                let mut scheduled = 0;
                let mut first_error = None;
                for _ in 0..5000 {
                    match timers::after(3_600_000, b"x") {
                        Ok(_) => scheduled += 1,
                        Err(e) => {
                            first_error.get_or_insert(e);
                        }
                    }
                }
                let error = first_error.unwrap_or_else(|| "none".into());
                Ok(reply(
                    format!("scheduled {scheduled}, then: {error}"),
                    Vec::new(),
                ))
            }
            "flood" => {
                let button = Button {
                    id: "flood".into(),
                    label: "Flood".into(),
                    style: ButtonStyle::Danger,
                    disabled: false,
                };
                Ok(reply(
                    "press to flood",
                    vec![vec![Component::Button(button)]],
                ))
            }
            other => Err(format!("unknown attack {other}")),
        }
    }

    fn autocomplete(_: String, _: String, _: String, _: Context) -> Vec<String> {
        Vec::new()
    }

    fn on_press(press: Press) -> Result<PressAnswer, String> {
        match press.id.as_str() {
            // Only the host's budget of host calls per call can end this.
            "flood" => loop {
                log::log(Level::Info, "flood");
            },
            _ => Err("unknown component".into()),
        }
    }

    fn on_player_event(_: PlayerEvent) {
        // No host calls at all: only the epoch deadline can end this.
        let mut x = 0u64;
        loop {
            x = std::hint::black_box(x.wrapping_add(1));
        }
    }

    fn on_timer(_: Timer) {}
}

bindings::export!(Hostile with_types_in bindings);
