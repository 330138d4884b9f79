//! `/settings` (members with Manage Server): shows the server's music settings and
//! changes those given as options; a menu under the answer puts one back to the
//! operator's default. What the settings do is the player's (see
//! [`crate::player::settings`]); this is the form.

use poise::CreateReply;
use poise::serenity_prelude as serenity;
use serenity::{
    ComponentInteraction, ComponentInteractionDataKind, CreateActionRow, CreateInteractionResponse,
    CreateInteractionResponseMessage, CreateSelectMenu, CreateSelectMenuKind,
    CreateSelectMenuOption,
};

use super::{Context, Data, Error};
use crate::player::settings::{Effective, GuildSettings};
use crate::plugins::World;

/// The custom id of the reset menu (plugin components start with `mp:`).
pub const RESET: &str = "minstrel:settings:reset";

/// Each setting: its option name and how it is shown.
const NAMES: [(&str, &str); 6] = [
    ("dj_role", "DJ role"),
    ("vote_skip_ratio", "Vote to skip"),
    ("default_volume", "Default volume"),
    ("announce_channel", "Announcements"),
    ("max_queue", "Queue length"),
    ("allowed_sources", "Sources"),
];

/// Show or change this server's music settings (server managers only).
#[poise::command(slash_command, guild_only, required_permissions = "MANAGE_GUILD")]
#[allow(clippy::too_many_arguments)]
pub async fn settings(
    ctx: Context<'_>,
    #[description = "Members with it control the music from anywhere and skip without a vote"]
    dj_role: Option<serenity::RoleId>,
    #[description = "Share of the listeners whose votes skip a song (0 to 1; 0.5: a majority)"]
    #[min = 0.0]
    #[max = 1.0]
    vote_skip_ratio: Option<f64>,
    #[description = "The volume a new queue starts at, in percent (0 to 200)"]
    #[min = 0]
    #[max = 200]
    default_volume: Option<u8>,
    #[description = "Where songs are announced (default: where music was asked for)"]
    #[channel_types("Text", "Voice")]
    announce_channel: Option<serenity::ChannelId>,
    #[description = "Most songs in the queue"]
    #[min = 1]
    max_queue: Option<u32>,
    #[description = "The sources /play may use, comma-separated, or all"] allowed_sources: Option<
        String,
    >,
) -> Result<(), Error> {
    let guild = ctx
        .guild_id()
        .ok_or_else(|| anyhow::anyhow!("settings belong to a server"))?
        .get();
    let players = &ctx.data().players;
    let mut settings = players.guild_settings(guild).await;
    if let Some(role) = dj_role {
        settings.dj_role = Some(role.get());
    }
    if let Some(ratio) = vote_skip_ratio {
        settings.vote_skip_ratio = Some(ratio);
    }
    if let Some(volume) = default_volume {
        settings.default_volume = Some(volume);
    }
    if let Some(channel) = announce_channel {
        settings.announce_channel = Some(channel.get());
    }
    if let Some(max) = max_queue {
        settings.max_queue = Some(max as usize);
    }
    if let Some(names) = allowed_sources {
        let loaded = ctx.data().plugins.names(World::Source);
        settings.allowed_sources = sources(&names, &loaded).map_err(|e| anyhow::anyhow!(e))?;
    }
    players.set_guild_settings(guild, &settings).await?;
    let effective = settings.over(players.config());
    let (content, menu) = view(&settings, &effective);
    let mut reply = CreateReply::default().content(content);
    if let Some(menu) = menu {
        reply = reply.components(vec![menu]);
    }
    ctx.send(reply).await?;
    Ok(())
}

/// The sources named in `text` (comma-separated; `all`: None), each one of `loaded`.
pub fn sources(text: &str, loaded: &[String]) -> Result<Option<Vec<String>>, String> {
    let names: Vec<String> = text
        .split(',')
        .map(|n| n.trim().to_ascii_lowercase())
        .filter(|n| !n.is_empty())
        .collect();
    if names.is_empty() || names == ["all"] {
        return Ok(None);
    }
    if let Some(unknown) = names.iter().find(|n| !loaded.contains(n)) {
        return Err(format!(
            "there is no source named {} (the sources: {})",
            crate::markdown::escape(unknown),
            loaded.join(", ")
        ));
    }
    Ok(Some(names))
}

