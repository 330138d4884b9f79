//! REST routes under `/api/v10`. Every request is recorded in the [`World`] (method,
//! path, JSON body or multipart `payload_json`, uploaded files, arrival time) before
//! its handler runs, and its answer (status, JSON) after; see [`record`].

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::{FromRequest, FromRequestParts, Multipart, Path, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Json, Response};
use axum::routing::{get, post, put};
use serde_json::{Value, json};

use super::payloads::{self, BOT_ID};
use super::world::{RestCall, World};

type W = State<Arc<World>>;

pub fn router(world: Arc<World>) -> Router {
    Router::new()
        .route("/api/v10/gateway", get(gateway))
        .route("/api/v10/gateway/bot", get(gateway_bot))
        .route("/api/v10/users/@me", get(me))
        .route("/api/v10/oauth2/applications/@me", get(application))
        .route("/api/v10/channels/{channel}", get(channel))
        .route("/api/v10/channels/{channel}/messages", post(create_message))
        .route(
            "/api/v10/channels/{channel}/messages/{message}",
            get(get_message).patch(edit_message).delete(delete_message),
        )
        .route("/api/v10/channels/{channel}/typing", post(no_content))
        .route(
            "/api/v10/interactions/{id}/{token}/callback",
            post(interaction_callback),
        )
        .route("/api/v10/webhooks/{app}/{token}", post(followup))
        .route(
            "/api/v10/webhooks/{app}/{token}/messages/{message}",
            get(get_webhook_message)
                .patch(edit_webhook_message)
                .delete(delete_webhook_message),
        )
        .route(
            "/api/v10/applications/{app}/commands",
            put(put_global_commands).get(get_global_commands),
        )
        .route(
            "/api/v10/applications/{app}/guilds/{guild}/commands",
            put(put_guild_commands).get(get_guild_commands),
        )
        .route("/api/v10/guilds/{guild}", get(get_guild))
        .route("/api/v10/guilds/{guild}/channels", get(get_guild_channels))
        .route("/api/v10/guilds/{guild}/members/{user}", get(get_member))
        .route("/attachments/{id}/{name}", get(attachment))
        .fallback(unknown)
        .layer(middleware::from_fn_with_state(Arc::clone(&world), record))
        // Added after the layer: the websocket is not a REST call.
        .route("/gw", get(super::gateway::upgrade))
        .with_state(world)
}

/// A request's body as recorded: JSON, or for multipart requests `payload_json` and the
/// uploaded files. Handlers take it as an extractor; [`record`] puts it there.
#[derive(Clone, Default)]
pub struct Payload {
    pub body: Value,
    pub files: Vec<(String, Vec<u8>)>,
}

impl<S: Send + Sync> FromRequestParts<S> for Payload {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Response> {
        parts
            .extensions
            .remove::<Payload>()
            .ok_or_else(|| error(500, 0, "request body was not recorded"))
    }
}

/// Middleware: reads and records every request (before its handler runs, so a test
/// that sees an effect also sees the call), refuses API calls without the bot's token
/// (see [`World::require_token`]), then records the answer.
async fn record(State(world): W, req: Request, next: Next) -> Response {
    let at = std::time::Instant::now();
    let (parts, body) = req.into_parts();
    let payload = match read_body(&parts.headers, body).await {
        Ok(payload) => payload,
        Err(response) => return response,
    };
    let token = parts
        .headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let token = token.strip_prefix("Bot ").unwrap_or(token).to_string();
    let authorized = !parts.uri.path().starts_with("/api/") || world.token_accepted(&token);
    let index = world.record(RestCall {
        method: parts.method.to_string(),
        path: parts.uri.path().to_string(),
        body: payload.body.clone(),
        files: payload.files.clone(),
        token,
        at,
        status: 0,
        response: Value::Null,
    });
    let answer = if authorized {
        let mut req = Request::from_parts(parts, Body::empty());
        req.extensions_mut().insert(payload);
        next.run(req).await
    } else {
        error(401, 0, "401: Unauthorized")
    };
    let (parts, body) = answer.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, 64 << 20).await else {
        return error(500, 0, "response body too large");
    };
    world.answered(
        index,
        parts.status.as_u16(),
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    );
    Response::from_parts(parts, Body::from(bytes))
}

