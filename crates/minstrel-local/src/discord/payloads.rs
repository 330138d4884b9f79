//! Discord object shapes as the local server sends them. Every field serenity 0.12
//! requires is present, and every field Discord's OpenAPI description marks required
//! (`tests/discord_openapi.rs` checks); ids are strings, timestamps RFC 3339 with an
//! offset.

use serde_json::{Value, json};

pub const BOT_ID: u64 = 1000;
pub const GUILD_ID: u64 = 2000;
/// A role granting Manage Server.
pub const ADMIN_ROLE: u64 = 2100;
/// A role named "DJ", granting nothing (the player's default `dj_role`).
pub const DJ_ROLE: u64 = 2101;
pub const OWNER_ID: u64 = 3999;
/// Users the local server knows: (id, name, roles).
pub const USERS: &[(u64, &str, &[u64])] = &[
    (3000, "alice", &[ADMIN_ROLE]),
    (3001, "bob", &[]),
    (3002, "carol", &[DJ_ROLE]),
    (3003, "dave", &[]),
];
pub const ALICE: u64 = 3000;
pub const BOB: u64 = 3001;
pub const CAROL: u64 = 3002;
pub const DAVE: u64 = 3003;
pub const GENERAL: u64 = 4000;
/// A voice channel (type 2) everyone, the bot included, may connect to and speak in.
pub const MUSIC: u64 = 4001;
/// A second voice channel, for moves between channels.
pub const LOUNGE: u64 = 4002;
/// The guild's voice channels.
pub const VOICE_CHANNELS: &[u64] = &[MUSIC, LOUNGE];
/// A snowflake's bits below its timestamp. An added guild's id has none set (see
/// [`added_guild`]); its channels are the guild's id plus 1, 2 and 3.
const BELOW_TIMESTAMP: u64 = (1 << 22) - 1;
/// @everyone: view, send, embed, attach, history, reactions, connect, speak.
const EVERYONE_PERMISSIONS: &str = "3263552";
const MANAGE_GUILD: &str = "32";
/// Connect (1 << 20) and Speak (1 << 21).
pub const CONNECT_AND_SPEAK: &str = "3145728";
/// Every permission bit, as sent for interactions' `member.permissions` of admins.
pub const ALL_PERMISSIONS: &str = "2251799813685247";

/// The id of the `n`th guild added to the world (`n` from 1): `n << 22`, so that
/// Discord's shard formula puts it on shard `n % count` (see [`shard_of`]).
pub fn added_guild(n: u64) -> u64 {
    n << 22
}

/// The shard of `count` that receives `guild`'s events, by Discord's formula.
pub fn shard_of(guild: u64, count: u64) -> u64 {
    (guild >> 22) % count.max(1)
}

/// A guild's channels: a text channel and two voice channels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Channels {
    pub general: u64,
    pub music: u64,
    pub lounge: u64,
}

/// The channels of `guild`: [`GENERAL`], [`MUSIC`] and [`LOUNGE`] for [`GUILD_ID`].
pub fn channels(guild: u64) -> Channels {
    if guild == GUILD_ID {
        return Channels {
            general: GENERAL,
            music: MUSIC,
            lounge: LOUNGE,
        };
    }
    Channels {
        general: guild + 1,
        music: guild + 2,
        lounge: guild + 3,
    }
}

/// The guild whose channel `channel` would be (whether that guild exists is the
/// world's to say).
pub fn guild_of(channel: u64) -> u64 {
    if [GENERAL, MUSIC, LOUNGE].contains(&channel) {
        GUILD_ID
    } else {
        channel & !BELOW_TIMESTAMP
    }
}

/// Whether `channel` is one of its guild's voice channels.
pub fn is_voice(channel: u64) -> bool {
    let c = channels(guild_of(channel));
    channel == c.music || channel == c.lounge
}

