//! Turning what a user typed into songs, through the source plugins: a URL goes to the
//! first source (by name) that claims it; free text to the first source that finds
//! something.

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
}

/// Whether `query` is meant as a URL rather than search words.
pub fn is_url(query: &str) -> bool {
    let q = query.trim();
    (q.starts_with("http://") || q.starts_with("https://")) && !q.contains(char::is_whitespace)
}

/// The songs `query` names (a playlist URL yields several), for `user`.
pub async fn resolve(
    plugins: &PluginHost,
    query: &str,
    user: u64,
) -> Result<Vec<Song>, ResolveError> {
    let query = query.trim();
    let sources = plugins.names(World::Source);
    if sources.is_empty() {
        return Err(ResolveError::NoSources);
    }
    let url = is_url(query);
    let mut last_error = None;
    for source in &sources {
        if url {
            match plugins.claims(source, query).await {
                Ok(true) => {}
                Ok(false) => continue,
                Err(e) => {
                    tracing::warn!(%source, error = %e, "source failed to answer claims");
                    continue;
                }
            }
        }
        match plugins.resolve(source, query).await {
            Ok(tracks) if !tracks.is_empty() => {
                return Ok(tracks
                    .into_iter()
                    .map(|t| Song {
                        source: source.clone(),
                        id: t.id,
                        title: t.title,
                        duration_ms: t.duration_ms,
                        page_url: t.page_url,
                        requested_by: user,
                        uid: 0,
                    })
                    .collect());
            }
            // A URL belongs to the source that claimed it: its answer is final.
            Ok(_) if url => return Err(ResolveError::NotFound(query.to_string())),
            Ok(_) => {}
            Err(e) if url => return Err(ResolveError::Source(format!("{source}: {e}"))),
            Err(e) => last_error = Some(format!("{source}: {e}")),
        }
    }
    match (url, last_error) {
        (true, _) => Err(ResolveError::Unclaimed(query.to_string())),
        (false, Some(e)) => Err(ResolveError::Source(e)),
        (false, None) => Err(ResolveError::NotFound(query.to_string())),
    }
}
