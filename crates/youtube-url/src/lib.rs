//! YouTube video and playlist ids from every URL form users paste.
//!
//! One parser for the host (which keys cached tracks as `("youtube", id)`) and the
//! `youtube` source plugin (which names tracks `youtube:<id>`): a pasted URL maps to
//! the same id on both sides, so two forms of one video share one cache entry. The
//! forms are listed, with the id each must give, in `tests/fixtures/youtube-urls.tsv`.

use url::Url;

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

/// The playlist id of a playlist page (`/playlist?list=...`). A video URL that also
/// carries a `list=` is not a playlist page.
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

/// The canonical page of a video.
pub fn watch_url(id: &str) -> String {
    format!("https://www.youtube.com/watch?v={id}")
}

/// The canonical page of a playlist.
pub fn playlist_url(list: &str) -> String {
    format!("https://www.youtube.com/playlist?list={list}")
}

/// Eleven characters of `[A-Za-z0-9_-]`.
pub fn valid_video_id(id: &str) -> bool {
    id.len() == 11 && id.bytes().all(id_byte)
}

fn valid_playlist_id(id: &str) -> bool {
    (2..=64).contains(&id.len()) && id.bytes().all(id_byte)
}

fn id_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'-' || b == b'_'
}

/// The URL (a scheme added when missing) and its host without `www.`, for http(s) only.
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Every form, with the id it must give (`-`: none).
    const FORMS: &str = include_str!("../../../tests/fixtures/youtube-urls.tsv");

    #[test]
    fn video_ids_of_every_form() {
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
    fn canonical_pages_parse_back() {
        assert_eq!(video_id(&watch_url("dQw4w9WgXcQ")).unwrap(), "dQw4w9WgXcQ");
        assert_eq!(playlist_id(&playlist_url("PL123")).unwrap(), "PL123");
    }
}
