//! A test plugin whose commands Discord would partly reject: one named like the
//! built-in `/ping`, specs that break Discord's rules, and one good command, `/fine`,
//! whose autocomplete offers more and longer choices than Discord allows. The host must
//! refuse the bad ones with a reason and still register everything else.

use minstrel_sdk::{Command, CommandSpec, Context, Invocation, OptionKind, OptionSpec, Reply};

struct BadCommands;

fn option(name: &str, required: bool, autocomplete: bool) -> OptionSpec {
    OptionSpec {
        name: name.into(),
        description: format!("the {name} option"),
        kind: OptionKind::Text,
        required,
        autocomplete,
    }
}

fn spec(name: &str, description: &str, options: Vec<OptionSpec>) -> CommandSpec {
    CommandSpec {
        name: name.into(),
        description: description.into(),
        options,
    }
}

impl Command for BadCommands {
    fn commands() -> Vec<CommandSpec> {
        vec![
            spec("ping", "Takes the built-in's name", Vec::new()),
            spec("Bad Name", "Upper case and a space", Vec::new()),
            spec("wordy", &"very long description ".repeat(5), Vec::new()),
            spec(
                "order",
                "A required option after an optional one",
                vec![option("first", false, false), option("second", true, false)],
            ),
            spec("fine", "A valid command", vec![option("pick", false, true)]),
        ]
    }

    fn run(invocation: Invocation) -> Result<Reply, String> {
        Ok(Reply::text(format!("ran {}", invocation.command)))
    }

    /// 30 choices, one of them 150 characters long: Discord takes at most 25 of 1 to
    /// 100 characters.
    fn autocomplete(_: String, _: String, _: String, _: Context) -> Vec<String> {
        let mut choices = vec!["x".repeat(150)];
        choices.extend((1..30).map(|i| format!("choice {i}")));
        choices
    }
}

minstrel_sdk::export_command!(BadCommands);
