//! The store's database in tests: the data dir's SQLite file (the default), or, with
//! `STORE_BACKEND=postgres`, the PostgreSQL server at `POSTGRES_URL`
//! (`postgres://postgres@127.0.0.1:5432/test` unless set), in a fresh schema per data dir, which
//! every process on that data dir shares. `scripts/test.sh` runs the store tests both
//! ways.

use std::collections::BTreeSet;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::sync::{Mutex, Once};

use sqlx::Connection;

const DEFAULT_SERVER: &str = "postgres://postgres@127.0.0.1:5432/test";
/// Schemas this helper made are dropped by a later run once this old (seconds).
const KEEP_SCHEMAS_SECS: u64 = 6 * 3600;

/// Whether the store tests run on PostgreSQL.
pub fn postgres_selected() -> bool {
    std::env::var("STORE_BACKEND").as_deref() == Ok("postgres")
}

/// The PostgreSQL server's database URL.
pub fn server_url() -> String {
    std::env::var("POSTGRES_URL").unwrap_or_else(|_| DEFAULT_SERVER.to_string())
}

/// The `[store] database_url` of a store on `dir` under the selected backend.
pub fn store_database_url(dir: &Path) -> Option<String> {
    postgres_selected().then(|| schema_url(dir))
}

/// A database URL whose tables live in a schema of their own for `dir` (created on
/// first use; the same name in every process, as it is derived from the path).
pub fn schema_url(dir: &Path) -> String {
    let schema = schema_name(dir);
    static MADE: Mutex<BTreeSet<String>> = Mutex::new(BTreeSet::new());
    if MADE.lock().unwrap().insert(schema.clone()) {
        drop_old_schemas();
        create_schema(&schema, unix_secs());
    }
    with_search_path(&server_url(), &schema)
}

/// The schema of the stores on `dir`.
pub fn schema_name(dir: &Path) -> String {
    // Absolute, not canonical: the same name before and after the folder exists.
    let path = std::path::absolute(dir).unwrap_or_else(|_| dir.to_path_buf());
    format!(
        "mt_{}",
        &blake3::hash(path.as_os_str().as_bytes()).to_hex()[..16]
    )
}

/// `url` with its tables in `schema`.
pub fn with_search_path(url: &str, schema: &str) -> String {
    let sep = if url.contains('?') { '&' } else { '?' };
    format!("{url}{sep}options=-c%20search_path%3D{schema}")
}

/// Ends every connection listening for the index changes of the stores on `dir` (see
/// `store::pg_changes`), as a server restart or a network fault would; returns how
/// many it ended.
pub fn end_change_listeners(dir: &Path) -> i64 {
    let channel = minstrel::store::postgres::changes_channel(&schema_name(dir));
    let listen = format!(r#"LISTEN "{channel}""#);
    with_connection(async move |conn| {
        sqlx::query_scalar(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
             WHERE query = $1 AND pid <> pg_backend_pid()",
        )
        .bind(listen)
        .fetch_one(conn)
        .await
        .unwrap()
    })
}

/// Whether process `pid` (a `minstrel` or a test child) waits for the advisory lock
/// `id` (pg_locks shows a bigint key as its high and low halves).
pub fn waits_for_an_advisory_lock(pid: u32, id: i64) -> bool {
    let name = format!("minstrel/{pid}");
    let (high, low) = ((id as u64 >> 32) as i64, (id as u64 & 0xffff_ffff) as i64);
    with_connection(async move |conn| {
        let n: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
             WHERE l.locktype = 'advisory' AND NOT l.granted AND a.application_name = $1
               AND l.classid::BIGINT = $2 AND l.objid::BIGINT = $3 AND l.objsubid = 1",
        )
        .bind(name)
        .bind(high)
        .bind(low)
        .fetch_one(conn)
        .await
        .unwrap();
        n > 0
    })
}

