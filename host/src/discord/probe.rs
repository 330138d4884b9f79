//! Asking Discord about the bot without connecting to the gateway: whether the token is
//! accepted, and whether the Message Content intent is enabled (for `minstrel doctor`).

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

#[derive(Debug)]
pub enum ProbeError {
    /// The token was refused.
    Unauthorized,
    /// Anything else, in one line.
    Other(String),
}

/// `GET /users/@me` and `GET /oauth2/applications/@me` with `token`, against Discord or
/// the API base of a Discord-compatible server.
pub async fn application(token: &str, api_base: Option<&str>) -> Result<Application, ProbeError> {
    let options = super::BotOptions {
        token: token.to_string(),
        api_base: api_base.map(str::to_string),
        dev_guild: None,
        prefix: String::new(),
        mention_order: Vec::new(),
    };
    let http = super::bot::http_client(&options);
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

fn refused(error: serenity::Error) -> ProbeError {
    match &error {
        serenity::Error::Http(e) if e.status_code().is_some_and(|s| s.as_u16() == 401) => {
            ProbeError::Unauthorized
        }
        _ => ProbeError::Other(error.to_string()),
    }
}
