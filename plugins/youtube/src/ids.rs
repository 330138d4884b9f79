//! What a query asks for: a video, a playlist or a search. URL forms are parsed by the
//! `youtube-url` crate, which the host's store keys use too, so the id this plugin
//! derives from a pasted URL is the id the store derives from it.

pub use youtube_url::{playlist_id, playlist_url, valid_video_id, video_id, watch_url};

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

#[cfg(test)]
mod tests {
    use super::*;

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
