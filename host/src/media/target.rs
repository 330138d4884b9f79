//! What a plugin may hand to yt-dlp: a checked URL or a checked search. Nothing else
//! ever reaches its command line from a plugin.

use std::net::{IpAddr, SocketAddr};

use url::Url;

use super::error::MediaError;
use crate::address::is_public;

/// Longest URL accepted, in bytes.
pub const MAX_URL: usize = 2048;
/// Longest search query accepted, in characters.
pub const MAX_QUERY: usize = 200;

/// An absolute http(s) URL with a host, in `url`'s serialisation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MediaUrl(Url);

impl MediaUrl {
    /// Checks `input`: length, no leading `-`, no whitespace or control characters,
    /// parses as an absolute http(s) URL with a host and no credentials.
    pub fn parse(input: &str) -> Result<Self, MediaError> {
        let bad = |why: &str| MediaError::BadUrl(format!("{}: {why}", shorten(input)));
        if input.is_empty() {
            return Err(bad("empty"));
        }
        if input.len() > MAX_URL {
            return Err(bad(&format!("longer than {MAX_URL} bytes")));
        }
        if input.starts_with('-') {
            return Err(bad("starts with `-`"));
        }
        if input.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(bad("contains spaces or control characters"));
        }
        let url = Url::parse(input).map_err(|e| bad(&e.to_string()))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(bad("only http and https URLs are allowed"));
        }
        if url.host_str().is_none_or(str::is_empty) {
            return Err(bad("no host"));
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(bad("credentials in URLs are not allowed"));
        }
        Ok(Self(url))
    }

    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }

    /// Refuses a host that resolves to an address that is not globally routable unicast
    /// ([`is_public`]: loopback, private, link-local, IPv4-embedding IPv6, ...). yt-dlp
    /// resolves (and follows redirects) itself, so this is a first line against a
    /// plugin pointing the host at its own network, not a guarantee.
    pub async fn check_public(&self) -> Result<(), MediaError> {
        let host = self.0.host_str().unwrap_or_default();
        let bare = host.trim_start_matches('[').trim_end_matches(']');
        let port = self.0.port_or_known_default().unwrap_or(80);
        let addresses: Vec<SocketAddr> = match bare.parse::<IpAddr>() {
            Ok(ip) => vec![SocketAddr::new(ip, port)],
            Err(_) => tokio::net::lookup_host((bare, port))
                .await
                .map_err(|e| MediaError::Failed(format!("cannot resolve `{bare}`: {e}")))?
                .collect(),
        };
        match addresses.iter().find(|a| !is_public(a.ip())) {
            Some(bad) => Err(MediaError::Refused(format!(
                "`{bare}` resolves to a non-public address ({})",
                bad.ip()
            ))),
            None => Ok(()),
        }
    }
}

/// The sites `search` can query, as yt-dlp's search prefixes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SearchSite {
    Youtube,
    Soundcloud,
}

impl SearchSite {
    fn prefix(self) -> &'static str {
        match self {
            SearchSite::Youtube => "ytsearch",
            SearchSite::Soundcloud => "scsearch",
        }
    }
}

/// A checked search: yt-dlp's `PREFIXN:query` argument.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Search(String);

impl Search {
    /// Checks `query` (non-empty after trimming, at most [`MAX_QUERY`] characters, no
    /// control characters) and builds the argument for `limit` results (1..=`max`).
    pub fn new(site: SearchSite, query: &str, limit: u32, max: u32) -> Result<Self, MediaError> {
        let query = query.trim();
        if query.is_empty() {
            return Err(MediaError::BadQuery("empty query".into()));
        }
        if query.chars().count() > MAX_QUERY {
            return Err(MediaError::BadQuery(format!(
                "longer than {MAX_QUERY} characters"
            )));
        }
        if query.chars().any(char::is_control) {
            return Err(MediaError::BadQuery("contains control characters".into()));
        }
        let limit = limit.clamp(1, max.max(1));
        Ok(Self(format!("{}{limit}:{query}", site.prefix())))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

fn shorten(text: &str) -> String {
    const KEEP: usize = 80;
    match text.char_indices().nth(KEEP) {
        Some((cut, _)) => format!("{:?}...", &text[..cut]),
        None => format!("{text:?}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_that_are_refused() {
        let long = format!("https://example.org/{}", "a".repeat(MAX_URL));
        for bad in [
            "",
            "-J",
            "--exec=touch /tmp/x",
            "-https://example.org/",
            "example.org/watch",
            "ftp://example.org/a.mp3",
            "file:///etc/passwd",
            "javascript:alert(1)",
            "ytsearch5:never gonna",
            "https://example.org/a b",
            "https://example.org/a\nb",
            "https://user:pw@example.org/a",
            "http://",
            long.as_str(),
        ] {
            assert!(
                matches!(MediaUrl::parse(bad), Err(MediaError::BadUrl(_))),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn urls_that_are_accepted() {
        for good in [
            "https://www.youtube.com/watch?v=dQw4w9WgXcQ",
            "http://127.0.0.1:8080/song.ogg",
            "https://[::1]:9/a",
            "https://soundcloud.com/a/b",
        ] {
            assert!(MediaUrl::parse(good).is_ok(), "{good}");
        }
    }

    #[test]
    fn searches() {
        let s = Search::new(SearchSite::Youtube, "  lofi beats ", 5, 10).unwrap();
        assert_eq!(s.as_str(), "ytsearch5:lofi beats");
        // A query that looks like an option stays a search term.
        let s = Search::new(SearchSite::Soundcloud, "--exec rm", 500, 10).unwrap();
        assert_eq!(s.as_str(), "scsearch10:--exec rm");
        assert_eq!(
            Search::new(SearchSite::Youtube, "a", 0, 10)
                .unwrap()
                .as_str(),
            "ytsearch1:a"
        );
        for bad in ["", "   ", "a\u{0}b", "line\nbreak"] {
            assert!(
                Search::new(SearchSite::Youtube, bad, 5, 10).is_err(),
                "{bad:?}"
            );
        }
        let long = "x".repeat(MAX_QUERY + 1);
        assert!(Search::new(SearchSite::Youtube, &long, 5, 10).is_err());
    }

    #[tokio::test]
    async fn loopback_is_not_public() {
        let url = MediaUrl::parse("http://127.0.0.1:1/a").unwrap();
        assert!(matches!(
            url.check_public().await,
            Err(MediaError::Refused(_))
        ));
        let url = MediaUrl::parse("http://1.1.1.1/a").unwrap();
        url.check_public().await.unwrap();
    }
}