async fn read_body(headers: &HeaderMap, body: Body) -> Result<Payload, Response> {
    let bytes = axum::body::to_bytes(body, 64 << 20)
        .await
        .map_err(|e| error(400, 50035, &e.to_string()))?;
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    if content_type.starts_with("multipart/form-data") {
        let req = Request::builder()
            .header(header::CONTENT_TYPE, content_type)
            .body(Body::from(bytes))
            .map_err(|e| error(400, 50035, &e.to_string()))?;
        let (body, files) = read_multipart(req)
            .await
            .map_err(|e| error(400, 50035, &e))?;
        return Ok(Payload { body, files });
    }
    let body = if bytes.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&bytes).map_err(|e| error(400, 50109, &e.to_string()))?
    };
    Ok(Payload {
        body,
        files: Vec::new(),
    })
}

async fn read_multipart(req: Request) -> Result<(Value, Vec<(String, Vec<u8>)>), String> {
    let mut form = Multipart::from_request(req, &())
        .await
        .map_err(|e| e.to_string())?;
    let mut body = Value::Null;
    let mut files = Vec::new();
    while let Some(field) = form.next_field().await.map_err(|e| e.to_string())? {
        let name = field.name().unwrap_or_default().to_string();
        let filename = field.file_name().map(str::to_string);
        let bytes = field.bytes().await.map_err(|e| e.to_string())?;
        if name == "payload_json" {
            body = serde_json::from_slice(&bytes).map_err(|e| e.to_string())?;
        } else if name.starts_with("files[") {
            files.push((filename.unwrap_or(name), bytes.to_vec()));
        }
    }
    Ok((body, files))
}

fn error(status: u16, code: u32, message: &str) -> Response {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST);
    (status, Json(json!({"code": code, "message": message}))).into_response()
}

fn unknown_message() -> Response {
    error(404, 10008, "Unknown Message")
}

fn parse_id(s: &str) -> Option<u64> {
    s.parse().ok()
}

async fn gateway(State(world): W) -> Response {
    Json(json!({"url": world.gateway_url()})).into_response()
}

async fn gateway_bot(State(world): W) -> Response {
    Json(world.gateway_bot()).into_response()
}

/// The bot itself: a user with the private fields Discord adds for its owner
/// (`UserPIIResponse`).
async fn me() -> Response {
    let mut user = payloads::user(BOT_ID);
    user["mfa_enabled"] = serde_json::json!(false);
    user["locale"] = serde_json::json!("en-US");
    Json(user).into_response()
}

/// One of the bot's guilds, by its id in a path.
fn known_guild(world: &World, guild: &str) -> Option<u64> {
    parse_id(guild).filter(|g| world.knows_guild(*g))
}

/// The guild as REST returns it (with the bot's channel overwrites); 404 for any other.
async fn get_guild(State(world): W, Path(guild): Path<String>) -> Response {
    let Some(guild) = known_guild(&world, &guild) else {
        return error(404, 10004, "Unknown Guild");
    };
    let mut payload = payloads::guild(guild, Vec::new());
    payload["channels"] = guild_channels(&world, guild);
    Json(payload).into_response()
}

async fn get_guild_channels(State(world): W, Path(guild): Path<String>) -> Response {
    let Some(guild) = known_guild(&world, &guild) else {
        return error(404, 10004, "Unknown Guild");
    };
    Json(guild_channels(&world, guild)).into_response()
}

fn guild_channels(world: &World, guild: u64) -> Value {
    let c = payloads::channels(guild);
    [c.general, c.music, c.lounge]
        .into_iter()
        .map(|id| world.channel_payload(id))
        .collect()
}

async fn get_member(State(world): W, Path((guild, user)): Path<(String, String)>) -> Response {
    let known = |id: u64| id == BOT_ID || payloads::USERS.iter().any(|(uid, _, _)| *uid == id);
    match (known_guild(&world, &guild), parse_id(&user)) {
        (Some(_), Some(id)) if known(id) => Json(payloads::member(id)).into_response(),
        (Some(_), _) => error(404, 10007, "Unknown Member"),
        _ => error(404, 10004, "Unknown Guild"),
    }
}

