//! SponsorBlock for YouTube tracks: `/sponsorblock enabled:true` turns it on for the
//! server, announcing skips in the channel it was used in. When a YouTube track starts,
//! the segments the SponsorBlock API lists for the video (the operator's `categories`;
//! only those whose action is to skip) are looked up, once a day per video, and a timer
//! is set for the start of each; when it fires and the same track plays inside the
//! segment, the player seeks to its end (or skips the track if the segment runs to the
//! end) and the skip is announced.
//!
//! State in the plugin's kv: per guild, the channel to announce in (present: enabled);
//! per video, the segments (a day).

use minstrel_sdk::v2::{
    self, Command, CommandSpec, Invocation, OptionKind, OptionSpec, PlayerEvent, PlayerEventKind,
    Reply, Timer, clock, escape, http, kv, messages, player, reply, timers,
};
use serde::{Deserialize, Serialize};

const DEFAULT_BASE: &str = "https://sponsor.ajay.app";
/// Sponsors, self-promotion, reminders to subscribe, and the non-music part of music
/// videos.
const DEFAULT_CATEGORIES: &str = "sponsor,selfpromo,interaction,music_offtopic";
/// How long a video's segments are kept (new ones are submitted over time).
const SEGMENTS_TTL_SECONDS: u32 = 24 * 3600;
/// A timer firing this close before its segment still skips it (timers fire late, not
/// early, but playback may have drifted from the position the timer was set from).
const EARLY_MS: u64 = 300;
/// A segment ending this close to the track's end skips the track.
const TAIL_MS: u64 = 1_000;
/// While paused, look again this often.
const PAUSED_RETRY_MS: u64 = 2_000;

/// One entry of SponsorBlock's `/api/skipSegments` answer.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ApiSegment {
    pub category: String,
    #[serde(default = "skip_action")]
    pub action_type: String,
    /// Start and end, in seconds.
    pub segment: [f64; 2],
}

fn skip_action() -> String {
    "skip".into()
}

/// A segment to skip, in milliseconds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Segment {
    pub start_ms: u64,
    pub end_ms: u64,
    pub category: String,
}

/// The segments of an API answer to skip, in order (mutes, highlights and whole-video
/// labels are not skips).
pub fn segments(answer: Vec<ApiSegment>) -> Vec<Segment> {
    let mut found: Vec<Segment> = answer
        .into_iter()
        .filter(|s| s.action_type == "skip")
        .filter(|s| s.segment[0].is_finite() && s.segment[1] > s.segment[0])
        .map(|s| Segment {
            start_ms: (s.segment[0].max(0.0) * 1000.0).round() as u64,
            end_ms: (s.segment[1] * 1000.0).round() as u64,
            category: s.category,
        })
        .collect();
    found.sort_by_key(|s| s.start_ms);
    found
}

/// The categories to ask for, as the API's JSON list, percent-encoded.
pub fn categories_query(setting: &str) -> String {
    let names: Vec<&str> = setting
        .split(',')
        .map(str::trim)
        .filter(|c| !c.is_empty() && c.chars().all(|ch| ch.is_ascii_lowercase() || ch == '_'))
        .collect();
    http::encode(&serde_json::to_string(&names).expect("strings serialise"))
}

/// What a timer carries: which track and segment it is for.
#[derive(Debug, Serialize, Deserialize)]
struct Due {
    track: String,
    title: String,
    duration_ms: Option<u64>,
    segment: Segment,
}

/// What to do when a timer fires with the player at `position_ms` of the same track.
#[derive(Debug, PartialEq)]
pub enum Action {
    /// Not there yet: look again this much later.
    Wait(u64),
    /// Inside the segment: move to this position.
    SeekTo(u64),
    /// Inside a segment that runs to the end: skip the track.
    SkipTrack,
    /// Past it (skipped already, or the listener moved on).
    Nothing,
}

