//! A 0.2.0 `command` plugin for the end-to-end tests: one command or callback per new
//! feature (components and presses, timers, settings, `enqueue-at`, player events).
//! Written against wit-bindgen directly because the SDK serves 0.1.0 only.

// In a module of its own so the lint allowance covers only generated code, whose
// functions take one argument per WIT record field.
#[allow(clippy::too_many_arguments)]
mod bindings {
    wit_bindgen::generate!({
        path: "../../wit/since_v0.2.0",
        world: "command",
    });
}

use bindings::minstrel::plugin::types::{
    Button, ButtonStyle, Component, ConfigKey, EndReason, OptionKind, OptionSpec, OptionValue,
    PlayerEventKind, SelectMenu, SelectOption,
};
use bindings::minstrel::plugin::{config, kv, messages, player, timers};
// The types the world `use`s are at the bindings' root already.
use bindings::{
    CommandSpec, Context, Guest, Invocation, PlayerEvent, PluginInfo, Press, PressAnswer, Reply,
    Timer,
};

struct Probe;

fn reply(content: impl Into<String>) -> Reply {
    Reply {
        content: content.into(),
        embeds: Vec::new(),
        attachments: Vec::new(),
        ephemeral: false,
        components: Vec::new(),
    }
}

/// The two rows of `/buttons`, also kept on the message when a press updates it.
fn rows() -> Vec<Vec<Component>> {
    let button = Button {
        id: "count".into(),
        label: "Count".into(),
        style: ButtonStyle::Primary,
        disabled: false,
    };
    let options = ["a", "b", "c"]
        .iter()
        .map(|value| SelectOption {
            value: (*value).into(),
            label: value.to_uppercase(),
            description: None,
        })
        .collect();
    let menu = SelectMenu {
        id: "choice".into(),
        placeholder: None,
        options,
    };
    vec![
        vec![Component::Button(button)],
        vec![Component::Select(menu)],
    ]
}

fn spec(name: &str, description: &str, options: &[(&str, &str, OptionKind)]) -> CommandSpec {
    CommandSpec {
        name: name.into(),
        description: description.into(),
        options: options
            .iter()
            .map(|(name, description, kind)| OptionSpec {
                name: (*name).into(),
                description: (*description).into(),
                kind: *kind,
                required: true,
                autocomplete: false,
            })
            .collect(),
    }
}

fn text<'a>(invocation: &'a Invocation, name: &str) -> Result<&'a str, String> {
    match invocation.options.iter().find(|(n, _)| n == name) {
        Some((_, OptionValue::Text(value))) => Ok(value),
        _ => Err(format!("missing text option {name}")),
    }
}

fn integer(invocation: &Invocation, name: &str) -> Result<i64, String> {
    match invocation.options.iter().find(|(n, _)| n == name) {
        Some((_, OptionValue::Integer(value))) => Ok(*value),
        _ => Err(format!("missing integer option {name}")),
    }
}

fn guild(invocation: &Invocation) -> Result<u64, String> {
    invocation
        .context
        .guild_id
        .ok_or_else(|| "only in a guild".to_string())
}

impl Guest for Probe {
    fn describe() -> PluginInfo {
        let key = |name: &str, description: &str, secret| ConfigKey {
            name: name.into(),
            description: description.into(),
            secret,
            required: false,
        };
        PluginInfo {
            name: "probe-v2".into(),
            version: "0.2.0".into(),
            http_hosts: Vec::new(),
            kv_quota: Some(100),
            config_keys: vec![
                key(
                    "channel",
                    "channel id where player events and reminders are posted",
                    false,
                ),
                key("token", "a secret setting", true),
            ],
            player_events: true,
        }
    }

    fn commands() -> Vec<CommandSpec> {
        vec![
            spec("buttons", "Show a button and a select menu", &[]),
            spec(
                "remind",
                "Post a reminder later",
                &[
                    ("ms", "delay in milliseconds", OptionKind::Integer),
                    ("text", "what to remind of", OptionKind::Text),
                ],
            ),
            spec("secret", "Tell whether the secret setting is set", &[]),
            spec(
                "queue-at",
                "Queue a track at a position",
                &[
                    ("query", "what to play", OptionKind::Text),
                    ("position", "0: next", OptionKind::Integer),
                ],
            ),
            spec("np", "What is playing", &[]),
        ]
    }

