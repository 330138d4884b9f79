//! Saved playlists and the listening history.
//!
//! - `/playlist save NAME`: the song playing and the queue, as your playlist NAME.
//! - `/playlist load NAME`: queues your playlist NAME, or else the server's.
//! - `/playlist list`: your playlists and the server's.
//! - `/playlist delete NAME`: deletes yours (or a server playlist you shared).
//! - `/playlist share NAME`: makes your playlist NAME the server's too.
//! - `/history`: the server's last songs, with a menu to queue one again.
//!
//! Everything lives in the plugin's kv (so in the bot's database: it survives restarts
//! and every bot process sees it). kv lists no keys, so each owner keeps an index of
//! its playlist names. A song is kept as what queues it again: its page URL, else its
//! source's id (which that source claims).

use minstrel_sdk::v2::{
    self, Command, CommandSpec, Context, Invocation, OptionKind, OptionSpec, PlayerEvent,
    PlayerEventKind, Press, PressAnswer, Reply, Track, escape, kv, player, reply, select, shorten,
};
use serde::{Deserialize, Serialize};

/// Songs kept in a playlist.
pub const MAX_SONGS: usize = 100;
/// Playlists per member, and per server.
pub const MAX_PLAYLISTS: usize = 25;
/// Songs kept in a server's history.
pub const HISTORY: usize = 25;
/// Songs `/history` shows.
const SHOWN: usize = 10;

/// One song, as it can be queued again.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Entry {
    pub title: String,
    pub query: String,
}

impl Entry {
    pub fn of(track: &Track) -> Self {
        Self {
            title: track.title.clone(),
            query: track.page_url.clone().unwrap_or_else(|| track.id.clone()),
        }
    }
}

/// A playlist and who made it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Playlist {
    pub by: u64,
    pub songs: Vec<Entry>,
}

/// Whose playlists: a member's, or a server's.
#[derive(Debug, Clone, Copy)]
enum Owner {
    Member(u64),
    Server(u64),
}

impl Owner {
    fn prefix(self) -> String {
        match self {
            Owner::Member(user) => format!("u{user}"),
            Owner::Server(guild) => format!("g{guild}"),
        }
    }
}

fn get<T: for<'a> Deserialize<'a>>(key: &str) -> Result<Option<T>, String> {
    match kv::get(key)? {
        Some(bytes) => serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|e| format!("a stored entry is unreadable: {e}")),
        None => Ok(None),
    }
}

fn put<T: Serialize>(key: &str, value: &T) -> Result<(), String> {
    let bytes = serde_json::to_vec(value).map_err(|e| e.to_string())?;
    kv::set(key, &bytes, None)
}

fn names(owner: Owner) -> Result<Vec<String>, String> {
    Ok(get(&format!("{}:names", owner.prefix()))?.unwrap_or_default())
}

fn playlist(owner: Owner, name: &str) -> Result<Option<Playlist>, String> {
    get(&format!("{}:list:{name}", owner.prefix()))
}

fn store(owner: Owner, name: &str, list: &Playlist) -> Result<(), String> {
    let mut all = names(owner)?;
    if !all.iter().any(|n| n == name) {
        if all.len() >= MAX_PLAYLISTS {
            return Err(format!(
                "there are already {MAX_PLAYLISTS} playlists: delete one first"
            ));
        }
        all.push(name.to_string());
        all.sort();
    }
    put(&format!("{}:list:{name}", owner.prefix()), list)?;
    put(&format!("{}:names", owner.prefix()), &all)
}

fn remove(owner: Owner, name: &str) -> Result<(), String> {
    let mut all = names(owner)?;
    all.retain(|n| n != name);
    kv::delete(&format!("{}:list:{name}", owner.prefix()))?;
    put(&format!("{}:names", owner.prefix()), &all)
}

