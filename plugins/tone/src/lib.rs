//! A source of test tones, so playback can be tried and tested with no network:
//! `tone:440` (3 s of 440 Hz), `tone:440:10` (10 s). The audio is a 48 kHz mono WAV
//! written in pieces, as a real source streams; the host turns it into Opus.

use minstrel_sdk::{Source, Track, audio::Sink};

const MAX_SECONDS: u32 = 600;

struct Tone;

/// `(frequency Hz, seconds)` from `tone:F` or `tone:F:S`.
fn parse(query: &str) -> Result<(u32, u32), String> {
    let rest = query
        .trim()
        .strip_prefix("tone:")
        .ok_or("tones look like tone:440 or tone:440:10")?;
    let mut parts = rest.split(':');
    let frequency: u32 = parts
        .next()
        .and_then(|f| f.parse().ok())
        .filter(|f| (20..=20_000).contains(f))
        .ok_or("the frequency must be 20-20000 Hz")?;
    let seconds: u32 = match parts.next() {
        None => 3,
        Some(s) => s
            .parse()
            .ok()
            .filter(|s| (1..=MAX_SECONDS).contains(s))
            .ok_or(format!("the length must be 1-{MAX_SECONDS} seconds"))?,
    };
    if parts.next().is_some() {
        return Err("tones look like tone:440 or tone:440:10".into());
    }
    Ok((frequency, seconds))
}

impl Source for Tone {
    fn claims(url: String) -> bool {
        url.starts_with("tone:")
    }

    fn resolve(query: String) -> Result<Vec<Track>, String> {
        if !query.trim().starts_with("tone:") {
            return Ok(Vec::new()); // not a tone: let other sources search
        }
        let (frequency, seconds) = parse(&query)?;
        Ok(vec![Track {
            id: format!("{frequency}:{seconds}"),
            title: format!("{frequency} Hz tone, {seconds} s"),
            duration_ms: Some(u64::from(seconds) * 1000),
            artwork_url: None,
            page_url: None,
        }])
    }

    fn fetch(id: String, into: &Sink) -> Result<(), String> {
        let (frequency, seconds) = parse(&format!("tone:{id}"))?;
        sine_wav::write(frequency, seconds, |bytes| into.write(bytes))
    }
}

minstrel_sdk::export_source!(Tone);