async fn application(State(world): W) -> Response {
    Json(payloads::application(world.message_content_allowed())).into_response()
}

async fn channel(State(world): W, Path(channel): Path<String>) -> Response {
    match parse_id(&channel) {
        Some(id) if world.knows_channel(id) => Json(payloads::channel(id)).into_response(),
        _ => error(404, 10003, "Unknown Channel"),
    }
}

async fn create_message(
    State(world): W,
    Path(channel): Path<String>,
    Payload { body, files }: Payload,
) -> Response {
    let Some(channel) = parse_id(&channel) else {
        return error(404, 10003, "Unknown Channel");
    };
    let content = body["content"].as_str().unwrap_or_default();
    if content.chars().count() > 2000 {
        return error(400, 50035, "content: must be 2000 or fewer in length");
    }
    let empty = |field: &str| body[field].as_array().is_none_or(Vec::is_empty);
    if content.is_empty() && files.is_empty() && empty("embeds") && empty("components") {
        return error(400, 50006, "Cannot send an empty message");
    }
    if let Some(refusal) = components_refusal(&body, "") {
        return refusal;
    }
    Json(world.bot_post(channel, &body, &files)).into_response()
}

async fn get_message(State(world): W, Path((_, message)): Path<(String, String)>) -> Response {
    match parse_id(&message).and_then(|id| world.message(id)) {
        Some(m) => Json(m).into_response(),
        None => unknown_message(),
    }
}

async fn edit_message(
    State(world): W,
    Path((_, message)): Path<(String, String)>,
    Payload { body, files }: Payload,
) -> Response {
    if body["content"]
        .as_str()
        .is_some_and(|c| c.chars().count() > 2000)
    {
        return error(400, 50035, "content: must be 2000 or fewer in length");
    }
    if let Some(refusal) = components_refusal(&body, "") {
        return refusal;
    }
    match parse_id(&message).and_then(|id| world.bot_edit(id, &body, &files)) {
        Some(m) => Json(m).into_response(),
        None => unknown_message(),
    }
}

async fn delete_message(State(world): W, Path((_, message)): Path<(String, String)>) -> Response {
    match parse_id(&message).and_then(|id| world.bot_delete(id)) {
        Some(()) => StatusCode::NO_CONTENT.into_response(),
        None => unknown_message(),
    }
}

async fn no_content() -> Response {
    StatusCode::NO_CONTENT.into_response()
}

/// Interaction responses: 4 = message, 5 = deferred message, 6 = deferred update and
/// 7 = update of the message whose component was used, 8 = autocomplete result. An
/// interaction is acknowledged once; a refused response acknowledges nothing.
async fn interaction_callback(
    State(world): W,
    Path((_, token)): Path<(String, String)>,
    Payload { body, files }: Payload,
) -> Response {
    let Some(channel) = world.interaction_channel(&token) else {
        return error(404, 10062, "Unknown interaction");
    };
    if world.original(&token).is_some() {
        return error(400, 40060, "Interaction has already been acknowledged.");
    }
    let data = body.get("data").cloned().unwrap_or(json!({}));
    match body["type"].as_u64() {
        Some(4 | 5) => respond_with_message(&world, &token, channel, &data, &files),
        Some(kind @ (6 | 7)) => update_component_message(&world, &token, kind, &data, &files),
        Some(8) => respond_with_choices(&world, &token, &data),
        _ => error(400, 50035, "unsupported interaction response type"),
    }
}

/// Types 4 and 5: a new message in the interaction's channel, the original response.
fn respond_with_message(
    world: &World,
    token: &str,
    channel: u64,
    data: &Value,
    files: &[(String, Vec<u8>)],
) -> Response {
    if let Some(refusal) = components_refusal(data, "data.") {
        return refusal;
    }
    let msg = world.bot_post(channel, data, files);
    world.set_original(
        token,
        parse_id(msg["id"].as_str().unwrap_or("0")).unwrap_or(0),
    );
    StatusCode::NO_CONTENT.into_response()
}

