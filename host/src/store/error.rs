//! The store's error type. Cloneable, because one failed flight reaches every waiter.

use std::sync::Arc;
use std::time::Duration;

#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    #[error("I/O error: {0}")]
    Io(#[from] Arc<std::io::Error>),
    #[error("database error: {0}")]
    Db(#[from] Arc<sqlx::Error>),
    #[error("migration failed: {0}")]
    Migrate(Arc<sqlx::migrate::MigrateError>),
    #[error("store configuration: {0}")]
    Config(String),
    #[error("fetch failed: {0}")]
    Fetch(String),
    #[error("download exceeds the size limit of {limit} bytes")]
    TooLarge { limit: u64 },
    #[error("fetch timed out after {0:?}")]
    Timeout(Duration),
    #[error("blob {0} is no longer in the cache")]
    Evicted(String),
    #[error("fetch task ended unexpectedly: {0}")]
    Aborted(String),
}

impl From<std::io::Error> for StoreError {
    fn from(e: std::io::Error) -> Self {
        Self::Io(Arc::new(e))
    }
}

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        Self::Db(Arc::new(e))
    }
}

impl From<sqlx::migrate::MigrateError> for StoreError {
    fn from(e: sqlx::migrate::MigrateError) -> Self {
        Self::Migrate(Arc::new(e))
    }
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;
