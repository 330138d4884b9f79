//! `/np-buttons`: player controls as buttons, and a log line per player event. The
//! smallest 0.2.0 command plugin written with the SDK (`minstrel_sdk::v2`).

use minstrel_sdk::v2::{
    self, ButtonStyle, Command, CommandSpec, Invocation, PlayerEvent, Press, PressAnswer, Reply,
    button, log, player, reply,
};

struct NowPlaying;

impl Command for NowPlaying {
    fn commands() -> Vec<CommandSpec> {
        vec![CommandSpec {
            name: "np-buttons".into(),
            description: "Buttons to pause or skip the current track".into(),
            options: Vec::new(),
        }]
    }

    fn run(invocation: Invocation) -> Result<Reply, String> {
        match invocation.command.as_str() {
            "np-buttons" => Ok(reply("Now playing controls").row([
                button("pause", "Pause").style(ButtonStyle::Secondary),
                button("skip", "Skip"),
            ])),
            other => Err(format!("unknown command {other}")),
        }
    }

    fn on_press(press: Press) -> Result<PressAnswer, String> {
        let guild = press.context.guild();
        match press.id.as_str() {
            "pause" => {
                player::pause(guild?, true)?;
                Ok(PressAnswer::Update(reply("Paused")))
            }
            "skip" => {
                player::skip(guild?)?;
                Ok(PressAnswer::Update(reply("Skipped")))
            }
            _ => Err("no such component".into()),
        }
    }

    fn on_player_event(event: PlayerEvent) {
        log::info(&format!(
            "player event {:?} in guild {}",
            event.kind, event.guild_id
        ));
    }
}

v2::export_command!(NowPlaying, player_events = true);