/// Types 6 and 7, for component interactions only: the original response is the
/// message whose component was used (its later edits go through `@original`, as on
/// Discord); 7 also edits that message with `data` right away.
fn update_component_message(
    world: &World,
    token: &str,
    kind: u64,
    data: &Value,
    files: &[(String, Vec<u8>)],
) -> Response {
    let Some(message) = world.component_message(token) else {
        return error(
            400,
            50035,
            "Invalid Form Body (type: only for message component interactions)",
        );
    };
    if kind == 7 {
        if let Some(refusal) = components_refusal(data, "data.") {
            return refusal;
        }
        if world.bot_edit(message, data, files).is_none() {
            return unknown_message();
        }
    }
    world.set_original(token, message);
    StatusCode::NO_CONTENT.into_response()
}

/// Type 8: autocomplete choices, checked as Discord checks them.
fn respond_with_choices(world: &World, token: &str, data: &Value) -> Response {
    let choices = data["choices"].as_array().map_or(&[][..], Vec::as_slice);
    if let Some(problem) = choices_problem(choices) {
        return error(
            400,
            50035,
            &format!("Invalid Form Body (data.choices: {problem})"),
        );
    }
    world.set_original(token, 0);
    StatusCode::NO_CONTENT.into_response()
}

async fn followup(
    State(world): W,
    Path((_, token)): Path<(String, String)>,
    Payload { body, files }: Payload,
) -> Response {
    let Some(channel) = world.interaction_channel(&token) else {
        return error(404, 10015, "Unknown Webhook");
    };
    if let Some(refusal) = components_refusal(&body, "") {
        return refusal;
    }
    let mut msg = world.bot_post(channel, &body, &files);
    msg["webhook_id"] = json!(BOT_ID.to_string());
    Json(msg).into_response()
}

fn webhook_message_id(world: &World, token: &str, message: &str) -> Option<u64> {
    if message == "@original" {
        world.original(token).filter(|id| *id != 0)
    } else {
        parse_id(message)
    }
}

async fn get_webhook_message(
    State(world): W,
    Path((_, token, message)): Path<(String, String, String)>,
) -> Response {
    match webhook_message_id(&world, &token, &message).and_then(|id| world.message(id)) {
        Some(m) => Json(m).into_response(),
        None => unknown_message(),
    }
}

async fn edit_webhook_message(
    State(world): W,
    Path((_, token, message)): Path<(String, String, String)>,
    Payload { body, files }: Payload,
) -> Response {
    if let Some(refusal) = components_refusal(&body, "") {
        return refusal;
    }
    match webhook_message_id(&world, &token, &message)
        .and_then(|id| world.bot_edit(id, &body, &files))
    {
        Some(mut m) => {
            m["webhook_id"] = json!(BOT_ID.to_string());
            Json(m).into_response()
        }
        None => unknown_message(),
    }
}

async fn delete_webhook_message(
    State(world): W,
    Path((_, token, message)): Path<(String, String, String)>,
) -> Response {
    match webhook_message_id(&world, &token, &message).and_then(|id| world.bot_delete(id)) {
        Some(()) => StatusCode::NO_CONTENT.into_response(),
        None => unknown_message(),
    }
}

/// A bulk overwrite: all commands are checked as Discord checks them, and one invalid
/// command rejects the whole request (400), as on Discord.
fn put_commands(world: &World, guild: bool, body: Value) -> Response {
    if let Some(status) = world.take_registration_failure() {
        let message = match status {
            403 => "Missing Access",
            429 => "You are being rate limited.",
            _ => "Internal Server Error",
        };
        let code = if status == 403 { 50001 } else { 0 };
        return error(status, code, message);
    }
    let Some(commands) = body.as_array() else {
        return error(400, 50035, "expected an array of commands");
    };
    if let Some(problem) = commands_problem(commands) {
        return error(400, 50035, &format!("Invalid Form Body ({problem})"));
    }
    let rejected = commands.iter().position(|c| {
        c["name"]
            .as_str()
            .is_some_and(|name| world.rejects_command_named(name))
    });
    if let Some(i) = rejected {
        return error(
            400,
            50035,
            &format!("Invalid Form Body ({i}.name: rejected)"),
        );
    }
    Json(world.set_commands(guild, commands.clone())).into_response()
}

