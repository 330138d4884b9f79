//! Turning what a user typed into songs, through the source plugins: a query a source
//! claims (a URL it knows, or its own form like `tone:440`) goes to the first source (by
//! name) that claims it; other free text to the first source that finds something.

use crate::plugins::{PluginHost, World};

use super::queue::Song;

#[derive(Debug, thiserror::Error)]
pub enum ResolveError {
    #[error("no audio source plugin is loaded")]
    NoSources,
    #[error("no source can play {0}")]
    Unclaimed(String),
    #[error("nothing found for \"{0}\"")]
    NotFound(String),
    #[error("{0}")]
    Source(String),
    #[error("this server does not play from the {0} source (see /settings)")]
    NotAllowed(String),
}

/// What a query named.
#[derive(Debug, Clone)]
pub struct Found {
    pub songs: Vec<Song>,
    /// The query was search words no source claimed: `songs` are results to choose
    /// from, not a list to play (as a playlist's are).
    pub searched: bool,
}

impl Found {
    /// What playing the query means: a search plays its best result, anything else
    /// (a video, a playlist, a file) all its songs.
    pub fn to_play(mut self) -> Vec<Song> {
        if self.searched {
            self.songs.truncate(1);
        }
        self.songs
    }
}

/// Whether `query` is meant as a URL rather than search words.
pub fn is_url(query: &str) -> bool {
    let q = query.trim();
    (q.starts_with("http://") || q.starts_with("https://")) && !q.contains(char::is_whitespace)
}

/// The songs `query` names (a playlist URL or a search yields several), for `user`,
/// from the sources `allows` lets play (a guild's `/settings`).
pub async fn resolve(
    plugins: &PluginHost,
    query: &str,
    user: u64,
    allows: impl Fn(&str) -> bool,
) -> Result<Found, ResolveError> {
    let query = query.trim();
    let sources = plugins.names(World::Source);
    if sources.is_empty() {
        return Err(ResolveError::NoSources);
    }
    let url = is_url(query);
    let mut claimed = None;
    for source in &sources {
        match plugins.claims(source, query).await {
            Ok(true) => {
                claimed = Some(source);
                break;
            }
            Ok(false) => {}
            Err(e) => tracing::warn!(%source, error = %e, "source failed to answer claims"),
        }
    }
    // A claimed query belongs to its source: its answer is final.
    let candidates: Vec<&String> = match claimed {
        Some(source) if !allows(source) => return Err(ResolveError::NotAllowed(source.clone())),
        Some(source) => vec![source],
        None if url => return Err(ResolveError::Unclaimed(query.to_string())),
        None => sources.iter().filter(|s| allows(s)).collect(),
    };
    let mut last_error = None;
    for source in candidates {
        match plugins.resolve(source, query).await {
            Ok(tracks) if !tracks.is_empty() => {
                let songs = tracks
                    .into_iter()
                    .map(|found| Song {
                        source: source.clone(),
                        id: found.track.id,
                        title: found.track.title,
                        duration_ms: found.track.duration_ms,
                        page_url: found.track.page_url,
                        requested_by: user,
                        uid: 0,
                        live: found.live,
                    })
                    .collect();
                let searched = claimed.is_none();
                return Ok(Found { songs, searched });
            }
            Ok(_) if claimed.is_some() => {
                return Err(ResolveError::NotFound(query.to_string()));
            }
            Ok(_) => {}
            Err(e) if claimed.is_some() => {
                return Err(ResolveError::Source(format!("{source}: {e}")));
            }
            Err(e) => last_error = Some(format!("{source}: {e}")),
        }
    }
    match last_error {
        Some(e) => Err(ResolveError::Source(e)),
        None => Err(ResolveError::NotFound(query.to_string())),
    }
}