    fn run(invocation: Invocation) -> Result<Reply, String> {
        match invocation.command.as_str() {
            "buttons" => Ok(Reply {
                components: rows(),
                ..reply("Pick one")
            }),
            "remind" => {
                let ms = u64::try_from(integer(&invocation, "ms")?).map_err(|_| "negative ms")?;
                // The timer carries no channel, so the payload does.
                let payload = format!(
                    "{}|{}",
                    invocation.context.channel_id,
                    text(&invocation, "text")?
                );
                let id = timers::after(ms, payload.as_bytes())?;
                Ok(reply(format!("Reminder set (timer {id})")))
            }
            // Only the length: a secret must never reach a reply.
            "secret" => Ok(reply(match config::get("token") {
                Some(token) => format!("token has {} characters", token.chars().count()),
                None => "token is not set".into(),
            })),
            "queue-at" => {
                let query = text(&invocation, "query")?;
                let position = u32::try_from(integer(&invocation, "position")?)
                    .map_err(|_| "position out of range")?;
                Ok(reply(
                    match player::enqueue_at(guild(&invocation)?, query, position) {
                        Ok(track) => format!("queued {} at {position}", track.title),
                        Err(e) => e,
                    },
                ))
            }
            "np" => Ok(reply(match player::now_playing(guild(&invocation)?)? {
                Some(playing) => format!("{} at {} ms", playing.track.title, playing.position_ms),
                None => "nothing".into(),
            })),
            _ => Err("unknown command".into()),
        }
    }

    fn autocomplete(_: String, _: String, _: String, _: Context) -> Vec<String> {
        Vec::new()
    }

    fn on_press(press: Press) -> Result<PressAnswer, String> {
        match press.id.as_str() {
            "count" => {
                let presses = kv::get("presses")?
                    .and_then(|bytes| String::from_utf8(bytes).ok())
                    .and_then(|text| text.parse::<u32>().ok())
                    .unwrap_or(0)
                    + 1;
                kv::set("presses", presses.to_string().as_bytes(), None)?;
                Ok(PressAnswer::Update(Reply {
                    components: rows(),
                    ..reply(format!("Pressed {presses} times"))
                }))
            }
            "choice" => {
                let chosen = press.values.first().map_or("", String::as_str);
                Ok(PressAnswer::Reply(reply(format!("You chose {chosen}"))))
            }
            _ => Err("unknown component".into()),
        }
    }

    fn on_player_event(event: PlayerEvent) {
        let Some(channel) = config::get("channel").and_then(|c| c.parse::<u64>().ok()) else {
            return;
        };
        let kind = match event.kind {
            PlayerEventKind::TrackStarted => "track-started",
            PlayerEventKind::TrackEnded(EndReason::Finished) => "track-ended:finished",
            PlayerEventKind::TrackEnded(EndReason::Skipped) => "track-ended:skipped",
            PlayerEventKind::TrackEnded(EndReason::Failed) => "track-ended:failed",
            PlayerEventKind::TrackEnded(EndReason::Stopped) => "track-ended:stopped",
            PlayerEventKind::QueueEnded => "queue-ended",
            PlayerEventKind::JoinedVoice(_) => "joined-voice",
            PlayerEventKind::LeftVoice => "left-voice",
        };
        let title = event.track.map_or_else(|| "-".into(), |track| track.title);
        // Nowhere to report a failure: the event is simply not posted.
        let _ = messages::send(
            channel,
            &reply(format!("event {kind} {title} {}", event.position_ms)),
        );
    }

    fn on_timer(timer: Timer) {
        let payload = String::from_utf8_lossy(&timer.payload);
        let Some((channel, text)) = payload.split_once('|') else {
            return;
        };
        if let Ok(channel) = channel.parse::<u64>() {
            let _ = messages::send(channel, &reply(format!("Reminder: {text}")));
        }
    }
}

bindings::export!(Probe with_types_in bindings);