/// What Discord would reject in a bulk overwrite of chat-input commands, if anything:
/// at most 100 commands with distinct names, each named and described within limits,
/// with valid options (see [`options_problem`]).
fn commands_problem(commands: &[Value]) -> Option<String> {
    if commands.len() > 100 {
        return Some(format!("{} commands; at most 100", commands.len()));
    }
    let mut names = std::collections::HashSet::new();
    for (i, c) in commands.iter().enumerate() {
        let name = c["name"].as_str().unwrap_or_default();
        if !valid_name(name) {
            return Some(format!("{i}.name: invalid name {name:?}"));
        }
        if !names.insert(name) {
            return Some(format!("{i}.name: duplicate name {name:?}"));
        }
        if !valid_description(&c["description"]) {
            return Some(format!("{i}.description: must be 1 to 100 characters"));
        }
        if let Some(problem) = options_problem(&c["options"], &format!("{i}.options")) {
            return Some(problem);
        }
    }
    None
}

/// `^[-_\p{L}\p{N}]{1,32}$`, lowercase where a letter has a lowercase form.
fn valid_name(name: &str) -> bool {
    (1..=32).contains(&name.chars().count())
        && name
            .chars()
            .all(|c| (c.is_alphanumeric() || c == '-' || c == '_') && c.to_lowercase().eq([c]))
}

fn valid_description(description: &Value) -> bool {
    description
        .as_str()
        .is_some_and(|d| (1..=100).contains(&d.chars().count()))
}

/// Options (absent or null is fine): at most 25, distinct valid names, descriptions,
/// required before optional, autocomplete only on string, integer and number options
/// and never with choices, at most 25 choices of 1-100 character names; subcommands'
/// options checked the same way.
fn options_problem(options: &Value, path: &str) -> Option<String> {
    let options = options.as_array()?;
    if options.len() > 25 {
        return Some(format!("{path}: {} options; at most 25", options.len()));
    }
    let mut names = std::collections::HashSet::new();
    let mut optional_seen = false;
    for (i, o) in options.iter().enumerate() {
        let at = format!("{path}.{i}");
        let name = o["name"].as_str().unwrap_or_default();
        if !valid_name(name) {
            return Some(format!("{at}.name: invalid name {name:?}"));
        }
        if !names.insert(name) {
            return Some(format!("{at}.name: duplicate name {name:?}"));
        }
        if !valid_description(&o["description"]) {
            return Some(format!("{at}.description: must be 1 to 100 characters"));
        }
        let kind = o["type"].as_u64().unwrap_or(0);
        // 1 and 2: subcommand and subcommand group.
        if kind <= 2 {
            if let Some(problem) = options_problem(&o["options"], &format!("{at}.options")) {
                return Some(problem);
            }
            continue;
        }
        let required = o["required"].as_bool().unwrap_or(false);
        if required && optional_seen {
            return Some(format!(
                "{at}.required: required options must be placed before non-required options"
            ));
        }
        optional_seen |= !required;
        let choices = o["choices"].as_array().map_or(&[][..], Vec::as_slice);
        if o["autocomplete"].as_bool() == Some(true)
            && (!matches!(kind, 3 | 4 | 10) || !choices.is_empty())
        {
            return Some(format!(
                "{at}.autocomplete: only on string, integer and number options without choices"
            ));
        }
        if let Some(problem) = choices_problem(choices) {
            return Some(format!("{at}.choices: {problem}"));
        }
    }
    None
}