pub fn timestamp() -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    // Seconds since the epoch rendered as RFC 3339 (UTC), without a date library.
    let secs = now.as_secs();
    let (days, rem) = (secs / 86_400, secs % 86_400);
    let (y, m, d) = civil_from_days(days as i64);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{:06}+00:00",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60,
        now.subsec_micros()
    )
}

/// Howard Hinnant's days-to-civil algorithm.
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (
        if m <= 2 {
            yoe + era * 400 + 1
        } else {
            yoe + era * 400
        },
        m,
        d,
    )
}

pub fn user(id: u64) -> Value {
    if id == BOT_ID {
        return json!({"id": id.to_string(), "username": "minstrel", "bot": true,
                      "discriminator": "0", "global_name": "Minstrel", "avatar": null,
                      "public_flags": 0, "flags": 0, "primary_guild": null});
    }
    let name = USERS
        .iter()
        .find(|(uid, _, _)| *uid == id)
        .map(|(_, n, _)| n.to_string())
        .unwrap_or_else(|| format!("user{id}"));
    json!({"id": id.to_string(), "username": name, "discriminator": "0", "global_name": name,
           "avatar": null, "public_flags": 0, "flags": 0, "primary_guild": null})
}

pub fn roles_of(id: u64) -> Vec<String> {
    USERS
        .iter()
        .find(|(uid, _, _)| *uid == id)
        .map(|(_, _, roles)| roles.iter().map(u64::to_string).collect())
        .unwrap_or_default()
}

pub fn member(id: u64) -> Value {
    json!({"user": user(id), "roles": roles_of(id), "deaf": false, "mute": false, "flags": 0,
           "joined_at": "2024-01-01T00:00:00.000000+00:00"})
}

fn role(id: u64, name: &str, permissions: &str, position: u32) -> Value {
    json!({"id": id.to_string(), "name": name, "color": 0, "colors": {"primary_color": 0},
           "hoist": false, "managed": false, "mentionable": false,
           "permissions": permissions, "position": position})
}

pub fn channel(id: u64) -> Value {
    let guild = guild_of(id);
    let c = channels(guild);
    let name = match id {
        _ if id == c.music => "Music",
        _ if id == c.lounge => "Lounge",
        _ => "general",
    };
    if is_voice(id) {
        return json!({"id": id.to_string(), "type": 2, "name": name,
                      "guild_id": guild.to_string(), "position": 0,
                      "permission_overwrites": [], "nsfw": false, "bitrate": 64_000,
                      "user_limit": 0, "rtc_region": null});
    }
    json!({"id": id.to_string(), "type": 0, "name": name, "guild_id": guild.to_string(),
           "position": 0, "permission_overwrites": [], "nsfw": false})
}

/// A voice state (Discord's `VoiceStateResponse`) in `guild`; `channel: None` means
/// disconnected.
pub fn voice_state(
    guild: u64,
    user_id: u64,
    channel: Option<u64>,
    session_id: &str,
    self_mute: bool,
    self_deaf: bool,
) -> Value {
    json!({
        "guild_id": guild.to_string(), "channel_id": channel.map(|c| c.to_string()),
        "user_id": user_id.to_string(), "member": member(user_id), "session_id": session_id,
        "deaf": false, "mute": false, "self_deaf": self_deaf, "self_mute": self_mute,
        "self_stream": false, "self_video": false, "suppress": false,
        "request_to_speak_timestamp": null,
    })
}

/// VOICE_SERVER_UPDATE: where and with which token the user's voice client connects.
pub fn voice_server_update(guild: u64, token: &str, endpoint: &str) -> Value {
    json!({"token": token, "guild_id": guild.to_string(), "endpoint": endpoint})
}

