//! Autoplay: `/autoplay enabled:true` turns it on for the server, announcing in the
//! channel it was used in. When the last song of the queue finishes (or is skipped),
//! a related song is queued: the first of YouTube's mix for the last video (through the
//! host's media service) not played lately, else the first such result of a YouTube
//! search for the last song's title. A queue that was stopped, or whose last song
//! failed, stays quiet.
//!
//! State in the plugin's kv, per guild: the channel (present: enabled), the last song
//! started (its page and title), how the last song ended, and the videos played lately.

use minstrel_sdk::v2::media::{self, MediaEntry, SearchSite};
use minstrel_sdk::v2::{
    self, Command, CommandSpec, EndReason, Invocation, OptionKind, OptionSpec, PlayerEvent,
    PlayerEventKind, Reply, escape, kv, messages, player, reply,
};

/// Videos remembered per guild so autoplay does not go round in circles.
const RECENT: usize = 25;
/// Search results looked through when the mix gives nothing new.
const SEARCH_RESULTS: u32 = 5;

fn key(what: &str, guild: u64) -> String {
    format!("{what}:{guild}")
}

fn get(what: &str, guild: u64) -> Option<String> {
    kv::get_string(&key(what, guild)).ok()?
}

fn set(what: &str, guild: u64, value: &str) -> Result<(), String> {
    kv::set(&key(what, guild), value.as_bytes(), None)
}

/// The videos played lately, newest last.
fn recent(guild: u64) -> Vec<String> {
    get("recent", guild)
        .map(|r| r.split(',').map(String::from).collect())
        .unwrap_or_default()
}

/// Remembers that `video` played.
fn played(guild: u64, video: &str) -> Result<(), String> {
    let mut ids = recent(guild);
    ids.retain(|id| id != video);
    ids.push(video.to_string());
    let from = ids.len().saturating_sub(RECENT);
    set("recent", guild, &ids[from..].join(","))
}

/// YouTube's mix for `video`: the watch URL with `list=RD` and the id.
pub fn mix_url(video: &str) -> String {
    format!("https://www.youtube.com/watch?v={video}&list=RD{video}")
}

/// The first entry that is a YouTube video not among `recent` (the mix starts with its
/// own video).
pub fn pick(entries: Vec<MediaEntry>, recent: &[String]) -> Option<(String, MediaEntry)> {
    entries.into_iter().find_map(|entry| {
        let id = youtube_url::video_id(&entry.page_url)?;
        (!recent.contains(&id)).then_some((id, entry))
    })
}

/// A related song for the last one played in `guild`.
fn related(guild: u64) -> Result<Option<(String, MediaEntry)>, String> {
    let recent = recent(guild);
    let last_page = get("page", guild).unwrap_or_default();
    if let Some(video) = youtube_url::video_id(&last_page) {
        match media::probe(&mix_url(&video)) {
            Ok(mix) => {
                if let Some(found) = pick(mix.entries, &recent) {
                    return Ok(Some(found));
                }
            }
            Err(e) => v2::log::info(&format!("no mix for {video}: {e}")),
        }
    }
    let Some(title) = get("title", guild).filter(|t| !t.trim().is_empty()) else {
        return Ok(None);
    };
    let results = media::search(SearchSite::Youtube, &title, SEARCH_RESULTS)?;
    Ok(pick(results, &recent))
}

/// The queue ran out: queue something related, if autoplay is on and the queue was not
/// stopped.
fn queue_ended(guild: u64) -> Result<(), String> {
    let Some(channel) = get("channel", guild).and_then(|c| c.parse::<u64>().ok()) else {
        return Ok(());
    };
    if get("ended", guild).as_deref() != Some("go") {
        return Ok(());
    }
    let Some((video, entry)) = related(guild)? else {
        messages::send_text(channel, "Autoplay found nothing related to play next.")?;
        return Ok(());
    };
    let track = player::enqueue(guild, &entry.page_url)?;
    played(guild, &video)?;
    messages::send_text(
        channel,
        format!("🔀 Autoplay: queued **{}**", escape(&track.title)),
    )?;
    Ok(())
}

fn on_event(event: &PlayerEvent) -> Result<(), String> {
    let guild = event.guild_id;
    match &event.kind {
        PlayerEventKind::TrackStarted => {
            let Some(track) = &event.track else {
                return Ok(());
            };
            let page = track.page_url.clone().unwrap_or_default();
            set("page", guild, &page)?;
            set("title", guild, &track.title)?;
            if let Some(video) = youtube_url::video_id(&page) {
                played(guild, &video)?;
            }
            Ok(())
        }
        PlayerEventKind::TrackEnded(reason) => {
            let go = matches!(reason, EndReason::Finished | EndReason::Skipped);
            set("ended", guild, if go { "go" } else { "quiet" })
        }
        PlayerEventKind::QueueEnded => queue_ended(guild),
        PlayerEventKind::JoinedVoice(_) | PlayerEventKind::LeftVoice => Ok(()),
    }
}

struct Autoplay;

impl Command for Autoplay {
    fn commands() -> Vec<CommandSpec> {
        vec![CommandSpec {
            name: "autoplay".into(),
            description: "When the queue runs out, play something related to the last song".into(),
            options: vec![OptionSpec {
                name: "enabled".into(),
                description: "On (announced in this channel) or off for this server".into(),
                kind: OptionKind::Boolean,
                required: true,
                autocomplete: false,
            }],
        }]
    }

    fn run(invocation: Invocation) -> Result<Reply, String> {
        let guild = invocation.context.guild()?;
        let enabled = matches!(
            invocation.option("enabled"),
            Some(v2::OptionValue::Boolean(true))
        );
        if enabled {
            set("channel", guild, &invocation.context.channel_id.to_string())?;
            Ok(reply(
                "Autoplay is on: when the queue runs out, a related song plays, announced here.",
            ))
        } else {
            kv::delete(&key("channel", guild))?;
            Ok(reply("Autoplay is off for this server."))
        }
    }

    fn on_player_event(event: PlayerEvent) {
        if let Err(e) = on_event(&event) {
            v2::log::warn(&format!("autoplay: {e}"));
        }
    }
}

// Five entries per guild.
v2::export_command!(Autoplay, kv_quota = 50000, player_events = true);

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(page_url: &str) -> MediaEntry {
        MediaEntry {
            title: page_url.into(),
            duration_ms: None,
            artwork_url: None,
            page_url: page_url.into(),
        }
    }

    #[test]
    fn the_first_video_not_played_lately_is_picked() {
        let mix = vec![
            entry("https://www.youtube.com/watch?v=dQw4w9WgXcQ"),
            entry("https://www.youtube.com/channel/UC38IQsAvIsxxjztdMZQtwHA"),
            entry("https://www.youtube.com/watch?v=9bZkp7q19f0"),
            entry("https://www.youtube.com/watch?v=kJQP7kiw5Fk"),
        ];
        let recent = vec!["9bZkp7q19f0".to_string(), "dQw4w9WgXcQ".to_string()];
        let (id, found) = pick(mix, &recent).unwrap();
        assert_eq!(id, "kJQP7kiw5Fk");
        assert_eq!(
            found.page_url,
            "https://www.youtube.com/watch?v=kJQP7kiw5Fk"
        );
        assert!(pick(vec![entry("https://example.com/a.ogg")], &[]).is_none());
        assert_eq!(
            mix_url("dQw4w9WgXcQ"),
            "https://www.youtube.com/watch?v=dQw4w9WgXcQ&list=RDdQw4w9WgXcQ"
        );
    }
}
