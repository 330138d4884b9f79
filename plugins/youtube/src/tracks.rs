//! From what the media service found to tracks with canonical ids.

use minstrel_sdk::Track;
use minstrel_sdk::media::MediaEntry;

use crate::ids;

/// The prefix of this source's track ids.
pub const PREFIX: &str = "youtube:";

/// Titles YouTube gives entries that cannot be played.
const UNPLAYABLE: &[&str] = &["[Deleted video]", "[Private video]", "[Unavailable video]"];

/// The track of video `id`. Without artwork from the probe, YouTube's standard
/// thumbnail address is used.
pub fn video(
    id: &str,
    title: String,
    duration_ms: Option<u64>,
    artwork_url: Option<String>,
) -> Track {
    Track {
        id: format!("{PREFIX}{id}"),
        title,
        duration_ms,
        artwork_url: artwork_url
            .or_else(|| Some(format!("https://i.ytimg.com/vi/{id}/hqdefault.jpg"))),
        page_url: Some(ids::watch_url(id)),
    }
}

/// The playable videos among playlist entries or search results, in order, each once.
/// Channels, playlists and deleted or private videos are skipped.
pub fn entries(entries: Vec<MediaEntry>) -> Vec<Track> {
    let mut seen = Vec::new();
    entries
        .into_iter()
        .filter(|e| !UNPLAYABLE.contains(&e.title.as_str()))
        .filter_map(|e| {
            let id = ids::video_id(&e.page_url)?;
            if seen.contains(&id) {
                return None;
            }
            seen.push(id.clone());
            Some(video(&id, e.title, e.duration_ms, e.artwork_url))
        })
        .collect()
}

/// The video id of a track id of this source.
pub fn video_of(track_id: &str) -> Option<&str> {
    track_id
        .strip_prefix(PREFIX)
        .filter(|id| ids::valid_video_id(id))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(title: &str, page: &str) -> MediaEntry {
        MediaEntry {
            title: title.into(),
            duration_ms: Some(1_000),
            artwork_url: None,
            page_url: page.into(),
        }
    }

    #[test]
    fn entries_keep_videos_once_in_order() {
        let tracks = entries(vec![
            entry("B", "https://www.youtube.com/watch?v=9bZkp7q19f0"),
            entry(
                "channel",
                "https://www.youtube.com/channel/UCuAXFkgsw1L7xaCfnd5JJOw",
            ),
            entry(
                "[Private video]",
                "https://www.youtube.com/watch?v=aaaaaaaaaaa",
            ),
            entry("A", "https://www.youtube.com/shorts/dQw4w9WgXcQ"),
            entry("B again", "https://youtu.be/9bZkp7q19f0"),
        ]);
        let ids: Vec<&str> = tracks.iter().map(|t| t.id.as_str()).collect();
        assert_eq!(ids, ["youtube:9bZkp7q19f0", "youtube:dQw4w9WgXcQ"]);
        assert_eq!(
            tracks[1].page_url.as_deref(),
            Some("https://www.youtube.com/watch?v=dQw4w9WgXcQ")
        );
        assert_eq!(
            tracks[1].artwork_url.as_deref(),
            Some("https://i.ytimg.com/vi/dQw4w9WgXcQ/hqdefault.jpg")
        );
    }

    #[test]
    fn track_ids() {
        assert_eq!(video_of("youtube:dQw4w9WgXcQ"), Some("dQw4w9WgXcQ"));
        for bad in [
            "dQw4w9WgXcQ",
            "youtube:",
            "youtube:short",
            "youtube:--exec=rm",
            "http:x",
        ] {
            assert_eq!(video_of(bad), None, "{bad}");
        }
    }
}
