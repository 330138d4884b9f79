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

/// The video id of a YouTube URL, in any form users paste (shared with the youtube
/// source plugin, so both derive the same id).
pub use youtube_url::video_id as youtube_id;

#[cfg(test)]
mod tests {
    use super::*;

    const ID: &str = "dQw4w9WgXcQ";

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
