//! yt-dlp's `-J` JSON, reduced to what a source needs: title, duration, artwork and
//! page, and for a playlist (or a search, which yt-dlp reports as one) its entries.
//!
//! Parsed from `serde_json::Value` rather than a derived struct: yt-dlp's output differs
//! by extractor and by version (fields missing, `null`, numbers as floats), and one
//! odd entry must not sink the whole playlist.

use serde_json::Value;

use super::error::MediaError;

/// One item of a playlist or of search results.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub title: String,
    pub duration_ms: Option<u64>,
    pub artwork_url: Option<String>,
    pub page_url: String,
}

/// What `probe` found at a URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Info {
    pub title: String,
    pub duration_ms: Option<u64>,
    pub artwork_url: Option<String>,
    pub page_url: String,
    /// A playlist's items in order; empty for a single item.
    pub entries: Vec<Entry>,
}

/// Parses `yt-dlp -J` output. `asked` is the URL or search that was probed (the page
/// when yt-dlp names none); at most `max_entries` entries are kept.
pub fn parse(json: &[u8], asked: &str, max_entries: usize) -> Result<Info, MediaError> {
    let value: Value =
        serde_json::from_slice(json).map_err(|e| MediaError::Output(format!("not JSON ({e})")))?;
    if !value.is_object() {
        return Err(MediaError::Output("not a JSON object".into()));
    }
    let entries = match value.get("entries") {
        Some(Value::Array(items)) => items.iter().filter_map(entry).take(max_entries).collect(),
        _ => Vec::new(),
    };
    Ok(Info {
        title: title(&value).unwrap_or_else(|| "untitled".into()),
        duration_ms: duration_ms(&value),
        artwork_url: artwork(&value),
        page_url: page(&value).unwrap_or_else(|| asked.to_string()),
        entries,
    })
}

/// An entry, or `None` when it names no page (nothing to play).
fn entry(value: &Value) -> Option<Entry> {
    Some(Entry {
        page_url: page(value)?,
        title: title(value).unwrap_or_else(|| "untitled".into()),
        duration_ms: duration_ms(value),
        artwork_url: artwork(value),
    })
}

fn text(value: &Value, key: &str) -> Option<String> {
    value
        .get(key)?
        .as_str()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
}

fn is_http(url: &str) -> bool {
    url.starts_with("https://") || url.starts_with("http://")
}

fn title(value: &Value) -> Option<String> {
    text(value, "title")
        .or_else(|| text(value, "fulltitle"))
        .or_else(|| text(value, "id"))
}

/// `duration` is in seconds, often fractional; absent for live streams and direct files.
fn duration_ms(value: &Value) -> Option<u64> {
    let seconds = value.get("duration")?.as_f64()?;
    (seconds.is_finite() && seconds >= 0.0).then(|| (seconds * 1000.0).round() as u64)
}

/// `thumbnail` when present (a full extraction), else the last of `thumbnails` (yt-dlp
/// orders them worst to best; flat playlist entries only carry the list).
fn artwork(value: &Value) -> Option<String> {
    text(value, "thumbnail").filter(|u| is_http(u)).or_else(|| {
        value
            .get("thumbnails")?
            .as_array()?
            .iter()
            .rev()
            .filter_map(|t| text(t, "url"))
            .find(|u| is_http(u))
    })
}

/// `webpage_url` for a full extraction; a flat entry has only `url` (its page).
fn page(value: &Value) -> Option<String> {
    ["webpage_url", "url", "original_url"]
        .iter()
        .filter_map(|key| text(value, key))
        .find(|u| is_http(u))
}

#[cfg(test)]
mod tests {
    use super::*;

    const VIDEO: &str = include_str!("../../../tests/fixtures/ytdlp/video.json");
    const PLAYLIST: &str = include_str!("../../../tests/fixtures/ytdlp/playlist.json");
    const SEARCH: &str = include_str!("../../../tests/fixtures/ytdlp/search.json");
    const DIRECT: &str = include_str!("../../../tests/fixtures/ytdlp/direct.json");

    #[test]
    fn a_video() {
        let info = parse(VIDEO.as_bytes(), "x", 100).unwrap();
        assert_eq!(
            info.title,
            "Rick Astley - Never Gonna Give You Up (Official Music Video)"
        );
        assert_eq!(info.duration_ms, Some(213_000));
        assert_eq!(
            info.artwork_url.as_deref(),
            Some("https://i.ytimg.com/vi_webp/dQw4w9WgXcQ/maxresdefault.webp")
        );
        assert_eq!(info.page_url, "https://www.youtube.com/watch?v=dQw4w9WgXcQ");
        assert!(info.entries.is_empty());
    }

    #[test]
    fn a_playlist_keeps_playable_entries_in_order() {
        let info = parse(PLAYLIST.as_bytes(), "x", 100).unwrap();
        assert_eq!(info.title, "Minstrel test mix");
        assert_eq!(
            info.page_url,
            "https://www.youtube.com/playlist?list=PLminstrel0test0mix000000000000000"
        );
        let pages: Vec<&str> = info.entries.iter().map(|e| e.page_url.as_str()).collect();
        assert_eq!(
            pages,
            [
                "https://www.youtube.com/watch?v=dQw4w9WgXcQ",
                "https://www.youtube.com/watch?v=9bZkp7q19f0",
                "https://www.youtube.com/watch?v=kJQP7kiw5Fk",
                "https://www.youtube.com/shorts/aqz-KE-bpKQ",
            ]
        );
        assert_eq!(info.entries[1].duration_ms, Some(252_500));
        assert_eq!(
            info.entries[1].artwork_url.as_deref(),
            Some("https://i.ytimg.com/vi/9bZkp7q19f0/hqdefault.jpg?sqp=-oaymwE")
        );
        assert_eq!(info.entries[2].duration_ms, None);
        // The cap keeps the first ones.
        assert_eq!(parse(PLAYLIST.as_bytes(), "x", 2).unwrap().entries.len(), 2);
    }

    #[test]
    fn a_search_is_a_playlist_of_results() {
        let info = parse(SEARCH.as_bytes(), "ytsearch3:never gonna", 100).unwrap();
        assert_eq!(info.title, "never gonna");
        assert_eq!(info.entries.len(), 3);
        assert_eq!(
            info.entries[0].page_url,
            "https://www.youtube.com/watch?v=dQw4w9WgXcQ"
        );
        assert_eq!(
            info.entries[0].title,
            "Rick Astley - Never Gonna Give You Up"
        );
    }

    #[test]
    fn a_direct_file_has_no_duration_and_names_itself() {
        let info = parse(DIRECT.as_bytes(), "x", 100).unwrap();
        assert_eq!(info.title, "song");
        assert_eq!(info.duration_ms, None);
        assert_eq!(info.page_url, "http://127.0.0.1:8765/song.ogg");
    }

    #[test]
    fn junk_is_an_error() {
        for bad in ["", "null", "[1]", "{", "\"x\""] {
            assert!(parse(bad.as_bytes(), "x", 10).is_err(), "{bad:?}");
        }
        let bare = parse(b"{}", "https://asked.example/", 10).unwrap();
        assert_eq!(
            (bare.title.as_str(), bare.page_url.as_str()),
            ("untitled", "https://asked.example/")
        );
    }
}
