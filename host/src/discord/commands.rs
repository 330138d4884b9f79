//! Built-in commands, available as slash and prefix commands.

use poise::CreateReply;

use super::{Context, Error};
use crate::markdown::escape;

/// Show what Minstrel can do.
#[poise::command(slash_command, prefix_command)]
pub async fn help(ctx: Context<'_>) -> Result<(), Error> {
    let data = ctx.data();
    let mut text = String::from("**Minstrel commands**\n");
    for command in &ctx.framework().options().commands {
        let description = command.description.as_deref().unwrap_or_default();
        text.push_str(&format!("`/{}` {}\n", command.name, description));
    }
    let plugin_commands = data.plugin_commands.lock().expect("commands").clone();
    // Plugin-provided text is shown as text (names are checked at load: no backticks).
    for (name, (plugin, spec)) in plugin_commands {
        text.push_str(&format!(
            "`/{name}` {} (plugin {})\n",
            escape(&spec.description),
            escape(&plugin)
        ));
    }
    text.push_str(&format!(
        "Prefix commands work too: `{}help`. Mention me to talk to a mention plugin.",
        data.options.prefix
    ));
    ctx.send(CreateReply::default().content(text).ephemeral(true))
        .await?;
    Ok(())
}

/// Check that the bot answers.
#[poise::command(slash_command, prefix_command)]
pub async fn ping(ctx: Context<'_>) -> Result<(), Error> {
    ctx.reply("pong").await?;
    Ok(())
}

/// List loaded plugins and their states.
#[poise::command(slash_command, prefix_command)]
pub async fn plugins(ctx: Context<'_>) -> Result<(), Error> {
    let list = ctx.data().plugins.list();
    let text = if list.is_empty() {
        "No plugins loaded.".to_string()
    } else {
        list.iter()
            .map(|p| {
                let world = p.world.map(|w| w.name()).unwrap_or("?");
                let version = p.version.as_deref().unwrap_or("-");
                let error = p
                    .last_error
                    .as_deref()
                    .map(|e| format!(" ({})", escape(e)))
                    .unwrap_or_default();
                let refused = match p.refused_commands.len() {
                    0 => String::new(),
                    n => format!(", {n} commands refused (see `minstrel plugin list`)"),
                };
                format!(
                    "{} {world} {}: {}{error}{refused}",
                    escape(&p.name),
                    escape(version),
                    p.state
                )
            })
            .collect::<Vec<_>>()
            .join("\n")
    };
    ctx.reply(text).await?;
    Ok(())
}

/// The audio cache: stats for everyone, gc and clear for server managers.
#[poise::command(
    slash_command,
    prefix_command,
    subcommands("stats", "gc", "clear"),
    subcommand_required
)]
pub async fn cache(_ctx: Context<'_>) -> Result<(), Error> {
    Ok(())
}

/// What the cache holds.
#[poise::command(slash_command, prefix_command)]
pub async fn stats(ctx: Context<'_>) -> Result<(), Error> {
    let s = ctx.data().store.stats().await?;
    let mib = |b: u64| b as f64 / (1024.0 * 1024.0);
    ctx.reply(format!(
        "Cache: {} tracks in {} blobs, {:.1} MiB of {:.1} MiB, {} playing (leased), {} hits.",
        s.index.tracks,
        s.index.blobs,
        mib(s.index.bytes),
        mib(s.max_cache_bytes),
        s.index.active_leases,
        s.index.hits
    ))
    .await?;
    Ok(())
}

/// Evict least recently used audio down to the cache budget.
#[poise::command(
    slash_command,
    prefix_command,
    guild_only,
    required_permissions = "MANAGE_GUILD"
)]
pub async fn gc(ctx: Context<'_>) -> Result<(), Error> {
    evict(ctx, None, "Evicted", ".").await
}

/// Remove every cached song that is not playing.
#[poise::command(
    slash_command,
    prefix_command,
    guild_only,
    required_permissions = "MANAGE_GUILD"
)]
pub async fn clear(ctx: Context<'_>) -> Result<(), Error> {
    evict(
        ctx,
        Some(0),
        "Cleared",
        "; songs that are playing were kept.",
    )
    .await
}

/// Evicts unleased blobs down to `budget` bytes (the configured budget when `None`)
/// and reports what went. Deferred first: eviction touches the disk.
async fn evict(ctx: Context<'_>, budget: Option<u64>, verb: &str, tail: &str) -> Result<(), Error> {
    ctx.defer().await?;
    let store = &ctx.data().store;
    let evicted = match budget {
        Some(bytes) => store.evict_to(bytes).await?,
        None => store.evict().await?,
    };
    ctx.reply(format!(
        "{verb} {} blobs ({} bytes){tail}",
        evicted.blobs, evicted.bytes
    ))
    .await?;
    Ok(())
}

pub fn all() -> Vec<poise::Command<super::Data, Error>> {
    vec![help(), ping(), plugins(), cache()]
}
