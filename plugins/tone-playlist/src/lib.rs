//! Playlists of test tones, for trying and testing what a playlist does with no network:
//! `tones:440,550,660` is three songs of 3 s, `tones:440,550,660:10` of 10 s. Each song
//! is a 48 kHz mono WAV of a sine, as the `tone` source writes it.

use minstrel_sdk::{Source, Track, audio::Sink};

const MAX_SECONDS: u32 = 600;
const MAX_SONGS: usize = 1_000;
const PREFIX: &str = "tones:";
const FORM: &str = "playlists of tones look like tones:440,550 or tones:440,550:10";

struct TonePlaylist;

/// `([frequency Hz], seconds)` from `tones:F,F,..` or `tones:F,F,..:S`.
fn parse(query: &str) -> Result<(Vec<u32>, u32), String> {
    let rest = query.trim().strip_prefix(PREFIX).ok_or(FORM)?;
    let (list, seconds) = match rest.split_once(':') {
        None => (rest, 3),
        Some((list, s)) => {
            let seconds = s
                .parse()
                .ok()
                .filter(|s| (1..=MAX_SECONDS).contains(s))
                .ok_or(format!("the length must be 1-{MAX_SECONDS} seconds"))?;
            (list, seconds)
        }
    };
    let frequencies = list
        .split(',')
        .map(|f| f.trim().parse().ok().filter(|f| (20..=20_000).contains(f)))
        .collect::<Option<Vec<u32>>>()
        .ok_or("each frequency must be 20-20000 Hz")?;
    if frequencies.len() > MAX_SONGS {
        return Err(format!("at most {MAX_SONGS} tones"));
    }
    Ok((frequencies, seconds))
}

impl Source for TonePlaylist {
    fn claims(url: String) -> bool {
        url.starts_with(PREFIX)
    }

    fn resolve(query: String) -> Result<Vec<Track>, String> {
        if !query.trim().starts_with(PREFIX) {
            return Ok(Vec::new()); // not a playlist of tones: let other sources search
        }
        let (frequencies, seconds) = parse(&query)?;
        Ok(frequencies
            .into_iter()
            .map(|frequency| Track {
                id: format!("{frequency}:{seconds}"),
                title: format!("{frequency} Hz tone, {seconds} s"),
                duration_ms: Some(u64::from(seconds) * 1000),
                artwork_url: None,
                page_url: None,
            })
            .collect())
    }

    fn fetch(id: String, into: &Sink) -> Result<(), String> {
        let (frequencies, seconds) = parse(&format!("{PREFIX}{id}"))?;
        let [frequency] = frequencies[..] else {
            return Err(format!("{id} is not one tone"));
        };
        sine_wav::write(frequency, seconds, |bytes| into.write(bytes))
    }
}

minstrel_sdk::export_source!(TonePlaylist);
