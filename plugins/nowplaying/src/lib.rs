//! Now playing with controls. `/controls` posts one message in the channel it is used
//! in; from then on that message follows the guild's player: the song, a progress bar
//! (refreshed every few seconds while playing), who asked for it, and buttons to pause
//! or resume, skip, cycle the loop mode and stop, with a menu of the next songs to jump
//! to. A press acts once however many bot processes see it (the host claims it).
//!
//! `/controls lyrics:true` adds the song's synced lyrics (from an LRCLIB-compatible API,
//! `base_url`): the line sung now and the next, the message refreshed as lines change
//! (at most every 1.5 s; Discord limits edits).
//!
//! State, per guild, in the plugin's kv: the channel and message to keep up to date,
//! the loop mode last set here, whether lyrics are shown, and a marker while a refresh
//! timer is pending (so one chain of timers runs per guild); per song, its synced lyrics
//! (a day).

use minstrel_sdk::v2::player::{self, LoopMode, Playing, Queued};
use minstrel_sdk::v2::{
    self, ButtonStyle, Command, CommandSpec, Invocation, OptionKind, OptionSpec, PlayerEvent,
    PlayerEventKind, Press, PressAnswer, Reply, Timer, button, clock, escape, kv, messages, reply,
    select, shorten, timers,
};

/// How often the message is refreshed while a song plays.
const REFRESH_MS: u64 = 5_000;
/// The soonest refresh while lyrics follow the song.
const LYRICS_REFRESH_MS: u64 = 1_500;
/// How long a song's synced lyrics (or their absence) are kept.
const LYRICS_TTL_SECONDS: u32 = 24 * 3600;
/// Songs offered in the jump menu (Discord allows 25 options).
const MENU: usize = 10;
/// Width of the progress bar, in characters.
const BAR: usize = 20;

struct NowPlaying;

fn key(what: &str, guild: u64) -> String {
    format!("{what}:{guild}")
}

fn get_u64(what: &str, guild: u64) -> Option<u64> {
    kv::get_string(&key(what, guild)).ok()??.parse().ok()
}

fn set_u64(what: &str, guild: u64, value: u64, ttl_seconds: Option<u32>) -> Result<(), String> {
    kv::set(&key(what, guild), value.to_string().as_bytes(), ttl_seconds)
}

/// The loop mode last set with the button (the host's `!loop` may have changed it since;
/// the next press sets it from this one).
fn loop_mode(guild: u64) -> LoopMode {
    match get_u64("loop", guild) {
        Some(1) => LoopMode::Track,
        Some(2) => LoopMode::Queue,
        _ => LoopMode::Off,
    }
}

fn next_loop(mode: LoopMode) -> (LoopMode, u64) {
    match mode {
        LoopMode::Off => (LoopMode::Track, 1),
        LoopMode::Track => (LoopMode::Queue, 2),
        LoopMode::Queue => (LoopMode::Off, 0),
    }
}

/// `[=====>--------------] 1:02 / 3:30`, or the position alone when the length is not
/// known.
pub fn progress(position_ms: u64, duration_ms: Option<u64>) -> String {
    let Some(duration) = duration_ms.filter(|d| *d > 0) else {
        return clock(position_ms);
    };
    let done = ((position_ms.min(duration) as f64 / duration as f64) * BAR as f64).round() as usize;
    let bar: String = (0..BAR)
        .map(|i| match i.cmp(&done) {
            std::cmp::Ordering::Less => '=',
            std::cmp::Ordering::Equal => '>',
            std::cmp::Ordering::Greater => '-',
        })
        .collect();
    format!("`[{bar}]` {} / {}", clock(position_ms), clock(duration))
}

/// The synced lyrics of the song playing, kept per song (an empty list: none found).
fn lyrics_of(track: &v2::Track) -> Vec<(u64, String)> {
    // Track ids may be long URLs: the key is a hash of the id.
    let key = format!("lrc:{:016x}", fnv1a(&track.id));
    if let Some(kept) = kv::get(&key).ok().flatten()
        && let Ok(lines) = serde_json::from_slice(&kept)
    {
        return lines;
    }
    let lines = match lrclib::search(&track.title) {
        Ok(record) => record
            .and_then(|r| r.synced_lyrics)
            .map(|text| lrclib::synced(&text))
            .unwrap_or_default(),
        Err(e) => {
            v2::log::warn(&format!("no lyrics: {e}"));
            return Vec::new();
        }
    };
    let kept = serde_json::to_vec(&lines).expect("serialises");
    let _ = kv::set(&key, &kept, Some(LYRICS_TTL_SECONDS));
    lines
}