/// At most 25 choices, names of 1-100 characters, string values of at most 100.
fn choices_problem(choices: &[Value]) -> Option<String> {
    if choices.len() > 25 {
        return Some(format!("{} choices; at most 25", choices.len()));
    }
    choices.iter().enumerate().find_map(|(i, c)| {
        let name = c["name"].as_str().map_or(0, |n| n.chars().count());
        let value = c["value"].as_str().map_or(0, |v| v.chars().count());
        (!(1..=100).contains(&name) || value > 100)
            .then(|| format!("{i}: names must be 1 to 100 characters, values at most 100"))
    })
}

/// 400 Invalid Form Body when Discord would reject the `components` of message body
/// `body`; `at` is where the body sits in the request (`""`, or `"data."` in an
/// interaction response).
fn components_refusal(body: &Value, at: &str) -> Option<Response> {
    let problem = components_problem(&body["components"])?;
    Some(error(
        400,
        50035,
        &format!("Invalid Form Body ({at}{problem})"),
    ))
}

/// What Discord would reject in a message's `components` (absent or null is fine), if
/// anything: at most 5 action rows (see [`row_problem`]). The problem starts with the
/// field's path, as Discord names it (`components.0.components.1.custom_id: ...`).
pub(crate) fn components_problem(components: &Value) -> Option<String> {
    if components.is_null() {
        return None;
    }
    let Some(rows) = components.as_array() else {
        return Some("components: must be an array".into());
    };
    if rows.len() > 5 {
        return Some(format!("components: {} action rows; at most 5", rows.len()));
    }
    rows.iter()
        .enumerate()
        .find_map(|(i, row)| row_problem(row, &format!("components.{i}")))
}

/// An action row (type 1) of 1 to 5 buttons, or of one select menu alone (a select
/// takes the whole width of the row).
fn row_problem(row: &Value, at: &str) -> Option<String> {
    let children = row["components"].as_array().filter(|_| row["type"] == 1);
    let Some(children) = children else {
        return Some(format!(
            "{at}: must be an action row (type 1) with components"
        ));
    };
    if !(1..=5).contains(&children.len()) {
        return Some(format!(
            "{at}.components: {} components; must be 1 to 5",
            children.len()
        ));
    }
    if children.len() > 1 && children.iter().any(is_select) {
        return Some(format!(
            "{at}.components: a select menu must be alone in its action row"
        ));
    }
    children
        .iter()
        .enumerate()
        .find_map(|(i, c)| component_problem(c, &format!("{at}.components.{i}")))
}

/// Select menus: string (3), user (5), role (6), mentionable (7) and channel (8).
fn is_select(component: &Value) -> bool {
    matches!(component["type"].as_u64(), Some(3 | 5..=8))
}

/// A button or a select menu, each identified by the bot's `custom_id`; a string
/// select offers 1 to 25 options. Link (5) and premium (6) buttons carry a URL or a
/// SKU instead: pressing them reaches no bot.
fn component_problem(component: &Value, at: &str) -> Option<String> {
    match (component["type"].as_u64(), component["style"].as_u64()) {
        (Some(2), Some(5)) => component["url"]
            .as_str()
            .is_none()
            .then(|| format!("{at}.url: a link button needs a url")),
        (Some(2), Some(6)) => component["sku_id"]
            .is_null()
            .then(|| format!("{at}.sku_id: a premium button needs a sku_id")),
        (Some(2), _) => custom_id_problem(component, at),
        (Some(3), _) => custom_id_problem(component, at).or_else(|| {
            let options = component["options"].as_array().map_or(0, Vec::len);
            (!(1..=25).contains(&options))
                .then(|| format!("{at}.options: {options} options; must be 1 to 25"))
        }),
        _ if is_select(component) => custom_id_problem(component, at),
        _ => Some(format!("{at}.type: not a button or a select menu")),
    }
}

/// A `custom_id` of 1 to 100 characters: how the bot recognises the component when
/// it is used.
fn custom_id_problem(component: &Value, at: &str) -> Option<String> {
    match component["custom_id"].as_str().map(|id| id.chars().count()) {
        None | Some(0) => Some(format!("{at}.custom_id: required")),
        Some(101..) => Some(format!("{at}.custom_id: must be 100 or fewer in length")),
        Some(_) => None,
    }
}