/// GUILD_CREATE's guild `id`; `voice_states` as [`voice_state`] makes them (Discord
/// leaves out `guild_id` there). Every guild has the same members and roles.
pub fn guild(id: u64, voice_states: Vec<Value>) -> Value {
    let mut members = vec![member(BOT_ID)];
    members.extend(USERS.iter().map(|(id, _, _)| member(*id)));
    let name = if id == GUILD_ID {
        "Minstrel Dev".to_string()
    } else {
        format!("Guild {}", id >> 22)
    };
    let c = channels(id);
    json!({
        "id": id.to_string(), "name": name, "owner_id": OWNER_ID.to_string(),
        "verification_level": 0, "default_message_notifications": 0,
        "explicit_content_filter": 0,
        "roles": [role(id, "@everyone", EVERYONE_PERMISSIONS, 0),
                  role(ADMIN_ROLE, "Server Admin", MANAGE_GUILD, 1),
                  role(DJ_ROLE, "DJ", "0", 2)],
        "emojis": [], "features": [], "mfa_level": 0, "system_channel_flags": 0,
        "premium_tier": 0, "preferred_locale": "en-US", "nsfw_level": 0, "stickers": [],
        "premium_progress_bar_enabled": false,
        "joined_at": "2024-01-01T00:00:00.000000+00:00", "large": false,
        "member_count": members.len(), "voice_states": voice_states, "members": members,
        "channels": [channel(c.general), channel(c.music), channel(c.lounge)],
        "threads": [], "presences": [], "stage_instances": [], "guild_scheduled_events": [],
    })
}

/// READY for a session of shard `shard` (`[id, count]`) holding `guilds`.
pub fn ready(session_id: &str, resume_url: &str, guilds: &[u64], shard: [u64; 2]) -> Value {
    let guilds: Vec<Value> = guilds
        .iter()
        .map(|g| json!({"id": g.to_string(), "unavailable": true}))
        .collect();
    json!({
        "v": 10, "user": user(BOT_ID), "guilds": guilds,
        "session_id": session_id, "resume_gateway_url": resume_url, "shard": shard,
        "application": {"id": BOT_ID.to_string(), "flags": 0},
    })
}

/// The application; `message_content`: its Message Content intent is enabled ("limited",
/// as for a bot in fewer than 100 guilds: flag 1 << 19).
pub fn application(message_content: bool) -> Value {
    let flags: u64 = if message_content { 1 << 19 } else { 0 };
    json!({"id": BOT_ID.to_string(), "name": "Minstrel", "description": "", "icon": null,
           "type": null, "bot_public": false, "bot_require_code_grant": false,
           "verify_key": "00", "flags": flags, "flags_new": flags.to_string(), "redirect_uris": [],
           "interactions_endpoint_url": null, "role_connections_verification_url": null,
           "owner": user(OWNER_ID), "approximate_guild_count": 1,
           "approximate_user_install_count": 0, "approximate_user_authorization_count": 0,
           "explicit_content_filter": 0, "team": null, "eligible_oauth2_scopes": []})
}

/// A message object in `channel` (and its guild). `mentions` lists the users named as
/// `<@id>` in `content`.
pub fn message(id: u64, channel: u64, author: u64, content: &str, extra: Value) -> Value {
    let mentions: Vec<Value> = mentioned_ids(content).into_iter().map(user).collect();
    let mut msg = json!({
        "id": id.to_string(), "channel_id": channel.to_string(),
        "guild_id": guild_of(channel).to_string(),
        "author": user(author), "content": content, "timestamp": timestamp(),
        "edited_timestamp": null, "tts": false, "mention_everyone": false, "mentions": mentions,
        "mention_roles": [], "attachments": [], "embeds": [], "pinned": false, "type": 0,
        "flags": 0, "components": [],
    });
    if author != BOT_ID {
        msg["member"] = json!({"roles": roles_of(author), "deaf": false, "mute": false,
                               "flags": 0, "joined_at": "2024-01-01T00:00:00.000000+00:00"});
    }
    if let (Value::Object(m), Value::Object(e)) = (&mut msg, extra) {
        m.extend(e);
    }
    msg
}

