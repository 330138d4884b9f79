//! `/hello [who]` and `/count`: the smallest useful command plugin.

use minstrel_sdk::{Command, CommandSpec, Invocation, OptionKind, OptionSpec, Reply, kv, log};

struct Hello;

impl Command for Hello {
    fn commands() -> Vec<CommandSpec> {
        vec![
            CommandSpec {
                name: "hello".into(),
                description: "Say hello".into(),
                options: vec![OptionSpec {
                    name: "who".into(),
                    description: "Whom to greet".into(),
                    kind: OptionKind::Text,
                    required: false,
                    autocomplete: false,
                }],
            },
            CommandSpec {
                name: "count".into(),
                description: "Count how often this was run".into(),
                options: Vec::new(),
            },
        ]
    }

    fn run(invocation: Invocation) -> Result<Reply, String> {
        match invocation.command.as_str() {
            "hello" => {
                let who = invocation
                    .text("who")
                    .unwrap_or(&invocation.context.user_name);
                log::info(&format!("greeting {who}"));
                Ok(Reply::text(format!("Hello, {who}!")))
            }
            "count" => {
                let count = kv::get_string("count")?
                    .and_then(|text| text.parse::<u64>().ok())
                    .unwrap_or(0)
                    + 1;
                kv::set("count", count.to_string().as_bytes(), None)?;
                Ok(Reply::text(format!("{count}")))
            }
            other => Err(format!("unknown command {other}")),
        }
    }
}

minstrel_sdk::export_command!(Hello, kv_quota = 16);