async fn put_global_commands(State(world): W, Payload { body, .. }: Payload) -> Response {
    put_commands(&world, false, body)
}

async fn put_guild_commands(State(world): W, Payload { body, .. }: Payload) -> Response {
    put_commands(&world, true, body)
}

async fn get_global_commands(State(world): W) -> Response {
    Json(world.global_commands()).into_response()
}

async fn get_guild_commands(State(world): W) -> Response {
    Json(world.guild_commands()).into_response()
}

/// The bytes of an uploaded file (Discord's CDN, for attachment URLs). Not recorded as
/// a REST call: it is not part of the API.
async fn attachment(State(world): W, Path((id, _)): Path<(String, String)>) -> Response {
    match parse_id(&id).and_then(|id| world.file(id)) {
        Some(bytes) => bytes.into_response(),
        None => error(404, 0, "404: Not Found"),
    }
}

async fn unknown(req: Request) -> Response {
    tracing::warn!(path = %req.uri().path(), "local Discord server: unknown route");
    error(404, 0, "404: Not Found")
}

#[cfg(test)]
mod tests {
    use poise::serenity_prelude as serenity;

    use super::*;
    use crate::discord::LocalDiscord;
    use crate::discord::payloads::{ALICE, BOB, GENERAL};

    fn button(custom_id: &str) -> Value {
        json!({"type": 2, "style": 1, "label": "Go", "custom_id": custom_id})
    }

    fn select(options: usize) -> Value {
        let options: Vec<Value> = (0..options)
            .map(|i| json!({"label": format!("{i}"), "value": format!("{i}")}))
            .collect();
        json!({"type": 3, "custom_id": "pick", "options": options})
    }

    fn row(children: Vec<Value>) -> Value {
        json!({"type": 1, "components": children})
    }

    #[test]
    fn components_are_checked_like_discord() {
        let problem = |rows: Vec<Value>| components_problem(&json!(rows));
        let link = json!({"type": 2, "style": 5, "label": "Site", "url": "https://example.com"});
        assert_eq!(components_problem(&Value::Null), None);
        assert_eq!(problem(vec![]), None);
        let full = row((0..5).map(|i| button(&format!("b{i}"))).collect());
        assert_eq!(problem(vec![full.clone(); 5]), None);
        assert_eq!(problem(vec![row(vec![select(25)]), row(vec![link])]), None);
        assert_eq!(problem(vec![row(vec![button(&"x".repeat(100))])]), None);

        let refused = |rows: Vec<Value>, expected: &str| {
            let problem = problem(rows).expect(expected);
            assert!(problem.starts_with(expected), "{problem}");
        };
        refused(vec![full; 6], "components: 6 action rows");
        refused(vec![button("a")], "components.0: must be an action row");
        refused(
            vec![json!({"type": 1})],
            "components.0: must be an action row",
        );
        refused(vec![row(vec![])], "components.0.components: 0 components");
        let six = (0..6).map(|i| button(&format!("b{i}"))).collect();
        refused(vec![row(six)], "components.0.components: 6 components");
        refused(
            vec![row(vec![select(2), button("a")])],
            "components.0.components: a select menu must be alone",
        );
        let mut unnamed = button("a");
        unnamed.as_object_mut().unwrap().remove("custom_id");
        refused(
            vec![row(vec![button("a")]), row(vec![button("b"), unnamed])],
            "components.1.components.1.custom_id: required",
        );
        refused(
            vec![row(vec![button(&"x".repeat(101))])],
            "components.0.components.0.custom_id: must be 100 or fewer",
        );
        refused(
            vec![row(vec![select(0)])],
            "components.0.components.0.options: 0 options",
        );
        refused(
            vec![row(vec![select(26)])],
            "components.0.components.0.options: 26 options",
        );
        let text_input = json!({"type": 4, "custom_id": "t", "style": 1, "label": "T"});
        refused(
            vec![row(vec![text_input])],
            "components.0.components.0.type",
        );
    }

    /// The code of Discord's error answer, as serenity reports it.
    fn code(result: Result<impl std::fmt::Debug, serenity::Error>) -> isize {
        match result {
            Err(serenity::Error::Http(serenity::HttpError::UnsuccessfulRequest(e))) => e.error.code,
            other => panic!("expected a Discord error, got {other:?}"),
        }
    }

