//! `/lyrics [song]`: the lyrics of the song playing, or of the song named, from an
//! LRCLIB-compatible API (`base_url`, default `https://lrclib.net`: the operator grants
//! its host). Long lyrics come in pages with Previous and Next buttons; synced lyrics
//! are shown without their timestamps, with the line playing now marked when the song
//! asked for is the one playing.

use lrclib::{Record, synced};
use minstrel_sdk::v2::{
    self, ButtonStyle, Command, CommandSpec, Invocation, OptionKind, OptionSpec, Press,
    PressAnswer, Reply, button, escape, player, reply,
};

/// Characters of lyrics per page (Discord allows 2,000 per message).
pub const PAGE: usize = 1_500;
/// The lines to show: the plain lyrics, or the synced ones without timestamps, with
/// the line at `position_ms` marked when given.
pub fn lines(record: &Record, position_ms: Option<u64>) -> Vec<String> {
    if let (Some(text), Some(at)) = (&record.synced_lyrics, position_ms) {
        let timed = synced(text);
        let now = lrclib::line_at(&timed, at);
        return timed
            .into_iter()
            .enumerate()
            .map(|(i, (_, line))| {
                if Some(i) == now {
                    format!("▶ **{}**", escape(&line))
                } else {
                    escape(&line)
                }
            })
            .collect();
    }
    let text = record
        .plain_lyrics
        .clone()
        .or_else(|| {
            let timed = synced(record.synced_lyrics.as_deref()?);
            Some(
                timed
                    .into_iter()
                    .map(|(_, l)| l)
                    .collect::<Vec<_>>()
                    .join("\n"),
            )
        })
        .unwrap_or_default();
    text.lines().map(escape).collect()
}

/// Lines split into pages of at most [`PAGE`] characters, on line boundaries.
pub fn pages(lines: &[String]) -> Vec<String> {
    let mut pages = vec![String::new()];
    for line in lines {
        let page = pages.last_mut().expect("one page at least");
        if !page.is_empty() && page.chars().count() + line.chars().count() + 1 > PAGE {
            pages.push(String::new());
        }
        let page = pages.last_mut().expect("one page at least");
        if !page.is_empty() {
            page.push('\n');
        }
        page.push_str(line);
    }
    pages
}

/// Page `page` (0-based) of `record`'s lyrics, with the buttons to the others.
pub fn view(record: &Record, page: usize, position_ms: Option<u64>) -> Reply {
    let title = format!(
        "**{}** by {}",
        escape(&record.track_name),
        escape(&record.artist_name)
    );
    if record.instrumental {
        return reply(format!("{title} is instrumental."));
    }
    let all = pages(&lines(record, position_ms));
    let page = page.min(all.len() - 1);
    let mut message = reply(format!(
        "{title} (page {} of {})\n\n{}",
        page + 1,
        all.len(),
        all[page]
    ));
    if all.len() > 1 {
        let id = record.id;
        message = message.row([
            button(format!("page:{id}:{}", page.saturating_sub(1)), "Previous")
                .style(ButtonStyle::Secondary)
                .disabled(page == 0),
            button(format!("page:{id}:{}", page + 1), "Next").disabled(page + 1 == all.len()),
        ]);
    }
    message
}

struct Lyrics;

impl Command for Lyrics {
    fn commands() -> Vec<CommandSpec> {
        vec![CommandSpec {
            name: "lyrics".into(),
            description: "Lyrics of the song playing, or of the song you name".into(),
            options: vec![OptionSpec {
                name: "song".into(),
                description: "Title and artist (default: the song playing)".into(),
                kind: OptionKind::Text,
                required: false,
                autocomplete: false,
            }],
        }]
    }

    fn run(invocation: Invocation) -> Result<Reply, String> {
        let playing = invocation
            .context
            .guild_id
            .map(player::now_playing)
            .transpose()
            .ok()
            .flatten()
            .flatten();
        let asked = invocation
            .text("song")
            .map(str::trim)
            .filter(|s| !s.is_empty());
        let (query, position) = match (asked, &playing) {
            (Some(song), _) => (song.to_string(), None),
            (None, Some(now)) => (now.track.title.clone(), Some(now.position_ms)),
            (None, None) => {
                return Ok(reply("Nothing is playing: name a song, `/lyrics song:...`").ephemeral());
            }
        };
        let Some(record) = lrclib::search(&query)? else {
            return Ok(reply(format!("No lyrics found for {}.", escape(&query))).ephemeral());
        };
        Ok(view(&record, 0, position))
    }

    fn on_press(press: Press) -> Result<PressAnswer, String> {
        let mut parts = press.id.split(':');
        let (Some("page"), Some(id), Some(page)) = (parts.next(), parts.next(), parts.next())
        else {
            return Err("no such control".into());
        };
        let id: u64 = id.parse().map_err(|_| "no such lyrics")?;
        let page: usize = page.parse().map_err(|_| "no such page")?;
        let record = lrclib::get(id)?.ok_or("these lyrics are gone from the service")?;
        Ok(PressAnswer::Update(view(&record, page, None)))
    }
}

v2::export_command!(
    Lyrics,
    http = ["lrclib.net"],
    settings = ["base_url": "An LRCLIB-compatible API (default https://lrclib.net)"],
);

#[cfg(test)]
mod tests {
    use super::*;

    fn record(plain: Option<&str>, synced: Option<&str>) -> Record {
        Record {
            id: 7,
            track_name: "Song".into(),
            artist_name: "Band".into(),
            instrumental: false,
            plain_lyrics: plain.map(String::from),
            synced_lyrics: synced.map(String::from),
        }
    }

    #[test]
    fn synced_lyrics_mark_the_line_playing() {
        let r = record(
            None,
            Some("[00:01.00] one\n[00:05.50] two\n[01:00.00] three"),
        );
        assert_eq!(
            synced(r.synced_lyrics.as_deref().unwrap())[1],
            (5_500, "two".into())
        );
        assert_eq!(lines(&r, Some(6_000)), ["one", "▶ **two**", "three"]);
        assert_eq!(lines(&r, None), ["one", "two", "three"]);
    }

    #[test]
    fn long_lyrics_come_in_pages_with_buttons() {
        let text: Vec<String> = (0..200)
            .map(|i| format!("line number {i} of the song"))
            .collect();
        let r = record(Some(&text.join("\n")), None);
        let first = view(&r, 0, None);
        assert!(first.content.contains("(page 1 of 4)"), "{}", first.content);
        assert!(first.content.len() < 2_000);
        let v2::Component::Button(previous) = &first.components[0][0] else {
            panic!()
        };
        assert!(previous.disabled);
        let last = view(&r, 9, None);
        assert!(last.content.contains("(page 4 of 4)") && last.content.contains("line number 199"));
    }
}