/// A playlist name: 1 to 32 letters, digits, `-` or `_`, kept in lower case.
pub fn checked_name(name: Option<&str>) -> Result<String, String> {
    let name = name.map(str::trim).unwrap_or_default().to_lowercase();
    let fits = (1..=32).contains(&name.chars().count())
        && name
            .chars()
            .all(|c| c.is_alphanumeric() || c == '-' || c == '_');
    if fits {
        Ok(name)
    } else {
        Err("give the playlist a name of 1 to 32 letters, digits, `-` or `_`".into())
    }
}

fn history(guild: u64) -> Result<Vec<Entry>, String> {
    Ok(get(&format!("g{guild}:history"))?.unwrap_or_default())
}

/// The songs playing and queued in `guild`.
fn current_songs(guild: u64) -> Result<Vec<Entry>, String> {
    let mut songs: Vec<Entry> = player::now_playing(guild)?
        .map(|p| Entry::of(&p.track))
        .into_iter()
        .collect();
    songs.extend(player::queue(guild)?.iter().map(|q| Entry::of(&q.track)));
    songs.truncate(MAX_SONGS);
    Ok(songs)
}

fn playlist_command(invocation: &Invocation) -> Result<Reply, String> {
    let context = &invocation.context;
    let guild = context.guild()?;
    let me = Owner::Member(context.user_id);
    let server = Owner::Server(guild);
    let action = invocation
        .text("action")
        .unwrap_or("list")
        .trim()
        .to_lowercase();
    if action == "list" {
        let list = |names: Vec<String>| {
            if names.is_empty() {
                "none".to_string()
            } else {
                names.join(", ")
            }
        };
        return Ok(reply(format!(
            "Yours: {}\nThis server's: {}",
            list(names(me)?),
            list(names(server)?)
        ))
        .ephemeral());
    }
    let name = checked_name(invocation.text("name"))?;
    match action.as_str() {
        "save" => {
            let songs = current_songs(guild)?;
            if songs.is_empty() {
                return Err("nothing is playing or queued to save".into());
            }
            let n = songs.len();
            store(
                me,
                &name,
                &Playlist {
                    by: context.user_id,
                    songs,
                },
            )?;
            Ok(reply(format!(
                "Saved **{name}**: {n} songs. `/playlist share {name}` gives it to the server."
            )))
        }
        "load" => {
            let list = match playlist(me, &name)? {
                Some(list) => list,
                None => playlist(server, &name)?
                    .ok_or_else(|| format!("there is no playlist called {name}"))?,
            };
            let mut queued = 0;
            let mut failed = Vec::new();
            for song in &list.songs {
                match player::enqueue(guild, &song.query) {
                    Ok(_) => queued += 1,
                    // The first refusal (not in voice, a full queue) says it all.
                    Err(e) if queued == 0 => return Err(e),
                    Err(_) => failed.push(escape(&song.title)),
                }
            }
            let mut text = format!("Queued {queued} songs from **{name}**.");
            if !failed.is_empty() {
                text.push_str(&format!(" Left out: {}.", failed.join(", ")));
            }
            Ok(reply(text))
        }
        "delete" => {
            if playlist(me, &name)?.is_some() {
                remove(me, &name)?;
                return Ok(reply(format!("Deleted your playlist **{name}**.")).ephemeral());
            }
            match playlist(server, &name)? {
                Some(list) if list.by == context.user_id => {
                    remove(server, &name)?;
                    Ok(reply(format!("Deleted the server's playlist **{name}**.")))
                }
                Some(_) => Err("only the member who shared it may delete it".into()),
                None => Err(format!("there is no playlist called {name}")),
            }
        }
        "share" => {
            let list = playlist(me, &name)?
                .ok_or_else(|| format!("you have no playlist called {name}"))?;
            if let Some(existing) = playlist(server, &name)?
                && existing.by != context.user_id
            {
                return Err(format!("the server already has a playlist called {name}"));
            }
            store(server, &name, &list)?;
            Ok(reply(format!(
                "**{name}** is the server's now: `/playlist load {name}`."
            )))
        }
        other => Err(format!("`{other}`: say save, load, list, delete or share")),
    }
}