    /// Through serenity's own REST client: components are kept on post and edit, a
    /// press reaches the message's channel, and types 6 and 7 update that message.
    #[tokio::test]
    async fn components_are_kept_pressed_and_updated() {
        let server = LocalDiscord::start().await.unwrap();
        let world = server.world();
        let http = serenity::HttpBuilder::new("token")
            .proxy(server.base_url())
            .ratelimiter_disabled(true)
            .application_id(serenity::ApplicationId::new(BOT_ID))
            .build();
        let channel = serenity::ChannelId::new(GENERAL);
        let buttons = |id: &str| {
            vec![serenity::CreateActionRow::Buttons(vec![
                serenity::CreateButton::new(id).label("Go"),
            ])]
        };
        let page = serenity::CreateMessage::new()
            .content("page 1")
            .components(buttons("next"));
        let posted = channel.send_message(&http, page).await.unwrap();
        assert_eq!(posted.components.len(), 1);
        let id = posted.id.get();
        // An edit that leaves components out keeps them.
        let edit = serenity::EditMessage::new().content("page 1 again");
        channel.edit_message(&http, posted.id, edit).await.unwrap();
        assert_eq!(
            world.message(id).unwrap()["components"][0]["components"][0]["custom_id"],
            "next"
        );

        // Refused like Discord, and nothing is posted.
        let posts = world.bot_messages().len();
        let seven_rows = json!({"content": "x", "components": vec![row(vec![button("a")]); 7]});
        assert_eq!(
            code(http.send_message(channel, vec![], &seven_rows).await),
            50035
        );
        assert_eq!(world.bot_messages().len(), posts);
        // Components alone make a message.
        let only_components = json!({"components": [row(vec![button("a")])]});
        http.send_message(channel, vec![], &only_components)
            .await
            .unwrap();

        // A press, then an update of the message (type 7).
        assert_eq!(world.press(ALICE, 1, "next", &[], 1), None);
        let token = world.press(ALICE, id, "next", &[], 2).unwrap();
        assert_eq!(world.interaction_channel(&token), Some(GENERAL));
        let interaction = serenity::InteractionId::new(token["itok-".len()..].parse().unwrap());
        let update = serenity::CreateInteractionResponse::UpdateMessage(
            serenity::CreateInteractionResponseMessage::new()
                .content("page 2")
                .components(buttons("prev")),
        );
        http.create_interaction_response(interaction, &token, &update, vec![])
            .await
            .unwrap();
        let updated = world.message(id).unwrap();
        assert_eq!(updated["content"], "page 2");
        assert_eq!(
            updated["components"][0]["components"][0]["custom_id"],
            "prev"
        );
        assert_eq!(world.original(&token), Some(id));
        let ack = serenity::CreateInteractionResponse::Acknowledge;
        let again = http.create_interaction_response(interaction, &token, &ack, vec![]);
        assert_eq!(code(again.await), 40060);

        // A deferred update (type 6): @original is the message with the component.
        let token = world.press(BOB, id, "prev", &[], 1).unwrap();
        let interaction = serenity::InteractionId::new(token["itok-".len()..].parse().unwrap());
        http.create_interaction_response(interaction, &token, &ack, vec![])
            .await
            .unwrap();
        let edit = serenity::EditInteractionResponse::new().content("page 1");
        http.edit_original_interaction_response(&token, &edit, vec![])
            .await
            .unwrap();
        assert_eq!(world.message(id).unwrap()["content"], "page 1");

        // Types 6 and 7 answer component interactions only, and a refusal acknowledges
        // nothing.
        let token = world.slash(ALICE, "queue", json!([]), 1);
        let interaction = serenity::InteractionId::new(token["itok-".len()..].parse().unwrap());
        let deferred = http.create_interaction_response(interaction, &token, &ack, vec![]);
        assert_eq!(code(deferred.await), 50035);
        assert_eq!(world.original(&token), None);
    }
}
