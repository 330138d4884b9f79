//! What can go wrong running yt-dlp. Each message is one line a user can act on; the
//! plugin sees it as its `media` call's error.

use std::path::PathBuf;
use std::time::Duration;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum MediaError {
    #[error("bad URL: {0}")]
    BadUrl(String),
    #[error("bad search: {0}")]
    BadQuery(String),
    #[error("refused: {0}")]
    Refused(String),
    /// The configured program; logged, not shown (a user never sees host paths).
    #[error("yt-dlp is not installed (scripts/setup.sh installs it; or set media.yt_dlp)")]
    NotInstalled(PathBuf),
    #[error("yt-dlp failed: {0}")]
    Failed(String),
    #[error("yt-dlp took longer than {0:?}")]
    Timeout(Duration),
    #[error("yt-dlp sent no data for {0:?}")]
    Stalled(Duration),
    #[error("download larger than the limit of {limit} bytes")]
    TooLarge { limit: u64 },
    #[error("unexpected yt-dlp output: {0}")]
    Output(String),
    #[error("the audio sink refused the data: {0}")]
    Sink(String),
    #[error("running yt-dlp: {0}")]
    Io(String),
}
