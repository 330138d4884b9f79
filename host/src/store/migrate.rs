//! `minstrel store migrate`: copies a SQLite store's index (cache index, leases, claims,
//! metadata cache, loudness, players and their queues, guild settings, plugins' kv and timers) into an
//! empty PostgreSQL database or schema, in one transaction: all of it or nothing. The
//! blob files stay where they are, in the data dir the processes share.

use std::path::Path;

use cap_std::ambient_authority;
use cap_std::fs::Dir;
// Table and column names come from `TABLES`, never from input.
use sqlx::sqlite::SqliteRow;
use sqlx::{AssertSqlSafe, Row};

use super::error::{Result, StoreError};
use super::locks::Locks;
use super::postgres::PgIndex;
use super::sqlite::SqliteIndex;

#[derive(Clone, Copy)]
enum Kind {
    Text,
    Int,
    OptInt,
    Real,
    OptReal,
    Bytes,
}

use Kind::*;

/// Every table with its columns, parents before the tables that reference them.
const TABLES: &[(&str, &[(&str, Kind)])] = &[
    (
        "blobs",
        &[("hash", Text), ("size", Int), ("created_at", Int)],
    ),
    (
        "tracks",
        &[
            ("source", Text),
            ("id", Text),
            ("hash", Text),
            ("access_count", Int),
            ("last_access", Int),
            ("created_at", Int),
        ],
    ),
    (
        "leases",
        &[
            ("id", Text),
            ("hash", Text),
            ("holder", Text),
            ("expires_at", Int),
        ],
    ),
    (
        "claims",
        &[("kind", Text), ("id", Text), ("expires_at", Int)],
    ),
    (
        "meta_cache",
        &[("key", Text), ("value", Bytes), ("expires_at", Int)],
    ),
    (
        "loudness",
        &[
            ("hash", Text),
            ("integrated_lufs", OptReal),
            ("true_peak_db", OptReal),
            ("range_lu", OptReal),
            ("gain_db", Real),
            ("duration_ms", OptInt),
        ],
    ),
    (
        "players",
        &[("guild_id", Int), ("state", Text), ("updated_at", Int)],
    ),
    (
        "guild_settings",
        &[("guild_id", Int), ("settings", Text), ("updated_at", Int)],
    ),
    (
        "kv",
        &[
            ("plugin", Text),
            ("key", Text),
            ("value", Bytes),
            ("expires_at", OptInt),
        ],
    ),
    (
        "timers",
        &[
            ("id", Int),
            ("plugin", Text),
            ("due_at", Int),
            ("payload", Bytes),
            ("guild_id", OptInt),
            ("claimed_until", OptInt),
        ],
    ),
];

/// Rows copied, per table, in [`TABLES`] order.
pub type Copied = Vec<(&'static str, u64)>;

/// Copies the index of the store in `data_dir` (its `minstrel.db`, migrated to the
/// current schema first) into the PostgreSQL database at `url`, which must hold no
/// store rows yet.
pub async fn sqlite_to_postgres(data_dir: &Path, url: &str) -> Result<Copied> {
    let db = data_dir.join(super::DB_FILE);
    if !db.is_file() {
        return Err(StoreError::Config(format!(
            "{} does not exist: no SQLite store to migrate",
            db.display()
        )));
    }
    let locks_dir = data_dir.join("locks");
    std::fs::create_dir_all(&locks_dir)?;
    let locks = Locks::Files(Dir::open_ambient_dir(&locks_dir, ambient_authority())?);
    let source = SqliteIndex::open(&db, &locks).await?;
    let (target, _) = PgIndex::open(url).await?;

    let mut tx = target.pool().begin().await?;
    for (table, _) in TABLES {
        let n: i64 = sqlx::query_scalar(AssertSqlSafe(format!("SELECT count(*) FROM {table}")))
            .fetch_one(&mut *tx)
            .await?;
        if n > 0 {
            return Err(StoreError::Config(format!(
                "the PostgreSQL database already holds a store ({table} has {n} rows): \
                 migrate into an empty database or schema"
            )));
        }
    }
    let mut copied = Vec::new();
    for (table, columns) in TABLES {
        let names: Vec<&str> = columns.iter().map(|(name, _)| *name).collect();
        let select = format!("SELECT {} FROM {table}", names.join(", "));
        let rows: Vec<SqliteRow> = sqlx::query(AssertSqlSafe(select))
            .fetch_all(source.pool())
            .await?;
        let params: Vec<String> = (1..=columns.len()).map(|i| format!("${i}")).collect();
        // Timers keep their ids (plugins hold them to cancel).
        let overriding = if *table == "timers" {
            "OVERRIDING SYSTEM VALUE"
        } else {
            ""
        };
        let insert = format!(
            "INSERT INTO {table} ({}) {overriding} VALUES ({})",
            names.join(", "),
            params.join(", ")
        );
        for row in &rows {
            let mut query = sqlx::query(AssertSqlSafe(insert.as_str()));
            for (name, kind) in columns.iter() {
                query = match kind {
                    Text => query.bind(row.try_get::<String, _>(*name)?),
                    Int => query.bind(row.try_get::<i64, _>(*name)?),
                    OptInt => query.bind(row.try_get::<Option<i64>, _>(*name)?),
                    Real => query.bind(row.try_get::<f64, _>(*name)?),
                    OptReal => query.bind(row.try_get::<Option<f64>, _>(*name)?),
                    Bytes => query.bind(row.try_get::<Vec<u8>, _>(*name)?),
                };
            }
            query.execute(&mut *tx).await?;
        }
        copied.push((*table, rows.len() as u64));
    }
    sqlx::query(
        "SELECT setval(pg_get_serial_sequence('timers', 'id'), COALESCE(MAX(id), 0) + 1, false)
         FROM timers",
    )
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(copied)
}
