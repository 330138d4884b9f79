//! Polls for a channel, written as any third party would: only `minstrel-sdk`.
//!
//! - `/poll question choices`: opens a poll in this channel (replacing an open one).
//!   Choices are separated by `|` or `,`. As a prefix command the question is one
//!   word unless its last word ends the first `|` part with a `?`:
//!   `!poll Where shall we eat? | pizza | sushi`.
//! - `/vote choice`: votes (or changes your vote); autocompletes the open poll's
//!   choices; a choice's number works too.
//! - `/results`: the tally as a text bar chart.
//! - `/endpoll`: closes the poll (its author only) and shows the final tally.
//!
//! State lives in the plugin's kv store, one entry per channel. kv has no
//! compare-and-set, so two votes stored in the same instant can lose one of them; a
//! vote is one small read-modify-write to keep that window short.

pub mod tally;

use minstrel_sdk::{Command, CommandSpec, Context, Invocation, OptionKind, OptionSpec, Reply, kv};

use tally::Poll;

/// kv key of the poll in a channel.
fn key(context: &Context) -> String {
    format!("poll:{}", context.channel_id)
}

fn load(context: &Context) -> Result<Option<Poll>, String> {
    match kv::get(&key(context))? {
        Some(bytes) => Poll::decode(&bytes).map(Some),
        None => Ok(None),
    }
}

fn save(context: &Context, poll: &Poll) -> Result<(), String> {
    // Forgotten after 30 days without a vote.
    kv::set(&key(context), &poll.encode(), Some(30 * 24 * 3600))
}

fn text_option(name: &str, description: &str, required: bool, autocomplete: bool) -> OptionSpec {
    OptionSpec {
        name: name.into(),
        description: description.into(),
        kind: OptionKind::Text,
        required,
        autocomplete,
    }
}

const NO_POLL: &str = "There is no poll in this channel. Start one with `/poll`.";

struct Polls;

impl Command for Polls {
    fn commands() -> Vec<CommandSpec> {
        vec![
            CommandSpec {
                name: "poll".into(),
                description: "Start a poll in this channel".into(),
                options: vec![
                    text_option("question", "What to ask", true, false),
                    text_option("choices", "Choices, separated by | or ,", true, false),
                ],
            },
            CommandSpec {
                name: "vote".into(),
                description: "Vote in this channel's poll".into(),
                options: vec![text_option("choice", "Your choice", true, true)],
            },
            CommandSpec {
                name: "results".into(),
                description: "Show this channel's poll results".into(),
                options: Vec::new(),
            },
            CommandSpec {
                name: "endpoll".into(),
                description: "Close this channel's poll (its author only)".into(),
                options: Vec::new(),
            },
        ]
    }

    fn run(invocation: Invocation) -> Result<Reply, String> {
        let context = &invocation.context;
        match invocation.command.as_str() {
            "poll" => {
                let poll = match Poll::from_input(
                    invocation.text("question").unwrap_or_default(),
                    invocation.text("choices").unwrap_or_default(),
                    context.user_id,
                ) {
                    Ok(poll) => poll,
                    Err(why) => return Ok(Reply::text(why).ephemeral()),
                };
                save(context, &poll)?;
                Ok(Reply::text(format!(
                    "{}\nVote with `/vote`.",
                    poll.render()
                )))
            }
            "vote" => {
                let Some(mut poll) = load(context)? else {
                    return Ok(Reply::text(NO_POLL).ephemeral());
                };
                let choice = invocation.text("choice").unwrap_or_default();
                match poll.vote(context.user_id, choice) {
                    Ok(chosen) => {
                        save(context, &poll)?;
                        Ok(Reply::text(format!("You voted for **{chosen}**.")).ephemeral())
                    }
                    Err(why) => Ok(Reply::text(why).ephemeral()),
                }
            }
            "results" => Ok(match load(context)? {
                Some(poll) => Reply::text(poll.render()),
                None => Reply::text(NO_POLL).ephemeral(),
            }),
            "endpoll" => {
                let Some(mut poll) = load(context)? else {
                    return Ok(Reply::text(NO_POLL).ephemeral());
                };
                if poll.author != context.user_id {
                    return Ok(Reply::text("Only the poll's author can end it.").ephemeral());
                }
                poll.open = false;
                save(context, &poll)?;
                Ok(Reply::text(format!("Poll closed.\n{}", poll.render())))
            }
            other => Err(format!("unknown command {other}")),
        }
    }

    fn autocomplete(
        command: String,
        option_name: String,
        partial: String,
        context: Context,
    ) -> Vec<String> {
        if command != "vote" || option_name != "choice" {
            return Vec::new();
        }
        match load(&context) {
            Ok(Some(poll)) if poll.open => poll.suggest(&partial),
            _ => Vec::new(),
        }
    }
}

minstrel_sdk::export_command!(Polls, kv_quota = 1000);