pub fn action(segment: &Segment, position_ms: u64, duration_ms: Option<u64>) -> Action {
    if position_ms + EARLY_MS < segment.start_ms {
        return Action::Wait(segment.start_ms - position_ms);
    }
    if position_ms >= segment.end_ms.saturating_sub(EARLY_MS) {
        return Action::Nothing;
    }
    match duration_ms {
        Some(duration) if segment.end_ms + TAIL_MS >= duration => Action::SkipTrack,
        _ => Action::SeekTo(segment.end_ms),
    }
}

fn channel_key(guild: u64) -> String {
    format!("channel:{guild}")
}

fn announce_channel(guild: u64) -> Option<u64> {
    kv::get_string(&channel_key(guild)).ok()??.parse().ok()
}

fn base() -> String {
    v2::config::get("base_url")
        .unwrap_or_else(|| DEFAULT_BASE.to_string())
        .trim_end_matches('/')
        .to_string()
}

/// The segments of `video`, from the kv or the API.
fn video_segments(video: &str) -> Result<Vec<Segment>, String> {
    let key = format!("video:{video}");
    if let Some(kept) = kv::get(&key)?
        && let Ok(found) = serde_json::from_slice(&kept)
    {
        return Ok(found);
    }
    let categories = v2::config::get("categories").unwrap_or_else(|| DEFAULT_CATEGORIES.into());
    let url = format!(
        "{}/api/skipSegments?videoID={}&categories={}",
        base(),
        http::encode(video),
        categories_query(&categories)
    );
    let response = http::get(&url).map_err(|e| format!("SponsorBlock is unreachable: {e}"))?;
    let found = match response.status {
        200 => segments(
            serde_json::from_slice(&response.body)
                .map_err(|e| format!("SponsorBlock answered something unexpected: {e}"))?,
        ),
        // No segments for this video.
        404 => Vec::new(),
        status => return Err(format!("SponsorBlock answered {status}")),
    };
    let kept = serde_json::to_vec(&found).expect("segments serialise");
    kv::set(&key, &kept, Some(SEGMENTS_TTL_SECONDS))?;
    Ok(found)
}

/// A track started: a timer for each segment still ahead.
fn track_started(event: &PlayerEvent) -> Result<(), String> {
    if announce_channel(event.guild_id).is_none() {
        return Ok(());
    }
    let Some(track) = &event.track else {
        return Ok(());
    };
    let Some(video) = track.page_url.as_deref().and_then(youtube_url::video_id) else {
        return Ok(());
    };
    for segment in video_segments(&video)? {
        if segment.end_ms <= event.position_ms {
            continue;
        }
        let due = Due {
            track: track.id.clone(),
            title: track.title.clone(),
            duration_ms: track.duration_ms,
            segment,
        };
        let after = due.segment.start_ms.saturating_sub(event.position_ms);
        timers::after(after, &serde_json::to_vec(&due).expect("serialises"))?;
    }
    Ok(())
}

fn segment_due(guild: u64, due: Due) -> Result<(), String> {
    let Some(channel) = announce_channel(guild) else {
        return Ok(());
    };
    let Some(now) = player::now_playing(guild)? else {
        return Ok(());
    };
    if now.track.id != due.track {
        return Ok(());
    }
    let again = |after: u64| timers::after(after, &serde_json::to_vec(&due).expect("serialises"));
    if now.paused {
        again(PAUSED_RETRY_MS)?;
        return Ok(());
    }
    let what = match action(&due.segment, now.position_ms, due.duration_ms) {
        Action::Wait(after) => {
            again(after)?;
            return Ok(());
        }
        Action::Nothing => return Ok(()),
        Action::SeekTo(end) => {
            player::seek(guild, end)?;
            "skipped"
        }
        Action::SkipTrack => {
            player::skip(guild)?;
            "skipped to the next song at"
        }
    };
    let segment = &due.segment;
    let text = format!(
        "⏭ SponsorBlock: {what} the {} segment ({} to {}) of **{}**",
        segment.category.replace('_', " "),
        clock(segment.start_ms),
        clock(segment.end_ms),
        escape(&due.title)
    );
    messages::send_text(channel, text)?;
    Ok(())
}

