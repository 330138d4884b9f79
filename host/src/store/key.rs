//! Canonical track keys: a track is `(source, id)`, whatever URL form a user pasted.

use std::fmt;

use url::Url;

/// The canonical identity of a track, e.g. `("youtube", "dQw4w9WgXcQ")`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TrackKey {
    pub source: String,
    pub id: String,
}

impl TrackKey {
    pub fn new(source: impl Into<String>, id: impl Into<String>) -> Self {
        Self {
            source: source.into(),
            id: id.into(),
        }
    }

    /// The key for a URL a user pasted: YouTube URLs map to `("youtube", video id)`, any
    /// other http(s) URL to `("http", normalised url)`.
    pub fn from_url(input: &str) -> Result<Self, KeyError> {
        let url =
            Url::parse(input.trim()).map_err(|e| KeyError::BadUrl(format!("{input}: {e}")))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(KeyError::BadUrl(format!(
                "{input}: only http and https URLs are supported"
            )));
        }
        if url.host_str().is_none() {
            return Err(KeyError::BadUrl(format!("{input}: no host")));
        }
        if let Some(id) = youtube_id(input) {
            return Ok(Self::new("youtube", id));
        }
        let mut url = url;
        url.set_fragment(None);
        Ok(Self::new("http", url.to_string()))
    }
}

impl fmt::Display for TrackKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.source, self.id)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    #[error("bad URL {0}")]
    BadUrl(String),
}

/// Extracts the 11-character video id from any YouTube URL form users paste:
/// `watch?v=`, `youtu.be/`, `shorts/`, `embed/`, `live/`, `v/`, music.youtube.com and
/// m.youtube.com, with or without scheme, extra query parameters or timestamps.
pub fn youtube_id(input: &str) -> Option<String> {
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
    let host = host.strip_prefix("www.").unwrap_or(&host);
    let mut segments = url.path_segments()?.filter(|s| !s.is_empty());
    let candidate = match host {
        "youtu.be" => segments.next()?.to_string(),
        "youtube.com" | "m.youtube.com" | "music.youtube.com" | "youtube-nocookie.com" => {
            match segments.next()? {
                "watch" => url
                    .query_pairs()
                    .find(|(k, _)| k == "v")
                    .map(|(_, v)| v.into_owned())?,
                "shorts" | "embed" | "live" | "v" | "e" => segments.next()?.to_string(),
                _ => return None,
            }
        }
        _ => return None,
    };
    valid_video_id(&candidate).then_some(candidate)
}

fn valid_video_id(id: &str) -> bool {
    id.len() == 11
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: &str = "dQw4w9WgXcQ";

    #[test]
    fn youtube_forms() {
        let valid = [
            "https://www.youtube.com/watch?v=dQw4w9WgXcQ",
            "http://youtube.com/watch?v=dQw4w9WgXcQ",
            "youtube.com/watch?v=dQw4w9WgXcQ",
            "www.youtube.com/watch?v=dQw4w9WgXcQ&t=42s",
            "https://www.youtube.com/watch?feature=share&v=dQw4w9WgXcQ&list=PL123&index=2",
            "https://m.youtube.com/watch?v=dQw4w9WgXcQ",
            "https://music.youtube.com/watch?v=dQw4w9WgXcQ&si=abc",
            "https://youtu.be/dQw4w9WgXcQ",
            "https://youtu.be/dQw4w9WgXcQ?t=10",
            "https://youtu.be/dQw4w9WgXcQ?si=Xy_12&t=1m2s",
            "youtu.be/dQw4w9WgXcQ",
            "https://www.youtube.com/shorts/dQw4w9WgXcQ",
            "https://youtube.com/shorts/dQw4w9WgXcQ?feature=share",
            "https://www.youtube.com/embed/dQw4w9WgXcQ?start=5",
            "https://www.youtube-nocookie.com/embed/dQw4w9WgXcQ",
            "https://www.youtube.com/live/dQw4w9WgXcQ?si=x",
            "https://www.youtube.com/v/dQw4w9WgXcQ",
            "  https://WWW.YOUTUBE.COM/watch?v=dQw4w9WgXcQ#t=30  ",
        ];
        for url in valid {
            assert_eq!(youtube_id(url).as_deref(), Some(ID), "{url}");
        }
    }

    #[test]
    fn not_youtube_ids() {
        let invalid = [
            "",
            "dQw4w9WgXcQ",
            "https://www.youtube.com/",
            "https://www.youtube.com/watch",
            "https://www.youtube.com/watch?v=",
            "https://www.youtube.com/watch?v=short",
            "https://www.youtube.com/watch?v=dQw4w9WgXcQQ",
            "https://www.youtube.com/watch?v=dQw4w9Wg$cQ",
            "https://www.youtube.com/playlist?list=PL123",
            "https://www.youtube.com/channel/UC1234567890",
            "https://youtu.be/",
            "https://notyoutube.com/watch?v=dQw4w9WgXcQ",
            "https://youtube.com.evil.example/watch?v=dQw4w9WgXcQ",
            "ftp://youtube.com/watch?v=dQw4w9WgXcQ",
            "https://vimeo.com/123456",
        ];
        for url in invalid {
            assert_eq!(youtube_id(url), None, "{url}");
        }
    }

    #[test]
    fn keys_from_urls() {
        assert_eq!(
            TrackKey::from_url("https://youtu.be/dQw4w9WgXcQ?t=3").unwrap(),
            TrackKey::new("youtube", ID)
        );
        assert_eq!(
            TrackKey::from_url("http://127.0.0.1:8080/a.ogg#frag").unwrap(),
            TrackKey::new("http", "http://127.0.0.1:8080/a.ogg")
        );
        for bad in ["not a url", "ftp://x/y", "file:///etc/passwd", "http://"] {
            assert!(TrackKey::from_url(bad).is_err(), "{bad}");
        }
    }
}
