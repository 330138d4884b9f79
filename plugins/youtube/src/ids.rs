//! YouTube URL forms: video ids, playlist ids, and what a query asks for.
//!
//! `video_id` is the host's `store::key::youtube_id`, kept identical on purpose: both
//! are tested on the same table (`tests/fixtures/youtube-urls.tsv`), so the id this
//! plugin derives from a pasted URL is the id the host's store keys use.

use url::Url;

/// What a query names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Query {
    /// An 11-character video id.
    Video(String),
    /// A playlist id.
    Playlist(String),
    /// Free text to search for.
    Search(String),
    /// A URL this source does not handle.
    OtherUrl,
}

/// Classifies a query. A URL naming a video (even with a `list=`) is the video; a
/// playlist page is the playlist; text that is not a URL is a search.
pub fn classify(query: &str) -> Query {
    let query = query.trim();
    if let Some(id) = video_id(query) {
        return Query::Video(id);
    }
    if let Some(list) = playlist_id(query) {
        return Query::Playlist(list);
    }
    let looks_like_url = query.contains("://")
        || (!query.contains(char::is_whitespace)
            && (query.starts_with("www.") || query.starts_with("youtu")));
    if looks_like_url {
        Query::OtherUrl
    } else {
        Query::Search(query.to_string())
    }
}

/// The canonical page of a video (what the host's media service is asked for).
pub fn watch_url(id: &str) -> String {
    format!("https://www.youtube.com/watch?v={id}")
}

/// The canonical page of a playlist.
pub fn playlist_url(list: &str) -> String {
    format!("https://www.youtube.com/playlist?list={list}")
}

fn parse(input: &str) -> Option<(Url, String)> {
    let input = input.trim();
    let with_scheme = if input.contains("://") {
        input.to_string()
    } else {
        format!("https://{input}")
    };
    let url = Url::parse(&with_scheme).ok()?;
    if !matches!(url.scheme(), "http" | "https") {
        return None;
    }
    let host = url.host_str()?.to_ascii_lowercase();
    let host = host.strip_prefix("www.").unwrap_or(&host).to_string();
    Some((url, host))
}

fn youtube_host(host: &str) -> bool {
    matches!(
        host,
        "youtube.com" | "m.youtube.com" | "music.youtube.com" | "youtube-nocookie.com"
    )
}

/// The 11-character video id of any YouTube URL form users paste: `watch?v=`,
/// `youtu.be/`, `shorts/`, `embed/`, `live/`, `v/`, music.youtube.com and
/// m.youtube.com, with or without scheme, extra query parameters or timestamps.
pub fn video_id(input: &str) -> Option<String> {
    let (url, host) = parse(input)?;
    let mut segments = url.path_segments()?.filter(|s| !s.is_empty());
    let candidate = match host.as_str() {
        "youtu.be" => segments.next()?.to_string(),
        host if youtube_host(host) => match segments.next()? {
            "watch" => url
                .query_pairs()
                .find(|(k, _)| k == "v")
                .map(|(_, v)| v.into_owned())?,
            "shorts" | "embed" | "live" | "v" | "e" => segments.next()?.to_string(),
            _ => return None,
        },
        _ => return None,
    };
    valid_video_id(&candidate).then_some(candidate)
}

/// The playlist id of a playlist page (`/playlist?list=...`). Video URLs that also
/// carry a `list=` are videos ([`video_id`] wins in [`classify`]).
pub fn playlist_id(input: &str) -> Option<String> {
    let (url, host) = parse(input)?;
    if !youtube_host(&host) {
        return None;
    }
    let mut segments = url.path_segments()?.filter(|s| !s.is_empty());
    if segments.next()? != "playlist" || segments.next().is_some() {
        return None;
    }
    let list = url
        .query_pairs()
        .find(|(k, _)| k == "list")
        .map(|(_, v)| v.into_owned())?;
    valid_playlist_id(&list).then_some(list)
}

pub fn valid_video_id(id: &str) -> bool {
    id.len() == 11 && id.bytes().all(id_byte)
}

fn valid_playlist_id(id: &str) -> bool {
    (2..=64).contains(&id.len()) && id.bytes().all(id_byte)
}

fn id_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'-' || b == b'_'
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The table the host's `store::key` tests read too.
    const FORMS: &str = include_str!("../../../tests/fixtures/youtube-urls.tsv");

    #[test]
    fn video_ids_match_the_shared_table() {
        let mut checked = 0;
        for line in FORMS
            .lines()
            .filter(|l| !l.starts_with('#') && !l.is_empty())
        {
            let (expected, url) = line.split_once('\t').expect("id TAB url");
            let expected = (expected != "-").then(|| expected.to_string());
            assert_eq!(video_id(url), expected, "{url:?}");
            checked += 1;
        }
        assert!(checked > 30, "the table has {checked} rows");
    }

    #[test]
    fn playlists() {
        let list = "PLminstrel0test0mix000000000000000";
        for url in [
            "https://www.youtube.com/playlist?list=PLminstrel0test0mix000000000000000",
            "youtube.com/playlist?list=PLminstrel0test0mix000000000000000&si=x",
            "https://music.youtube.com/playlist?list=PLminstrel0test0mix000000000000000",
            "https://m.youtube.com/playlist?feature=share&list=PLminstrel0test0mix000000000000000",
        ] {
            assert_eq!(playlist_id(url).as_deref(), Some(list), "{url}");
        }
        for url in [
            "https://www.youtube.com/playlist",
            "https://www.youtube.com/playlist?list=",
            "https://www.youtube.com/playlist?list=a$b",
            "https://evil.example/playlist?list=PL123",
            "https://www.youtube.com/watch?v=dQw4w9WgXcQ&list=PL123",
            "https://www.youtube.com/playlist/extra?list=PL123",
        ] {
            assert_eq!(playlist_id(url), None, "{url}");
        }
    }

    #[test]
    fn queries() {
        assert_eq!(
            classify("https://youtu.be/dQw4w9WgXcQ?t=3"),
            Query::Video("dQw4w9WgXcQ".into())
        );
        assert_eq!(
            classify("https://www.youtube.com/watch?v=dQw4w9WgXcQ&list=PL123"),
            Query::Video("dQw4w9WgXcQ".into())
        );
        assert_eq!(
            classify(" https://www.youtube.com/playlist?list=PL123 "),
            Query::Playlist("PL123".into())
        );
        assert_eq!(
            classify("  never gonna give you up "),
            Query::Search("never gonna give you up".into())
        );
        // A bare id is text (as for the store's keys), and so are options.
        assert_eq!(classify("dQw4w9WgXcQ"), Query::Search("dQw4w9WgXcQ".into()));
        assert_eq!(classify("--exec rm"), Query::Search("--exec rm".into()));
        for other in [
            "https://vimeo.com/123",
            "https://www.youtube.com/channel/UC123",
            "www.youtube.com/@someone",
            "http://127.0.0.1:8080/song.ogg",
        ] {
            assert_eq!(classify(other), Query::OtherUrl, "{other}");
        }
    }
}
