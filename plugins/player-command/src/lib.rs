//! `/add query`, `/next` and `/list`: the guild's player through the `player`
//! interface. Each takes an optional `guild` (an id) naming the guild to act in instead
//! of the one it was used in, which the host must refuse; the tests use it to prove that.

use minstrel_sdk::{Command, CommandSpec, Invocation, OptionKind, OptionSpec, Reply, player};

struct PlayerCommand;

fn option(name: &str, description: &str, required: bool) -> OptionSpec {
    OptionSpec {
        name: name.into(),
        description: description.into(),
        kind: OptionKind::Text,
        required,
        autocomplete: false,
    }
}

fn spec(name: &str, description: &str, mut options: Vec<OptionSpec>) -> CommandSpec {
    options.push(option("guild", "The guild to act in (an id)", false));
    CommandSpec {
        name: name.into(),
        description: description.into(),
        options,
    }
}

/// The guild named by the `guild` option, else the one the command was used in.
fn guild(invocation: &Invocation) -> Result<u64, String> {
    match invocation.text("guild") {
        Some(id) => id.parse().map_err(|_| format!("{id} is not a guild id")),
        None => invocation
            .context
            .guild_id
            .ok_or_else(|| "use this in a server".to_string()),
    }
}

impl Command for PlayerCommand {
    fn commands() -> Vec<CommandSpec> {
        vec![
            spec(
                "add",
                "Queue a song",
                vec![option("query", "Search words or a URL", true)],
            ),
            spec("next", "Skip the current song", Vec::new()),
            spec("list", "List the queue", Vec::new()),
        ]
    }

    fn run(invocation: Invocation) -> Result<Reply, String> {
        let guild = guild(&invocation)?;
        match invocation.command.as_str() {
            "add" => {
                let query = invocation.text("query").ok_or("what should I queue?")?;
                let track = player::enqueue(guild, query)?;
                Ok(Reply::text(format!("Queued {}", track.title)))
            }
            "next" => Ok(Reply::text(match player::skip(guild)? {
                Some(track) => format!("Now playing {}", track.title),
                None => "Skipped; the queue is empty".into(),
            })),
            "list" => {
                let titles: Vec<String> =
                    player::queue(guild)?.into_iter().map(|t| t.title).collect();
                Ok(Reply::text(titles.join("\n")))
            }
            other => Err(format!("unknown command {other}")),
        }
    }
}

minstrel_sdk::export_command!(PlayerCommand);