struct SponsorBlock;

impl Command for SponsorBlock {
    fn commands() -> Vec<CommandSpec> {
        vec![CommandSpec {
            name: "sponsorblock".into(),
            description: "Skip sponsors and other segments of YouTube videos, announced here"
                .into(),
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
            let channel = invocation.context.channel_id;
            kv::set(&channel_key(guild), channel.to_string().as_bytes(), None)?;
            Ok(reply(
                "SponsorBlock is on: segments of YouTube videos are skipped from the next \
                 song on, and each skip is announced here.",
            ))
        } else {
            kv::delete(&channel_key(guild))?;
            Ok(reply("SponsorBlock is off for this server."))
        }
    }

    fn on_player_event(event: PlayerEvent) {
        if !matches!(event.kind, PlayerEventKind::TrackStarted) {
            return;
        }
        if let Err(e) = track_started(&event) {
            v2::log::warn(&format!("segments not looked up: {e}"));
        }
    }

    fn on_timer(timer: Timer) {
        let Some(guild) = timer.guild_id else { return };
        let Ok(due) = serde_json::from_slice::<Due>(&timer.payload) else {
            return;
        };
        if let Err(e) = segment_due(guild, due) {
            v2::log::warn(&format!("segment not skipped: {e}"));
        }
    }
}

// A channel per guild and the segments of each video played in a day.
v2::export_command!(
    SponsorBlock,
    http = ["sponsor.ajay.app"],
    kv_quota = 50000,
    settings = [
        "base_url": "A SponsorBlock-compatible API (default https://sponsor.ajay.app)",
        "categories": "Comma-separated categories to skip (default sponsor,selfpromo,interaction,music_offtopic)",
    ],
    player_events = true,
);

#[cfg(test)]
mod tests {
    use super::*;

    fn segment(start_ms: u64, end_ms: u64) -> Segment {
        Segment {
            start_ms,
            end_ms,
            category: "sponsor".into(),
        }
    }

    #[test]
    fn only_skips_are_kept_in_order() {
        let answer: Vec<ApiSegment> = serde_json::from_str(
            r#"[
              {"category":"music_offtopic","actionType":"skip","segment":[40.5,52.25],"UUID":"b"},
              {"category":"sponsor","actionType":"mute","segment":[60,70],"UUID":"c"},
              {"category":"poi_highlight","actionType":"poi","segment":[80,80],"UUID":"d"},
              {"category":"sponsor","actionType":"skip","segment":[3,9.5],"UUID":"a","votes":4}
            ]"#,
        )
        .unwrap();
        let found = segments(answer);
        assert_eq!(
            found
                .iter()
                .map(|s| (s.start_ms, s.end_ms))
                .collect::<Vec<_>>(),
            [(3_000, 9_500), (40_500, 52_250)]
        );
        assert_eq!(found[1].category, "music_offtopic");
    }

    #[test]
    fn categories_are_a_json_list_and_nothing_else() {
        assert_eq!(
            categories_query(" sponsor, music_offtopic ,,"),
            "%5B%22sponsor%22%2C%22music_offtopic%22%5D"
        );
        assert_eq!(categories_query("sponsor\"],x"), "%5B%22x%22%5D");
    }

    #[test]
    fn a_due_timer_seeks_waits_or_lets_be() {
        let s = segment(3_000, 9_000);
        assert_eq!(action(&s, 3_050, Some(60_000)), Action::SeekTo(9_000));
        assert_eq!(action(&s, 2_800, Some(60_000)), Action::SeekTo(9_000));
        assert_eq!(action(&s, 1_000, Some(60_000)), Action::Wait(2_000));
        assert_eq!(action(&s, 8_900, Some(60_000)), Action::Nothing);
        assert_eq!(action(&s, 20_000, None), Action::Nothing);
        assert_eq!(action(&s, 4_000, Some(9_500)), Action::SkipTrack);
        assert_eq!(action(&s, 4_000, None), Action::SeekTo(9_000));
    }
}
