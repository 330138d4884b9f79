//! Messages that mention the bot go to exactly one mention plugin.
//!
//! **Precedence.** Candidates are the loaded mention plugins, first those the operator
//! lists in `[discord] mention_order` (in that order), then the others by name. Each is
//! asked in turn whether it takes the message (its `claims` export); the first that
//! claims it handles it, and no other plugin is called. A `claims` call that fails
//! counts as "no" (and is logged), so a broken specialised plugin cannot swallow every
//! mention. So a chart plugin that claims only messages holding a table goes before a
//! general LLM plugin that claims everything.
//!
//! **Streaming.** The chosen plugin runs in its own task; what it appends to its draft
//! is shown live through [`LiveReply`] (posted at once, edited at most once a second),
//! and its final reply replaces the draft.

use poise::serenity_prelude as serenity;

use super::live::LiveReply;
use super::reply::{send_reply, text_reply};
use super::{Data, Error};
use crate::plugins::types::{Context as PluginContext, EarlierMessage, Message, Reply};
use crate::plugins::{CallError, PluginHost, World, bundled};

/// Whether `msg` addresses the bot by mention.
pub fn mentions_bot(msg: &serenity::Message, bot: serenity::UserId) -> bool {
    msg.mentions.iter().any(|u| u.id == bot)
        || msg.content.contains(&format!("<@{bot}>"))
        || msg.content.contains(&format!("<@!{bot}>"))
}

/// The text with the bot's mentions removed.
pub fn strip_mention(content: &str, bot: serenity::UserId) -> String {
    content
        .replace(&format!("<@{bot}>"), "")
        .replace(&format!("<@!{bot}>"), "")
        .trim()
        .to_string()
}

/// Most messages followed up a reply chain.
const MAX_CHAIN: usize = 10;

/// The messages `msg` replies to, oldest first: Discord includes the one it replies to;
/// earlier ones are fetched. A message that cannot be fetched ends the chain.
async fn reply_chain(
    ctx: &serenity::Context,
    msg: &serenity::Message,
    bot: serenity::UserId,
) -> Vec<EarlierMessage> {
    let mut chain = Vec::new();
    let mut next = msg.referenced_message.as_deref().cloned();
    let mut reference = msg.message_reference.clone();
    while chain.len() < MAX_CHAIN {
        let earlier = match next.take() {
            Some(earlier) => earlier,
            None => {
                let Some(id) = reference.as_ref().and_then(|r| r.message_id) else {
                    break;
                };
                match msg.channel_id.message(&ctx.http, id).await {
                    Ok(earlier) => earlier,
                    Err(e) => {
                        tracing::debug!(error = %e, "reply chain ends at an unreadable message");
                        break;
                    }
                }
            }
        };
        reference = earlier.message_reference.clone();
        next = earlier.referenced_message.as_deref().cloned();
        chain.push(EarlierMessage {
            from_bot: earlier.author.id == bot,
            author_name: earlier.author.name.clone(),
            content: strip_mention(&earlier.content, bot),
        });
    }
    chain.reverse();
    chain
}

/// The order in which `loaded` mention plugins are asked: those named in `order` first
/// (names not loaded are skipped), then the rest by name, and last the bundled ones
/// (`bundled`, in their own order: a general answerer must not shadow the operator's
/// plugins).
pub fn candidates(mut loaded: Vec<String>, bundled: &[String], order: &[String]) -> Vec<String> {
    loaded.sort();
    let mut out: Vec<String> = Vec::with_capacity(loaded.len());
    for name in order {
        if loaded.contains(name) && !out.contains(name) {
            out.push(name.clone());
        }
    }
    let rest = |name: &String| !order.contains(name);
    out.extend(
        loaded
            .iter()
            .filter(|n| rest(n) && !bundled.contains(n))
            .cloned(),
    );
    out.extend(
        bundled
            .iter()
            .filter(|n| rest(n) && loaded.contains(n))
            .cloned(),
    );
    out
}

/// The plugin that takes `message`, if any (see the module docs for the rules).
pub async fn route(plugins: &PluginHost, order: &[String], message: &Message) -> Option<String> {
    let loaded = plugins.names(World::Mention);
    let bundled: Vec<String> = bundled::all()
        .iter()
        .map(|b| b.name.to_string())
        .filter(|name| plugins.is_bundled(name))
        .collect();
    for name in candidates(loaded, &bundled, order) {
        match plugins.mention_claims(&name, message).await {
            Ok(true) => return Some(name),
            Ok(false) => {}
            Err(error) => {
                tracing::warn!(plugin = %name, %error, "mention plugin's claims failed; skipped")
            }
        }
    }
    None
}