fn history_command(context: &Context) -> Result<Reply, String> {
    let guild = context.guild()?;
    let songs = history(guild)?;
    if songs.is_empty() {
        return Ok(reply("Nothing has played here yet.").ephemeral());
    }
    let lines: Vec<String> = songs
        .iter()
        .take(SHOWN)
        .enumerate()
        .map(|(i, s)| format!("{}. {}", i + 1, escape(&s.title)))
        .collect();
    let options = songs.iter().take(SHOWN).enumerate().map(|(i, s)| {
        (
            i.to_string(),
            shorten(&format!("{}. {}", i + 1, s.title), 100),
        )
    });
    Ok(reply(format!("Played here lately:\n{}", lines.join("\n")))
        .row([select("again", options).placeholder("Queue one again")]))
}

fn text_option(name: &str, description: &str, required: bool) -> OptionSpec {
    OptionSpec {
        name: name.into(),
        description: description.into(),
        kind: OptionKind::Text,
        required,
        autocomplete: false,
    }
}

struct Playlists;

impl Command for Playlists {
    fn commands() -> Vec<CommandSpec> {
        vec![
            CommandSpec {
                name: "playlist".into(),
                description: "Your playlists and the server's: save, load, list, delete, share"
                    .into(),
                options: vec![
                    text_option("action", "save, load, list, delete or share", true),
                    text_option("name", "The playlist's name", false),
                ],
            },
            CommandSpec {
                name: "history".into(),
                description: "The songs played here lately".into(),
                options: Vec::new(),
            },
        ]
    }

    fn run(invocation: Invocation) -> Result<Reply, String> {
        match invocation.command.as_str() {
            "playlist" => playlist_command(&invocation),
            "history" => history_command(&invocation.context),
            other => Err(format!("unknown command {other}")),
        }
    }

    fn on_press(press: Press) -> Result<PressAnswer, String> {
        let guild = press.context.guild()?;
        if press.id != "again" {
            return Err("no such control".into());
        }
        let songs = history(guild)?;
        let song = press
            .values
            .first()
            .and_then(|v| v.parse::<usize>().ok())
            .and_then(|i| songs.get(i))
            .ok_or("that song is no longer in the history")?;
        let answer = match player::enqueue(guild, &song.query) {
            Ok(track) => reply(format!("Queued **{}** again.", escape(&track.title))),
            Err(refused) => reply(refused).ephemeral(),
        };
        Ok(PressAnswer::Reply(answer))
    }

    fn on_player_event(event: PlayerEvent) {
        let (PlayerEventKind::TrackStarted, Some(track)) = (&event.kind, &event.track) else {
            return;
        };
        let key = format!("g{}:history", event.guild_id);
        let result = history(event.guild_id).and_then(|mut songs| {
            let entry = Entry::of(track);
            // A song resumed or looped is listed once, most recent first.
            songs.retain(|s| s.query != entry.query);
            songs.insert(0, entry);
            songs.truncate(HISTORY);
            put(&key, &songs)
        });
        if let Err(e) = result {
            v2::log::warn(&format!("could not keep the history: {e}"));
        }
    }
}

// A member's or a server's playlists: an index and up to 25 lists each.
v2::export_command!(Playlists, kv_quota = 100000, player_events = true);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_checked() {
        assert_eq!(
            checked_name(Some(" Road-Trip_2 ")),
            Ok("road-trip_2".into())
        );
        assert!(checked_name(None).is_err());
        assert!(checked_name(Some("two words")).is_err());
        assert!(checked_name(Some(&"x".repeat(33))).is_err());
    }

    #[test]
    fn a_song_is_kept_as_what_queues_it_again() {
        let mut track = Track {
            id: "dQw4w9WgXcQ".into(),
            title: "Never".into(),
            duration_ms: None,
            artwork_url: None,
            page_url: Some("https://www.youtube.com/watch?v=dQw4w9WgXcQ".into()),
        };
        assert_eq!(
            Entry::of(&track).query,
            "https://www.youtube.com/watch?v=dQw4w9WgXcQ"
        );
        track.page_url = None;
        assert_eq!(Entry::of(&track).query, "dQw4w9WgXcQ");
    }
}