pub fn mentioned_ids(content: &str) -> Vec<u64> {
    let mut ids = Vec::new();
    let mut rest = content;
    while let Some(start) = rest.find("<@") {
        rest = &rest[start + 2..];
        let digits: String = rest
            .trim_start_matches('!')
            .chars()
            .take_while(char::is_ascii_digit)
            .collect();
        if let Ok(id) = digits.parse::<u64>()
            && !ids.contains(&id)
        {
            ids.push(id);
        }
    }
    ids
}

/// An interaction in `channel`: `kind` 2 = slash command, 4 = autocomplete (3, a
/// component's, is [`component_interaction`]).
pub fn interaction(
    id: u64,
    token: &str,
    kind: u8,
    user_id: u64,
    channel_id: u64,
    data: Value,
) -> Value {
    let permissions = if roles_of(user_id).contains(&ADMIN_ROLE.to_string()) {
        ALL_PERMISSIONS
    } else {
        EVERYONE_PERMISSIONS
    };
    let mut member = member(user_id);
    member["permissions"] = json!(permissions);
    let mut data = data;
    if let Some(resolved) = resolved(guild_of(channel_id), &data["options"]) {
        data["resolved"] = resolved;
    }
    json!({
        "id": id.to_string(), "application_id": BOT_ID.to_string(), "type": kind, "data": data,
        "guild_id": guild_of(channel_id).to_string(), "channel_id": channel_id.to_string(),
        "channel": channel(channel_id), "member": member, "token": token, "version": 1,
        "app_permissions": ALL_PERMISSIONS, "locale": "en-US", "guild_locale": "en-US",
        "entitlements": [], "attachment_size_limit": 26_214_400,
    })
}

/// What Discord sends beside a command's user, channel and role options (and those of
/// its subcommands): the objects they name, under `resolved`. None without such options.
fn resolved(guild_id: u64, options: &Value) -> Option<Value> {
    let mut found = json!({});
    let mut stack: Vec<&Value> = options.as_array().into_iter().flatten().collect();
    while let Some(option) = stack.pop() {
        stack.extend(option["options"].as_array().into_iter().flatten());
        let Some(id) = option["value"]
            .as_str()
            .and_then(|v| v.parse::<u64>().ok())
            .or_else(|| option["value"].as_u64())
        else {
            continue;
        };
        let key = id.to_string();
        match option["type"].as_u64() {
            Some(6) => {
                found["users"][&key] = user(id);
                let mut member = member(id);
                member.as_object_mut().map(|m| m.remove("user"));
                found["members"][&key] = member;
            }
            Some(7) => {
                let mut channel = channel(id);
                channel["permissions"] = json!(ALL_PERMISSIONS);
                found["channels"][&key] = channel;
            }
            Some(8) => {
                let role = guild(guild_id, Vec::new())["roles"]
                    .as_array()
                    .and_then(|roles| roles.iter().find(|r| r["id"] == key.as_str()).cloned());
                if let Some(role) = role {
                    found["roles"][&key] = role;
                }
            }
            _ => {}
        }
    }
    (found.as_object().is_some_and(|m| !m.is_empty())).then_some(found)
}