/// How many of the advisory locks `ids` someone holds. A process's locks go with its
/// session, which the server drops some moments after the process is gone (killed, or
/// exited before its unlocks were sent).
pub fn advisory_locks_held(ids: &[i64]) -> i64 {
    let (high, low): (Vec<i64>, Vec<i64>) = ids
        .iter()
        .map(|&id| ((id as u64 >> 32) as i64, (id as u64 & 0xffff_ffff) as i64))
        .unzip();
    with_connection(async move |conn| {
        sqlx::query_scalar(
            "SELECT count(*) FROM pg_locks l JOIN unnest($1::BIGINT[], $2::BIGINT[]) AS k(high, low)
               ON l.classid::BIGINT = k.high AND l.objid::BIGINT = k.low
             WHERE l.locktype = 'advisory' AND l.objsubid = 1 AND l.granted",
        )
        .bind(high)
        .bind(low)
        .fetch_one(conn)
        .await
        .unwrap()
    })
}

fn drop_old_schemas() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let before = (unix_secs() - KEEP_SCHEMAS_SECS).to_string();
        let old = query_strings(
            "SELECT nspname::TEXT FROM pg_namespace n WHERE nspname LIKE 'mt\\_%'
             AND obj_description(n.oid, 'pg_namespace') < $1",
            &before,
        );
        let drops: Vec<String> = old
            .iter()
            .map(|s| format!("DROP SCHEMA IF EXISTS {s} CASCADE"))
            .collect();
        execute(&drops);
    });
}

fn unix_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// Runs `f` on a connection to the server, on a runtime of its own (callers may be
/// sync, or inside another runtime).
fn with_connection<T: Send + 'static>(
    f: impl AsyncFnOnce(&mut sqlx::PgConnection) -> T + Send + 'static,
) -> T {
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async move {
            let mut conn = sqlx::PgConnection::connect(&server_url())
                .await
                .unwrap_or_else(|e| panic!("PostgreSQL at {}: {e}", server_url()));
            f(&mut conn).await
        })
    })
    .join()
    .expect("database helper thread")
}

/// Creates `schema` unless it exists, marked with the time `now` (for
/// [`drop_old_schemas`]). Neither statement is atomic between sessions: of several
/// processes doing this at the same moment (children of one test), all but one may fail
/// creating it with a unique violation, which only says that it exists now, and
/// marking it with "tuple concurrently updated", which leaves another's mark.
fn create_schema(schema: &str, now: u64) {
    let create = format!("CREATE SCHEMA IF NOT EXISTS {schema}");
    let mark = format!("COMMENT ON SCHEMA {schema} IS '{now}'");
    with_connection(async move |conn| {
        // Names made here from a hash, never from input.
        match sqlx::raw_sql(sqlx::AssertSqlSafe(create.as_str()))
            .execute(&mut *conn)
            .await
        {
            Ok(_) => {}
            Err(sqlx::Error::Database(e)) if e.code().as_deref() == Some("23505") => {}
            Err(e) => panic!("{create}: {e}"),
        }
        match sqlx::raw_sql(sqlx::AssertSqlSafe(mark.as_str()))
            .execute(&mut *conn)
            .await
        {
            Ok(_) => {}
            Err(sqlx::Error::Database(e)) if e.code().as_deref() == Some("XX000") => {}
            Err(e) => panic!("{mark}: {e}"),
        }
    });
}

fn execute(statements: &[String]) {
    let statements = statements.to_vec();
    with_connection(async move |conn| {
        for statement in &statements {
            // Names made here from hashes and numbers, never from input.
            sqlx::raw_sql(sqlx::AssertSqlSafe(statement.as_str()))
                .execute(&mut *conn)
                .await
                .unwrap_or_else(|e| panic!("{statement}: {e}"));
        }
    });
}

fn query_strings(sql: &'static str, arg: &str) -> Vec<String> {
    let arg = arg.to_string();
    with_connection(async move |conn| {
        sqlx::query_scalar(sql)
            .bind(arg)
            .fetch_all(conn)
            .await
            .unwrap()
    })
}