fn fnv1a(text: &str) -> u64 {
    text.bytes().fold(0xcbf2_9ce4_8422_2325, |hash, byte| {
        (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// The lines sung at `position_ms` and next (for the message), and when the next
/// begins.
pub fn sung(lines: &[(u64, String)], position_ms: u64) -> (String, Option<u64>) {
    let now = lrclib::line_at(lines, position_ms);
    let next = now.map_or(0, |i| i + 1);
    let mut text = match now {
        Some(i) if !lines[i].1.is_empty() => format!("🎤 **{}**", escape(&lines[i].1)),
        _ => "🎤 …".to_string(),
    };
    if let Some((_, line)) = lines.get(next).filter(|(_, line)| !line.is_empty()) {
        text.push_str(&format!("\n-# {}", escape(line)));
    }
    (text, lines.get(next).map(|(ms, _)| *ms))
}

/// The message for what plays now and what comes next, with the lyrics line when given.
pub fn view(
    playing: Option<&Playing>,
    next: &[Queued],
    mode: LoopMode,
    on_air: Option<&str>,
    lyrics: Option<&str>,
) -> Reply {
    let Some(now) = playing else {
        return reply("⏹ Nothing is playing. `/play` something, and this message follows it.");
    };
    let state = if now.paused {
        "⏸ Paused"
    } else {
        "▶ Now playing"
    };
    let looping = match mode {
        LoopMode::Off => "",
        LoopMode::Track => " · 🔂 looping the song",
        LoopMode::Queue => " · 🔁 looping the queue",
    };
    let mut content = format!(
        "{state}: **{}**\n{}\nRequested by <@{}> · {} up next{looping}",
        escape(&now.track.title),
        progress(now.position_ms, now.track.duration_ms),
        now.requested_by,
        next.len(),
    );
    if let Some(title) = on_air {
        content.push_str(&format!("\n📻 Now on air: **{}**", escape(title)));
    }
    if let Some(lyrics) = lyrics {
        content.push_str("\n\n");
        content.push_str(lyrics);
    }
    let pause = if now.paused {
        button("pause", "Resume").style(ButtonStyle::Success)
    } else {
        button("pause", "Pause").style(ButtonStyle::Secondary)
    };
    let mut message = reply(content).row([
        pause,
        button("skip", "Skip"),
        button("loop", "Loop").style(ButtonStyle::Secondary),
        button("stop", "Stop").style(ButtonStyle::Danger),
    ]);
    if !next.is_empty() {
        let options = next.iter().take(MENU).enumerate().map(|(i, q)| {
            (
                i.to_string(),
                shorten(&format!("{}. {}", i + 1, q.track.title), 100),
            )
        });
        message = message.row([select("jump", options).placeholder("Jump to a song up next")]);
    }
    message
}

/// The guild's message now, and how soon it needs refreshing: while a song plays (not
/// paused), every few seconds, or as the next line of its lyrics begins.
fn current_view(guild: u64) -> Result<(Reply, Option<u64>), String> {
    let playing = player::now_playing(guild)?;
    let (next, on_air) = if playing.is_some() {
        (player::queue(guild)?, player::on_air(guild)?)
    } else {
        (Vec::new(), None)
    };
    let lyrics = match &playing {
        Some(now) if get_u64("lyrics", guild) == Some(1) => {
            let lines = lyrics_of(&now.track);
            (!lines.is_empty()).then(|| sung(&lines, now.position_ms))
        }
        _ => None,
    };
    let refresh = playing.as_ref().filter(|p| !p.paused).map(|now| {
        match lyrics.as_ref().and_then(|(_, next)| *next) {
            // A little after the line begins, so the timer does not land just before.
            Some(at) => (at + 100)
                .saturating_sub(now.position_ms)
                .clamp(LYRICS_REFRESH_MS, REFRESH_MS),
            None => REFRESH_MS,
        }
    });
    let line = lyrics.as_ref().map(|(text, _)| text.as_str());
    Ok((
        view(
            playing.as_ref(),
            &next,
            loop_mode(guild),
            on_air.as_deref(),
            line,
        ),
        refresh,
    ))
}

/// Brings the guild's message up to date (posting a new one if it was deleted), and
/// keeps one refresh timer pending while something plays.
fn refresh(guild: u64) -> Result<(), String> {
    let Some(channel) = get_u64("channel", guild) else {
        return Ok(());
    };
    let (message, refresh) = current_view(guild)?;
    let edited = match get_u64("message", guild) {
        Some(id) => messages::edit(channel, id, &message).is_ok(),
        None => false,
    };
    if !edited {
        let id = messages::send(channel, &message)?;
        set_u64("message", guild, id, None)?;
    }
    keep_refreshing(guild, refresh)
}

/// Schedules the next refresh `after` milliseconds from now (None: none needed) unless
/// one is pending.
fn keep_refreshing(guild: u64, after: Option<u64>) -> Result<(), String> {
    let Some(after) = after else { return Ok(()) };
    if get_u64("timer", guild).is_some() {
        return Ok(());
    }
    let id = timers::after(after, &guild.to_be_bytes())?;
    // Expires on its own should the timer never fire (the plugin removed meanwhile).
    set_u64("timer", guild, id, Some((REFRESH_MS / 1000 * 3) as u32))
}

/// What a press asks of the player.
fn act(guild: u64, press: &Press) -> Result<(), String> {
    match press.id.as_str() {
        "pause" => {
            let paused = player::now_playing(guild)?.is_some_and(|p| p.paused);
            player::pause(guild, !paused)
        }
        "skip" => player::skip(guild).map(drop),
        "loop" => {
            let (mode, stored) = next_loop(loop_mode(guild));
            player::set_loop(guild, mode)?;
            set_u64("loop", guild, stored, None)
        }
        "stop" => player::stop(guild),
        "jump" => {
            let index: usize = press
                .values
                .first()
                .and_then(|v| v.parse().ok())
                .ok_or("choose a song")?;
            // Skipping the current song and the ones before the chosen one.
            for _ in 0..=index {
                player::skip(guild)?;
            }
            Ok(())
        }
        _ => Err("no such control".into()),
    }
}

impl Command for NowPlaying {
    fn commands() -> Vec<CommandSpec> {
        vec![CommandSpec {
            name: "controls".into(),
            description: "Post the now-playing message with controls here; it stays up to date"
                .into(),
            options: vec![OptionSpec {
                name: "lyrics".into(),
                description:
                    "Show the synced lyrics of the song, following it (default: as before)".into(),
                kind: OptionKind::Boolean,
                required: false,
                autocomplete: false,
            }],
        }]
    }

    fn run(invocation: Invocation) -> Result<Reply, String> {
        match invocation.command.as_str() {
            "controls" => {
                let guild = invocation.context.guild()?;
                let channel = invocation.context.channel_id;
                if let Some(v2::OptionValue::Boolean(lyrics)) = invocation.option("lyrics") {
                    set_u64("lyrics", guild, u64::from(*lyrics), None)?;
                }
                let (message, refresh) = current_view(guild)?;
                let id = messages::send(channel, &message)?;
                set_u64("channel", guild, channel, None)?;
                set_u64("message", guild, id, None)?;
                keep_refreshing(guild, refresh)?;
                Ok(
                    reply("The now-playing message is here now, and follows the player.")
                        .ephemeral(),
                )
            }
            other => Err(format!("unknown command {other}")),
        }
    }

    fn on_press(press: Press) -> Result<PressAnswer, String> {
        let guild = press.context.guild()?;
        // The host applies the music rules to whoever pressed (in the bot's channel or
        // a DJ; a listener's skip is a vote): its answer goes to them alone.
        if let Err(refused) = act(guild, &press) {
            return Ok(PressAnswer::Reply(reply(refused).ephemeral()));
        }
        // The message pressed on is the one to keep up to date from now on.
        set_u64("message", guild, press.message_id, None)?;
        set_u64("channel", guild, press.context.channel_id, None)?;
        let (message, refresh) = current_view(guild)?;
        keep_refreshing(guild, refresh)?;
        Ok(PressAnswer::Update(message))
    }

    fn on_player_event(event: PlayerEvent) {
        let guild = event.guild_id;
        if matches!(
            event.kind,
            PlayerEventKind::LeftVoice | PlayerEventKind::JoinedVoice(_)
        ) {
            return;
        }
        if let Err(e) = refresh(guild) {
            v2::log::warn(&format!("could not update the now-playing message: {e}"));
        }
    }

    fn on_timer(timer: Timer) {
        let Some(guild) = timer.guild_id else { return };
        let _ = kv::delete(&key("timer", guild));
        if let Err(e) = refresh(guild) {
            v2::log::warn(&format!("could not refresh the now-playing message: {e}"));
        }
    }
}

// Four entries per guild.
v2::export_command!(
    NowPlaying,
    http = ["lrclib.net"],
    kv_quota = 20000,
    settings = ["base_url": "An LRCLIB-compatible API for `/controls lyrics:true` (default https://lrclib.net)"],
    player_events = true,
);

#[cfg(test)]
mod tests {
    use super::*;
    use minstrel_sdk::v2::Track;

    fn track(title: &str, duration_ms: Option<u64>) -> Track {
        Track {
            id: title.into(),
            title: title.into(),
            duration_ms,
            artwork_url: None,
            page_url: None,
        }
    }

    #[test]
    fn the_bar_follows_the_position() {
        assert_eq!(
            progress(0, Some(200_000)),
            "`[>-------------------]` 0:00 / 3:20"
        );
        assert_eq!(
            progress(100_000, Some(200_000)),
            "`[==========>---------]` 1:40 / 3:20"
        );
        assert_eq!(progress(5_000, None), "0:05");
    }

    #[test]
    fn the_line_sung_now_and_the_next_with_when_it_begins() {
        let lines = lrclib::synced("[00:01.00] one *two*\n[00:05.50]\n[00:09.00] three");
        assert_eq!(
            sung(&lines, 0),
            ("🎤 …\n-# one \\*two\\*".into(), Some(1_000))
        );
        assert_eq!(
            sung(&lines, 2_000),
            ("🎤 **one \\*two\\***".into(), Some(5_500))
        );
        assert_eq!(sung(&lines, 6_000), ("🎤 …\n-# three".into(), Some(9_000)));
        assert_eq!(sung(&lines, 9_000), ("🎤 **three**".into(), None));
    }

    #[test]
    fn the_view_has_controls_and_a_menu_of_what_comes_next() {
        let now = Playing {
            track: track("Song *A*", Some(60_000)),
            requested_by: 3000,
            position_ms: 30_000,
            paused: true,
        };
        let next: Vec<Queued> = (0..12)
            .map(|i| Queued {
                track: track(&format!("Next {i}"), None),
                requested_by: 3001,
            })
            .collect();
        let message = view(Some(&now), &next, LoopMode::Queue, None, None);
        assert!(
            message.content.starts_with("⏸ Paused: **Song \\*A\\***"),
            "{}",
            message.content
        );
        assert!(message.content.contains("0:30 / 1:00"));
        assert!(message.content.contains("12 up next · 🔁"));
        assert!(!message.content.contains("on air"));
        assert_eq!(message.components.len(), 2);
        let v2::Component::Button(first) = &message.components[0][0] else {
            panic!()
        };
        assert_eq!(
            (first.id.as_str(), first.label.as_str()),
            ("pause", "Resume")
        );
        let v2::Component::Select(menu) = &message.components[1][0] else {
            panic!()
        };
        assert_eq!(menu.options.len(), MENU);
        assert_eq!(menu.options[1].label, "2. Next 1");
        let idle = view(None, &[], LoopMode::Off, None, None);
        assert!(idle.components.is_empty() && idle.content.contains("Nothing is playing"));
    }

    #[test]
    fn a_station_shows_what_it_says_is_on_air_as_plain_text() {
        let now = Playing {
            track: track("Radio One", None),
            requested_by: 3000,
            position_ms: 5_000,
            paused: false,
        };
        let message = view(
            Some(&now),
            &[],
            LoopMode::Off,
            Some("*Hit* @everyone"),
            None,
        );
        assert!(
            message
                .content
                .contains("📻 Now on air: **\\*Hit\\* @\u{200b}everyone**"),
            "{}",
            message.content
        );
    }
}
