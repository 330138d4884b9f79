//! A source for `echo://TEXT` URLs: the "audio" of a track is its text repeated. With
//! the `media` grant, `media:URL` queries go through the host's media extractor.

use minstrel_sdk::{Source, Track, audio::Sink, media};

struct Echo;

impl Source for Echo {
    fn claims(url: String) -> bool {
        url.starts_with("echo://")
    }

    fn resolve(query: String) -> Result<Vec<Track>, String> {
        if let Some(url) = query.strip_prefix("media:") {
            let info = media::probe(url)?;
            return Ok(vec![Track {
                id: format!("media:{}", info.page_url),
                title: info.title,
                duration_ms: info.duration_ms,
                artwork_url: info.artwork_url,
                page_url: Some(info.page_url),
            }]);
        }
        let text = query.strip_prefix("echo://").unwrap_or(&query);
        if text.is_empty() {
            return Ok(Vec::new());
        }
        Ok(vec![Track {
            id: format!("echo:{text}"),
            title: format!("Echo of {text}"),
            duration_ms: Some(1_000 * text.len() as u64),
            artwork_url: None,
            page_url: None,
        }])
    }

    fn fetch(id: String, into: &Sink) -> Result<(), String> {
        if let Some(url) = id.strip_prefix("media:") {
            return media::download_audio(url, into);
        }
        let text = id.strip_prefix("echo:").ok_or("not an echo id")?;
        // Several writes, as a real source streams.
        for _ in 0..4 {
            into.write(text.repeat(256).as_bytes())?;
        }
        Ok(())
    }
}

minstrel_sdk::export_source!(Echo);
