//! YouTube video and playlist ids from every URL form users paste.
//!
//! One parser for the host (which keys cached tracks as `("youtube", id)`) and the
//! `youtube` source plugin (which names tracks `youtube:<id>`): a pasted URL maps to
//! the same id on both sides, so two forms of one video share one cache entry. The
//! forms are listed, with the id each must give, in `tests/fixtures/youtube-urls.tsv`;
//! `tests/url_forms.rs` checks the parser and the real yt-dlp against it.

use url::form_urlencoded;

/// The 11-character video id of the YouTube URL forms users paste: `watch?v=`,
/// `youtu.be/`, `shorts/`, `embed/`, `live/`, `v/` and `e/`, on youtube.com and its
/// subdomains (www., m., music.), youtube-nocookie.com and youtubekids.com, with or without
/// scheme, extra query parameters or timestamps.
///
/// The forms follow yt-dlp's URL matcher, so this never names a video yt-dlp would not
/// play for the same URL. It is stricter where yt-dlp guesses (the id must be the whole
/// path segment or `v` value; yt-dlp takes the first 11 characters of a longer one) and
/// reads scheme and host case-insensitively, as URLs are. The table of forms lists each
/// difference and is checked against the real yt-dlp.
pub fn video_id(input: &str) -> Option<String> {
    let link = Link::split(input)?;
    let lists = link.names_a_list();
    let id = if link.host == "youtu.be" {
        link.path.strip_prefix('/')?.split('/').next()?.to_string()
    } else {
        let domain = youtube_domain(&link.host)?;
        // yt-dlp reads what follows a `#/` (an old in-page redirect) instead of the URL.
        if link.fragment.starts_with('/') || link.fragment.contains("#/") {
            return None;
        }
        let mut segments = link.path.split('/').skip(1);
        match (segments.next()?, lists) {
            ("watch", false) if matches!(link.path, "/watch" | "/watch/") => {
                link.raw_v()?.to_string()
            }
            // A video in a playlist: yt-dlp (with --no-playlist) plays the video only
            // through its playlist extractor, which knows fewer hosts and paths.
            ("watch", true) if link.path == "/watch" && lists_videos(domain, &link.host) => {
                link.decoded_param("v")?
            }
            // With a list these are the list's embed to yt-dlp, not the video.
            ("v" | "embed" | "e" | "shorts" | "live", false) => {
                let id = segments.next()?;
                // Playlist and channel embeds, not videos, though 11 characters long.
                if matches!(id, "videoseries" | "live_stream") {
                    return None;
                }
                id.to_string()
            }
            _ => return None,
        }
    };
    valid_video_id(&id).then_some(id)
}

/// The playlist id of a playlist page (`/playlist?list=...`). A video URL that also
/// carries a `list=` is not a playlist page.
pub fn playlist_id(input: &str) -> Option<String> {
    let link = Link::split(input)?;
    youtube_domain(&link.host)?;
    if !matches!(link.path, "/playlist" | "/playlist/") {
        return None;
    }
    let list = link.decoded_param("list")?;
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

/// A pasted http(s) URL, split as written (nothing decoded or normalised, as yt-dlp's
/// patterns see it).
struct Link<'a> {
    /// Lowercase, without port or user (a URL with either names no video).
    host: String,
    /// From the first `/`; empty when there is none.
    path: &'a str,
    query: &'a str,
    fragment: &'a str,
}

impl<'a> Link<'a> {
    /// `https://`, `http://`, `//` or no scheme; surrounding spaces ignored.
    fn split(input: &'a str) -> Option<Self> {
        let input = input.trim();
        let rest = ["https://", "http://", "//"]
            .into_iter()
            .find_map(|scheme| {
                let head = input.get(..scheme.len())?;
                head.eq_ignore_ascii_case(scheme)
                    .then(|| &input[scheme.len()..])
            })
            .unwrap_or(input);
        let (rest, fragment) = rest.split_once('#').unwrap_or((rest, ""));
        let (rest, query) = rest.split_once('?').unwrap_or((rest, ""));
        let (host, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
        if host.is_empty() || host.contains([':', '@']) {
            return None;
        }
        Some(Self {
            host: host.to_ascii_lowercase(),
            path,
            query,
            fragment,
        })
    }

    /// The first `v=` value as written, parameters split at `&` or `;` (yt-dlp's video
    /// pattern).
    fn raw_v(&self) -> Option<&'a str> {
        self.query
            .split(['&', ';'])
            .find_map(|p| p.strip_prefix("v="))
    }

    /// The first non-empty value of `key`, decoded (yt-dlp's reading of query parameters
    /// elsewhere).
    fn decoded_param(&self, key: &str) -> Option<String> {
        form_urlencoded::parse(self.query.as_bytes())
            .find(|(k, v)| k == key && !v.is_empty())
            .map(|(_, v)| v.into_owned())
    }

    /// Whether the URL carries a playlist (`list=`), which turns yt-dlp's video matcher
    /// away.
    fn names_a_list(&self) -> bool {
        self.decoded_param("list").is_some()
    }
}

/// The YouTube domain of a host: youtube.com, youtube-nocookie.com or youtubekids.com,
/// bare or under one subdomain label (www., m., music.): the hosts yt-dlp's matcher knows.
fn youtube_domain(host: &str) -> Option<&'static str> {
    ["youtube.com", "youtube-nocookie.com", "youtubekids.com"]
        .into_iter()
        .find(|domain| match host.strip_suffix(domain) {
            Some("") => true,
            Some(sub) => sub.strip_suffix('.').is_some_and(|label| {
                !label.is_empty()
                    && label
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'_')
            }),
            None => false,
        })
}

/// Whether yt-dlp's playlist extractor, which hands a video-with-playlist page to the
/// video extractor, knows this host.
fn lists_videos(domain: &str, host: &str) -> bool {
    matches!(domain, "youtube.com" | "youtubekids.com") && !host.starts_with("consent.")
}

#[cfg(test)]
mod tests {
    use super::*;

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