/// A message component interaction (type 3): `user_id` used a component of `message`,
/// which sits in `channel_id`. Discord sends the whole message along, so the bot can
/// tell which of its messages (a queue page, a search result) the component belongs to.
pub fn component_interaction(
    id: u64,
    token: &str,
    user_id: u64,
    channel_id: u64,
    data: Value,
    message: Value,
) -> Value {
    let mut interaction = interaction(id, token, 3, user_id, channel_id, data);
    interaction["message"] = message;
    interaction
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_are_rfc3339() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(20_000), (2024, 10, 4));
        let t = timestamp();
        assert_eq!(t.len(), "2024-01-01T00:00:00.000000+00:00".len(), "{t}");
    }

    /// serenity drops a gateway payload it cannot parse without an error, so every
    /// shape the server sends is checked against serenity's own models here.
    #[test]
    fn serenity_parses_every_shape() {
        use poise::serenity_prelude as serenity;
        let parse = |t: &str, d: Value| {
            let frame = json!({"op": 0, "s": 1, "t": t, "d": d});
            let event: serenity::GatewayEvent = serde_json::from_value(frame).expect(t);
            match event {
                serenity::GatewayEvent::Dispatch(_, event) => {
                    assert!(
                        !matches!(event, serenity::Event::Unknown(_)),
                        "{t} not understood"
                    )
                }
                _ => panic!("{t} is not a dispatch"),
            }
        };
        parse(
            "READY",
            ready("s", "ws://127.0.0.1/gw", &[GUILD_ID], [0, 1]),
        );
        let mut in_voice = voice_state(GUILD_ID, BOB, Some(MUSIC), "s1", false, false);
        in_voice.as_object_mut().unwrap().remove("guild_id");
        parse("GUILD_CREATE", guild(GUILD_ID, vec![in_voice]));
        let dev: serenity::Guild = serde_json::from_value(guild(GUILD_ID, vec![])).unwrap();
        let music = &dev.channels[&serenity::ChannelId::new(MUSIC)];
        assert_eq!(music.kind, serenity::ChannelType::Voice);
        // An added guild: its own channels, and channels that say so.
        let other = added_guild(7);
        let added: serenity::Guild = serde_json::from_value(guild(other, vec![])).unwrap();
        let c = channels(other);
        assert_eq!(added.id.get(), other);
        assert_eq!(
            added.channels[&serenity::ChannelId::new(c.music)].kind,
            serenity::ChannelType::Voice
        );
        assert_eq!(
            added.channels[&serenity::ChannelId::new(c.general)]
                .guild_id
                .get(),
            other
        );
        assert_eq!(shard_of(other, 4), 3);
        // The bot's own voice state, joined and left, and the server update after op 4.
        for channel in [Some(MUSIC), None] {
            let d = voice_state(GUILD_ID, BOT_ID, channel, "s", false, true);
            let frame = json!({"op": 0, "s": 1, "t": "VOICE_STATE_UPDATE", "d": d});
            let event: serenity::GatewayEvent = serde_json::from_value(frame).unwrap();
            let serenity::GatewayEvent::Dispatch(_, serenity::Event::VoiceStateUpdate(e)) = event
            else {
                panic!("VOICE_STATE_UPDATE not understood")
            };
            assert_eq!(e.voice_state.channel_id.map(|c| c.get()), channel);
            assert_eq!(e.voice_state.user_id.get(), BOT_ID);
            assert_eq!(e.voice_state.session_id, "s");
        }
        let d = voice_server_update(GUILD_ID, "tok", "localhost:1234");
        let frame = json!({"op": 0, "s": 1, "t": "VOICE_SERVER_UPDATE", "d": d});
        let event: serenity::GatewayEvent = serde_json::from_value(frame).unwrap();
        let serenity::GatewayEvent::Dispatch(_, serenity::Event::VoiceServerUpdate(e)) = event
        else {
            panic!("VOICE_SERVER_UPDATE not understood")
        };
        assert_eq!(e.endpoint.as_deref(), Some("localhost:1234"));
        assert_eq!(e.guild_id.map(|g| g.get()), Some(GUILD_ID));
        parse(
            "MESSAGE_CREATE",
            message(1, GENERAL, ALICE, "hi <@1000>", json!({})),
        );
        let data = json!({"id": "1", "name": "hello", "type": 1,
                          "options": [{"name": "who", "type": 3, "value": "x"}]});
        parse(
            "INTERACTION_CREATE",
            interaction(2, "tok", 2, BOB, GENERAL, data),
        );
        let data = json!({"id": "1", "name": "hello", "type": 1,
                          "options": [{"name": "who", "type": 3, "value": "x", "focused": true}]});
        parse(
            "INTERACTION_CREATE",
            interaction(3, "tok", 4, ALICE, GENERAL, data),
        );
        // See serenity_parses_component_interactions for components in detail.
        let data = json!({"custom_id": "next", "component_type": 2});
        let on = message(5, GENERAL, BOT_ID, "page 1", json!({}));
        parse(
            "INTERACTION_CREATE",
            component_interaction(6, "tok", BOB, GENERAL, data, on),
        );
        let bot_reply = message(
            4,
            GENERAL,
            BOT_ID,
            "pong",
            json!({"message_reference":
            {"type": 0, "message_id": "1", "channel_id": GENERAL.to_string()}, "type": 19}),
        );
        let _: serenity::Message = serde_json::from_value(bot_reply).unwrap();
        let _: serenity::CurrentApplicationInfo =
            serde_json::from_value(application(true)).unwrap();
        let _: serenity::CurrentUser = serde_json::from_value(user(BOT_ID)).unwrap();
    }

    /// A press or a choice on a message the bot posted with serenity's own builders
    /// reaches the bot as `Interaction::Component`, the message and its components
    /// included (a payload serenity cannot parse would be dropped without a word).
    #[test]
    fn serenity_parses_component_interactions() {
        use poise::serenity_prelude as serenity;
        let rows = serde_json::to_value(vec![
            serenity::CreateActionRow::Buttons(vec![
                serenity::CreateButton::new("next").label("Next"),
                serenity::CreateButton::new_link("https://example.com").label("Site"),
            ]),
            serenity::CreateActionRow::SelectMenu(serenity::CreateSelectMenu::new(
                "pick",
                serenity::CreateSelectMenuKind::String {
                    options: vec![
                        serenity::CreateSelectMenuOption::new("A", "a"),
                        serenity::CreateSelectMenuOption::new("B", "b"),
                    ],
                },
            )),
        ])
        .unwrap();
        assert_eq!(crate::discord::rest::components_problem(&rows), None);
        let posted = message(5, MUSIC, BOT_ID, "page 1", json!({"components": rows}));
        let component = |d: Value| {
            let frame = json!({"op": 0, "s": 1, "t": "INTERACTION_CREATE", "d": d});
            match serde_json::from_value(frame).expect("INTERACTION_CREATE") {
                serenity::GatewayEvent::Dispatch(
                    _,
                    serenity::Event::InteractionCreate(serenity::InteractionCreateEvent {
                        interaction: serenity::Interaction::Component(c),
                        ..
                    }),
                ) => c,
                other => panic!("not a component interaction: {other:?}"),
            }
        };
        let data = json!({"custom_id": "next", "component_type": 2});
        let press = component(component_interaction(
            6,
            "tok",
            BOB,
            MUSIC,
            data,
            posted.clone(),
        ));
        assert_eq!(press.data.custom_id, "next");
        assert!(matches!(
            press.data.kind,
            serenity::ComponentInteractionDataKind::Button
        ));
        assert_eq!(press.channel_id.get(), MUSIC);
        assert_eq!(press.user.id.get(), BOB);
        assert_eq!(press.message.id.get(), 5);
        assert_eq!(press.message.components.len(), 2);
        assert_eq!(press.message.components[0].components.len(), 2);
        let data = json!({"custom_id": "pick", "component_type": 3, "values": ["b"]});
        let choice = component(component_interaction(7, "tok", ALICE, MUSIC, data, posted));
        let serenity::ComponentInteractionDataKind::StringSelect { values } = choice.data.kind
        else {
            panic!("not a string select: {:?}", choice.data.kind)
        };
        assert_eq!(values, ["b"]);
    }

    #[test]
    fn mentions_are_found() {
        assert_eq!(
            mentioned_ids("<@1000> hi <@!3000> <@1000>"),
            vec![1000, 3000]
        );
        assert!(mentioned_ids("no one").is_empty());
    }
}
