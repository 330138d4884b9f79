//! YouTube as a source: video URLs (every form the host's store keys know), playlist
//! pages (resolved to all their videos) and free-text searches.
//!
//! Nothing here talks to YouTube: the host's `media` service (yt-dlp with a fixed
//! argument template) does, and this plugin only ever hands it canonical URLs it built
//! itself (`watch?v=ID`, `playlist?list=ID`) or a search term through `media.search`.
//! Track ids are `youtube:<11-character id>`, whatever form was pasted, so two queries
//! for the same video share one cache entry.
//!
//! Grants it needs: `media` (and a `call_timeout_ms` long enough for a download).

mod ids;
mod tracks;

use minstrel_sdk::media::{self, SearchSite};
use minstrel_sdk::{Source, Track, audio::Sink};

use ids::Query;

/// Search results returned for a free-text query.
const SEARCH_RESULTS: u32 = 5;

struct Youtube;

impl Source for Youtube {
    fn claims(url: String) -> bool {
        ids::video_id(&url).is_some() || ids::playlist_id(&url).is_some()
    }

    fn resolve(query: String) -> Result<Vec<Track>, String> {
        match ids::classify(&query) {
            Query::Video(id) => {
                let info = media::probe(&ids::watch_url(&id))?;
                Ok(vec![tracks::video(
                    &id,
                    info.title,
                    info.duration_ms,
                    info.artwork_url,
                )])
            }
            Query::Playlist(list) => {
                let info = media::probe(&ids::playlist_url(&list))?;
                let found = tracks::entries(info.entries);
                if found.is_empty() {
                    return Err(format!("playlist {list} has no playable videos"));
                }
                Ok(found)
            }
            Query::Search(text) if text.is_empty() => Err("nothing to search for".into()),
            Query::Search(text) => Ok(tracks::entries(media::search(
                SearchSite::Youtube,
                &text,
                SEARCH_RESULTS,
            )?)),
            Query::OtherUrl => Err("not a YouTube video or playlist URL".into()),
        }
    }

    fn fetch(id: String, into: &Sink) -> Result<(), String> {
        let video = tracks::video_of(&id).ok_or_else(|| format!("not a YouTube track id: {id}"))?;
        media::download_audio(&ids::watch_url(video), into)
    }
}

minstrel_sdk::export_source!(Youtube);
