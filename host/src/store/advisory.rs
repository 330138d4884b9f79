//! PostgreSQL session advisory locks: the store's cross-process locks when the index
//! lives in PostgreSQL (see `locks`).
//!
//! A held lock keeps its own connection, from pools apart from the index's, so a holder
//! can always write the index. Blob locks are taken inside key locks (a download
//! persists its blob while holding its key), so they have a pool of their own: with one
//! pool, flights holding every connection for their keys would wait forever for a blob
//! lock. Dropping the guard unlocks and returns the connection; if that fails, or the
//! process dies, closing the session releases the lock on the server. A wait that ends
//! without the lock (cancelled, failed) closes its connection rather than pooling a
//! session that may still be granted the lock.

use std::fmt;
use std::time::Duration;

use sqlx::pool::PoolConnection;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{PgPool, Postgres};

use super::blobs::BLOB_LOCK;
use super::error::Result;

/// Key and metadata locks held at once (a download holds its key for its whole
/// length, so waiting for a connection may take as long as a download).
const OUTER_CONNECTIONS: u32 = 32;
const OUTER_WAIT: Duration = Duration::from_secs(3600);
/// Blob locks held at once (each for a rename and one index write, or one eviction).
const BLOB_CONNECTIONS: u32 = 8;
const BLOB_WAIT: Duration = Duration::from_secs(60);

/// The advisory locks of one store: keys are hashed with the store's scope (its
/// schema), so stores in different schemas of one database never contend.
#[derive(Debug, Clone)]
pub struct PgLocks {
    outer: PgPool,
    blob: PgPool,
    scope: String,
}

/// A held advisory lock.
pub struct PgLock {
    conn: Option<PoolConnection<Postgres>>,
    id: i64,
}

impl PgLocks {
    /// Pools that connect on first use.
    pub fn new(options: PgConnectOptions, scope: String) -> Self {
        let pool = |max, wait| {
            PgPoolOptions::new()
                .max_connections(max)
                .min_connections(0)
                .acquire_timeout(wait)
                .idle_timeout(Duration::from_secs(60))
                .connect_lazy_with(options.clone())
        };
        Self {
            outer: pool(OUTER_CONNECTIONS, OUTER_WAIT),
            blob: pool(BLOB_CONNECTIONS, BLOB_WAIT),
            scope,
        }
    }

    pub fn id(&self, namespace: &str, key: &str) -> i64 {
        lock_id(&self.scope, namespace, key)
    }

    fn pool(&self, namespace: &str) -> &PgPool {
        if namespace == BLOB_LOCK {
            &self.blob
        } else {
            &self.outer
        }
    }

    pub async fn lock(&self, namespace: &str, key: &str) -> Result<PgLock> {
        let id = self.id(namespace, key);
        let mut waiting = Waiting(Some(self.pool(namespace).acquire().await?));
        let conn = waiting.0.as_mut().expect("connection");
        sqlx::query("SELECT pg_advisory_lock($1)")
            .bind(id)
            .execute(&mut **conn)
            .await?;
        Ok(PgLock {
            conn: waiting.0.take(),
            id,
        })
    }

    pub async fn try_lock(&self, namespace: &str, key: &str) -> Result<Option<PgLock>> {
        let id = self.id(namespace, key);
        self.try_lock_in(self.pool(namespace), id).await
    }

    /// Whether anyone holds the lock with this id (see `Locks::tag`). Taken and given
    /// back in one statement on one connection: a lock released in the background (as
    /// a dropped [`PgLock`] is) would still look held to the next check on another
    /// connection.
    pub async fn is_held(&self, id: i64) -> Result<bool> {
        let held: bool = sqlx::query_scalar(
            "SELECT CASE WHEN pg_try_advisory_lock($1) THEN NOT pg_advisory_unlock($1) ELSE true END",
        )
        .bind(id)
        .fetch_one(&self.outer)
        .await?;
        Ok(held)
    }

    async fn try_lock_in(&self, pool: &PgPool, id: i64) -> Result<Option<PgLock>> {
        let mut conn = pool.acquire().await?;
        let held: bool = sqlx::query_scalar("SELECT pg_try_advisory_lock($1)")
            .bind(id)
            .fetch_one(&mut *conn)
            .await?;
        Ok(held.then_some(PgLock {
            conn: Some(conn),
            id,
        }))
    }
}

/// The 64-bit advisory lock key of `key` in `namespace` for the store whose schema is
/// `scope` (collisions only serialise two keys briefly).
pub fn lock_id(scope: &str, namespace: &str, key: &str) -> i64 {
    let mut h = blake3::Hasher::new();
    for part in [scope, namespace, key] {
        h.update(part.as_bytes());
        h.update(b"\0");
    }
    i64::from_le_bytes(h.finalize().as_bytes()[..8].try_into().expect("8 bytes"))
}

/// A connection waiting for a lock: closed if the wait ends without the lock.
struct Waiting(Option<PoolConnection<Postgres>>);

impl Drop for Waiting {
    fn drop(&mut self) {
        if let Some(conn) = self.0.take() {
            drop(conn.detach());
        }
    }
}

impl Drop for PgLock {
    fn drop(&mut self) {
        let Some(mut conn) = self.conn.take() else {
            return;
        };
        let id = self.id;
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            drop(conn.detach());
            return;
        };
        runtime.spawn(async move {
            let unlocked: std::result::Result<bool, _> =
                sqlx::query_scalar("SELECT pg_advisory_unlock($1)")
                    .bind(id)
                    .fetch_one(&mut *conn)
                    .await;
            if !matches!(unlocked, Ok(true)) {
                drop(conn.detach());
            }
        });
    }
}

impl fmt::Debug for PgLock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PgLock").field("id", &self.id).finish()
    }
}
