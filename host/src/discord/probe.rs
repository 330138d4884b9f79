//! Asking Discord about the bot without connecting to the gateway: whether the token is
//! accepted, whether the Message Content intent is enabled, and where in a guild the bot
//! may connect and speak (for `minstrel doctor`).

use poise::serenity_prelude as serenity;

/// The fix when the Message Content intent is off (Discord closes with 4014).
pub const ENABLE_MESSAGE_CONTENT: &str = "enable the Message Content intent in the developer \
     portal (your application -> Bot -> Privileged Gateway Intents -> Message Content Intent)";

/// What Discord says of the bot.
#[derive(Debug, Clone)]
pub struct Application {
    pub bot_id: u64,
    pub bot_name: String,
    /// The Message Content intent is enabled (fully, or "limited" below 100 guilds).
    pub message_content: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum ProbeError {
    /// The token was refused.
    #[error("the token was refused")]
    Unauthorized,
    /// The guild is unknown to the bot (it was not invited, or the id is wrong).
    #[error("the bot is not in that guild")]
    NotInGuild,
    /// Anything else, in one line.
    #[error("{0}")]
    Other(String),
}

fn http(token: &str, api_base: Option<&str>) -> serenity::Http {
    let options = super::BotOptions {
        token: token.to_string(),
        api_base: api_base.map(str::to_string),
        dev_guild: None,
        prefix: String::new(),
        mention_order: Vec::new(),
        shards: crate::shards::ShardPlan::Single,
    };
    super::bot::http_client(&options)
}

/// `GET /users/@me` and `GET /oauth2/applications/@me` with `token`, against Discord or
/// the API base of a Discord-compatible server.
pub async fn application(token: &str, api_base: Option<&str>) -> Result<Application, ProbeError> {
    let http = http(token, api_base);
    let user = http.get_current_user().await.map_err(refused)?;
    let app = http.get_current_application_info().await.map_err(refused)?;
    let flags = app.flags.unwrap_or_default();
    Ok(Application {
        bot_id: user.id.get(),
        bot_name: user.name.clone(),
        message_content: flags.intersects(
            serenity::ApplicationFlags::GATEWAY_MESSAGE_CONTENT
                | serenity::ApplicationFlags::GATEWAY_MESSAGE_CONTENT_LIMITED,
        ),
    })
}

/// The bot's voice permissions in one guild.
#[derive(Debug, Clone)]
pub struct VoiceAccess {
    pub guild_name: String,
    /// Every voice and stage channel: its name, and whether the bot may connect and
    /// speak there (roles and channel overwrites applied, as Discord computes them).
    pub channels: Vec<(String, bool)>,
}

/// Reads guild `guild`, its channels and the bot's member with `token`, and computes the
/// bot's permissions in each voice channel. `NotInGuild` when the bot was not invited.
pub async fn voice_access(
    token: &str,
    api_base: Option<&str>,
    guild: u64,
) -> Result<VoiceAccess, ProbeError> {
    let http = http(token, api_base);
    let me = http.get_current_user().await.map_err(refused)?;
    // Discord answers 403 (Missing Access) or 404 (Unknown Guild) for a guild the bot is
    // not in.
    let guild = http
        .get_guild(serenity::GuildId::new(guild))
        .await
        .map_err(|error| match &error {
            serenity::Error::Http(e)
                if e.status_code()
                    .is_some_and(|s| matches!(s.as_u16(), 403 | 404)) =>
            {
                ProbeError::NotInGuild
            }
            _ => refused(error),
        })?;
    let member = http.get_member(guild.id, me.id).await.map_err(refused)?;
    let channels = http.get_channels(guild.id).await.map_err(refused)?;
    let needed = serenity::Permissions::CONNECT | serenity::Permissions::SPEAK;
    Ok(VoiceAccess {
        guild_name: guild.name.clone(),
        channels: channels
            .iter()
            .filter(|c| {
                matches!(
                    c.kind,
                    serenity::ChannelType::Voice | serenity::ChannelType::Stage
                )
            })
            .map(|c| {
                let allowed = guild.user_permissions_in(c, &member).contains(needed);
                (c.name.clone(), allowed)
            })
            .collect(),
    })
}

fn refused(error: serenity::Error) -> ProbeError {
    match &error {
        serenity::Error::Http(e) if e.status_code().is_some_and(|s| s.as_u16() == 401) => {
            ProbeError::Unauthorized
        }
        _ => ProbeError::Other(error.to_string()),
    }
}