/// The settings as a message, and the menu to reset those the server set.
pub fn view(set: &GuildSettings, now: &Effective) -> (String, Option<CreateActionRow>) {
    let default = |is_set: bool| if is_set { "" } else { " (default)" };
    let dj = match set.dj_role {
        Some(id) => format!("<@&{id}>"),
        None if now.dj_role.trim().is_empty() => "none".into(),
        None => format!("`{}`", crate::markdown::escape(&now.dj_role)),
    };
    let announce = match now.announce_channel {
        Some(id) => format!("<#{id}>"),
        None => "where music was asked for".into(),
    };
    let sources = match &now.allowed_sources {
        Some(names) => names.join(", "),
        None => "all".into(),
    };
    let lines = [
        format!("DJ role: {dj}{}", default(set.dj_role.is_some())),
        format!(
            "Vote to skip: more than {:.0}% of the listeners{}",
            now.vote_skip_ratio * 100.0,
            default(set.vote_skip_ratio.is_some())
        ),
        format!(
            "Default volume: {}%{}",
            now.default_volume,
            default(set.default_volume.is_some())
        ),
        format!(
            "Announcements: {announce}{}",
            default(set.announce_channel.is_some())
        ),
        format!(
            "Queue length: at most {} songs{}",
            now.max_queue,
            default(set.max_queue.is_some())
        ),
        format!(
            "Sources: {sources}{}",
            default(set.allowed_sources.is_some())
        ),
    ];
    let content = format!("**Music settings**\n{}", lines.join("\n"));
    let options: Vec<CreateSelectMenuOption> = NAMES
        .iter()
        .filter(|(name, _)| is_set(set, name))
        .map(|(name, label)| CreateSelectMenuOption::new(*label, *name))
        .collect();
    let menu = (!options.is_empty()).then(|| {
        CreateActionRow::SelectMenu(
            CreateSelectMenu::new(RESET, CreateSelectMenuKind::String { options })
                .placeholder("Put a setting back to the default"),
        )
    });
    (content, menu)
}

fn is_set(set: &GuildSettings, name: &str) -> bool {
    match name {
        "dj_role" => set.dj_role.is_some(),
        "vote_skip_ratio" => set.vote_skip_ratio.is_some(),
        "default_volume" => set.default_volume.is_some(),
        "announce_channel" => set.announce_channel.is_some(),
        "max_queue" => set.max_queue.is_some(),
        "allowed_sources" => set.allowed_sources.is_some(),
        _ => false,
    }
}

fn reset(set: &mut GuildSettings, name: &str) {
    match name {
        "dj_role" => set.dj_role = None,
        "vote_skip_ratio" => set.vote_skip_ratio = None,
        "default_volume" => set.default_volume = None,
        "announce_channel" => set.announce_channel = None,
        "max_queue" => set.max_queue = None,
        "allowed_sources" => set.allowed_sources = None,
        _ => {}
    }
}

/// A choice in the reset menu (claimed by the caller, so handled once): by a member with
/// Manage Server, the setting goes back to the default and the message shows it.
pub async fn press(
    ctx: &serenity::Context,
    data: &Data,
    interaction: &ComponentInteraction,
) -> Result<(), Error> {
    let manager = interaction
        .member
        .as_ref()
        .and_then(|m| m.permissions)
        .is_some_and(|p| p.manage_guild());
    let (Some(guild), true) = (interaction.guild_id, manager) else {
        let refused = CreateInteractionResponseMessage::new()
            .content("Only members with Manage Server change the music settings.")
            .ephemeral(true);
        interaction
            .create_response(&ctx.http, CreateInteractionResponse::Message(refused))
            .await?;
        return Ok(());
    };
    let mut settings = data.players.guild_settings(guild.get()).await;
    if let ComponentInteractionDataKind::StringSelect { values } = &interaction.data.kind {
        for name in values {
            reset(&mut settings, name);
        }
    }
    data.players
        .set_guild_settings(guild.get(), &settings)
        .await?;
    let effective = settings.over(data.players.config());
    let (content, menu) = view(&settings, &effective);
    let update = CreateInteractionResponseMessage::new()
        .content(content)
        .components(menu.into_iter().collect());
    interaction
        .create_response(&ctx.http, CreateInteractionResponse::UpdateMessage(update))
        .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sources_are_loaded_ones_or_all() {
        let loaded = ["youtube".to_string(), "local".to_string()];
        assert_eq!(sources("all", &loaded), Ok(None));
        assert_eq!(sources(" ", &loaded), Ok(None));
        assert_eq!(
            sources("YouTube, local,", &loaded),
            Ok(Some(vec!["youtube".to_string(), "local".to_string()]))
        );
        let error = sources("youtube, spotify*", &loaded).unwrap_err();
        assert_eq!(
            error,
            "there is no source named spotify\\* (the sources: youtube, local)"
        );
    }

    #[test]
    fn the_view_says_what_is_the_default_and_offers_to_reset_the_rest() {
        let config = crate::config::PlayerConfig::default();
        let set = GuildSettings {
            max_queue: Some(20),
            allowed_sources: Some(vec!["local".into()]),
            ..GuildSettings::default()
        };
        let (content, menu) = view(&set, &set.over(&config));
        assert!(
            content.contains("Queue length: at most 20 songs\n"),
            "{content}"
        );
        assert!(content.contains("Sources: local\n") || content.ends_with("Sources: local"));
        assert!(
            content.contains("Default volume: 100% (default)"),
            "{content}"
        );
        assert!(menu.is_some());
        let (_, none) = view(
            &GuildSettings::default(),
            &GuildSettings::default().over(&config),
        );
        assert!(none.is_none());
    }
}
