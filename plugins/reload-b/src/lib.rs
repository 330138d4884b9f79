//! One of two versions of the same command, used by the hot-reload test and benchmark.

use minstrel_sdk::{Command, CommandSpec, Invocation, Reply};

struct Probe;

impl Command for Probe {
    fn commands() -> Vec<CommandSpec> {
        vec![CommandSpec {
            name: "version".into(),
            description: "Which build answers".into(),
            options: Vec::new(),
        }]
    }

    fn run(_invocation: Invocation) -> Result<Reply, String> {
        Ok(Reply::text("b"))
    }
}

minstrel_sdk::export_command!(Probe);