pub async fn handle(
    ctx: &serenity::Context,
    data: &Data,
    msg: &serenity::Message,
    bot: serenity::UserId,
) -> Result<(), Error> {
    let message = Message {
        id: msg.id.get(),
        content: strip_mention(&msg.content, bot),
        context: PluginContext {
            guild_id: msg.guild_id.map(|g| g.get()),
            channel_id: msg.channel_id.get(),
            user_id: msg.author.id.get(),
            user_name: msg.author.name.clone(),
        },
        attachments: super::attachments::collect(msg).await,
        reply_chain: reply_chain(ctx, msg, bot).await,
    };
    let Some(plugin) = route(&data.plugins, &data.options.mention_order, &message).await else {
        let text = if data.plugins.names(World::Mention).is_empty() {
            "No mention plugin is loaded, so I can't answer that. Try `/help`."
        } else {
            "No mention plugin answers messages like this one. Try `/help`."
        };
        send_reply(&ctx.http, msg, &text_reply(text, false)).await?;
        return Ok(());
    };
    let (draft, mut watch) = tokio::sync::watch::channel(String::new());
    // The plugin runs in its own task so that it keeps going while a message is being
    // posted or edited.
    let plugins = data.plugins.clone();
    let name = plugin.clone();
    let mut call =
        tokio::spawn(async move { plugins.handle_mention_live(&name, &message, draft).await });
    let mut live = LiveReply::new(&ctx.http, msg);
    let mut pending = false;
    let mut closed = false;
    let result = loop {
        let due = live.next_write();
        tokio::select! {
            result = &mut call => break result,
            changed = watch.changed(), if !pending && !closed => match changed {
                Ok(()) => pending = true,
                Err(_) => closed = true,
            },
            _ = tokio::time::sleep_until(due), if pending => {
                pending = false;
                let text = watch.borrow_and_update().clone();
                if let Err(error) = live.show(&text).await {
                    tracing::warn!(%plugin, %error, "could not show the draft");
                }
            }
        }
    };
    let draft = watch.borrow().clone();
    let reply = final_reply(
        &plugin,
        result.unwrap_or_else(|e| Err(CallError::Plugin(format!("the plugin task failed: {e}")))),
        draft,
    );
    live.finish(&reply).await?;
    Ok(())
}

/// What stays once the call is over: the plugin's reply (its draft when the reply has
/// nothing in it), or the draft followed by a short apology naming the error.
fn final_reply(plugin: &str, result: Result<Reply, CallError>, draft: String) -> Reply {
    match result {
        Ok(reply) if reply.content.trim().is_empty() && !super::reply::has_extras(&reply) => {
            text_reply(draft, false)
        }
        Ok(reply) => reply,
        Err(e) => {
            tracing::warn!(%plugin, error = %e, kind = e.kind(), "mention plugin failed");
            let shown = if draft.trim().is_empty() {
                String::new()
            } else {
                format!("{draft}\n\n")
            };
            text_reply(format!("{shown}{}", super::reply::failed(&e)), false)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mention_is_stripped() {
        let bot = serenity::UserId::new(1000);
        assert_eq!(strip_mention("<@1000> hello there", bot), "hello there");
        assert_eq!(strip_mention("hey <@!1000>", bot), "hey");
        assert_eq!(strip_mention("<@1001> hi", bot), "<@1001> hi");
    }

    #[test]
    fn configured_order_first_then_by_name_then_bundled() {
        let loaded = |names: &[&str]| names.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let order = loaded(&["chart", "missing", "ask"]);
        assert_eq!(
            candidates(loaded(&["zeta", "ask", "alpha", "chart"]), &[], &order),
            ["chart", "ask", "alpha", "zeta"]
        );
        assert_eq!(candidates(loaded(&["b", "a"]), &[], &[]), ["a", "b"]);
        assert!(candidates(vec![], &[], &order).is_empty());
        // Bundled plugins follow the operator's, in their own order, unless listed.
        let bundled = loaded(&["chart", "ask-mention"]);
        let all = loaded(&["ask-mention", "zeta", "chart", "alpha"]);
        assert_eq!(
            candidates(all.clone(), &bundled, &[]),
            ["alpha", "zeta", "chart", "ask-mention"]
        );
        assert_eq!(
            candidates(all, &bundled, &loaded(&["ask-mention"])),
            ["ask-mention", "alpha", "zeta", "chart"]
        );
    }
}
