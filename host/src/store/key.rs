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

    /// The table the youtube plugin's tests read too, so both parse alike.
    const FORMS: &str = include_str!("../../../tests/fixtures/youtube-urls.tsv");

    #[test]
    fn youtube_forms_of_the_shared_table() {
        let mut checked = 0;
        for line in FORMS
            .lines()
            .filter(|l| !l.starts_with('#') && !l.is_empty())
        {
            let (expected, url) = line.split_once('\t').expect("id TAB url");
            let expected = (expected != "-").then(|| expected.to_string());
            assert_eq!(youtube_id(url), expected, "{url:?}");
            checked += 1;
        }
        assert!(checked > 30, "the table has {checked} rows");
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
