//! `minstrel store migrate`: a populated SQLite installation moves to PostgreSQL with
//! every row and blob reference, as the bot then sees them through `[store]
//! database_url`; a database that already holds a store is refused and left as it was.
//! Real SQLite file, real PostgreSQL server (a fresh schema), the real binary.

use std::time::Duration;

use minstrel::config::StoreConfig;
use minstrel::shards::Owned;
use minstrel::store::{LoudnessRow, Store};
use minstrel_tests::database::{schema_url, with_search_path};
use minstrel_tests::{CountingFetcher, bytes, check, json_output, key, minstrel, test_config};

fn sqlite_config() -> StoreConfig {
    StoreConfig {
        database_url: None,
        ..test_config()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sqlite_installation_moves_to_postgres_with_every_row() {
    let dir = tempfile::tempdir().unwrap();
    let schema_dir = tempfile::tempdir().unwrap();
    let url = schema_url(schema_dir.path());

    // A populated installation: three songs (one played twice), loudness, two guilds'
    // queues, a plugin's kv entries and timers, claims and a cached search.
    let store = Store::open(dir.path(), sqlite_config()).await.unwrap();
    let mut hashes = Vec::new();
    for n in 0..3u64 {
        let f = CountingFetcher::new(bytes(n, 2000 + n as usize * 10), Duration::ZERO);
        hashes.push(store.get_or_fetch(&key(n), f).await.unwrap().blob.hash);
    }
    store.lookup(&key(0)).await.unwrap().expect("cached");
    let loudness = LoudnessRow {
        integrated_lufs: Some(-11.5),
        true_peak_db: Some(-0.4),
        range_lu: None,
        gain_db: -2.5,
        duration_ms: Some(183_000),
    };
    store.set_loudness(&hashes[1], &loudness).await.unwrap();
    store.save_player(11, r#"{"queue":["a"]}"#).await.unwrap();
    store
        .save_player(22, r#"{"queue":["b","c"]}"#)
        .await
        .unwrap();
    assert!(
        store
            .kv_set("poll", "open", b"yes", None, 10)
            .await
            .unwrap()
    );
    assert!(
        store
            .kv_set("poll", "votes", &[0, 1, 2, 255], None, 10)
            .await
            .unwrap()
    );
    let due = minstrel::store::now_ms() - 1;
    let t1 = store
        .timer_add("poll", due, b"close", Some(11), 10)
        .await
        .unwrap()
        .unwrap();
    let t2 = store
        .timer_add("poll", due + 3_600_000, b"later", None, 10)
        .await
        .unwrap()
        .unwrap();
    assert!(store.claim("message", "m-1").await.unwrap());
    let searched = store
        .cached_meta("search:abba", Duration::from_secs(3600), async || {
            Ok::<_, String>(b"[1,2,3]".to_vec())
        })
        .await
        .unwrap();
    let before = store.stats().await.unwrap().index;
    store.close().await;
    drop(store);

    let copied =
        json_output(minstrel(dir.path()).args(["store", "migrate", "--to", &url, "--json"]));
    for (table, rows) in [
        ("blobs", 3),
        ("tracks", 3),
        ("loudness", 1),
        ("players", 2),
        ("kv", 2),
        ("timers", 2),
        ("claims", 1),
        ("meta_cache", 1),
    ] {
        assert_eq!(copied[table], rows, "{table} in {copied}");
    }

    // The bot's view through the new database: the same counts, rows and files.
    let config = StoreConfig {
        database_url: Some(url.clone()),
        ..test_config()
    };
    let store = Store::open(dir.path(), config).await.unwrap();
    let after = store.stats().await.unwrap().index;
    assert_eq!(
        (after.tracks, after.blobs, after.bytes, after.hits),
        (before.tracks, before.blobs, before.bytes, before.hits)
    );
    for (n, hash) in hashes.iter().enumerate() {
        let blob = store
            .lookup(&key(n as u64))
            .await
            .unwrap()
            .expect("still cached");
        assert_eq!(&blob.hash, hash);
    }
    assert_eq!(store.loudness(&hashes[1]).await.unwrap(), Some(loudness));
    assert_eq!(
        store.saved_players().await.unwrap(),
        vec![
            (11, r#"{"queue":["a"]}"#.to_string()),
            (22, r#"{"queue":["b","c"]}"#.to_string())
        ]
    );
    assert_eq!(
        store.kv_get("poll", "votes").await.unwrap(),
        Some(vec![0, 1, 2, 255])
    );
    assert!(
        !store.claim("message", "m-1").await.unwrap(),
        "a claim was forgotten"
    );
    let fresh = store.fresh_meta("search:abba").await.unwrap();
    assert_eq!(fresh, Some(searched));
    let due_now = store
        .timers_due(Duration::from_secs(60), 10, Owned::ALL)
        .await
        .unwrap();
    assert_eq!(due_now.len(), 1);
    assert_eq!(
        (
            due_now[0].id,
            due_now[0].guild_id,
            due_now[0].payload.as_slice()
        ),
        (t1, Some(11), &b"close"[..])
    );
    // Ids go on after the copied ones; the later timer can still be cancelled by its id.
    let t3 = store
        .timer_add("poll", due, b"new", None, 10)
        .await
        .unwrap()
        .unwrap();
    assert!(t3 > t2, "new timer id {t3} reuses a copied one (<= {t2})");
    assert!(store.timer_cancel("poll", t2).await.unwrap());
    store.close().await;

    let verified = json_output(
        minstrel(dir.path())
            .env("MINSTREL_STORE__DATABASE_URL", &url)
            .args(["cache", "verify", "--deep", "--json"]),
    );
    assert_eq!(verified["checked_blobs"], 3, "{verified}");
    for problem in ["temp_files", "orphan_files", "missing_blobs", "corrupt"] {
        assert_eq!(verified[problem], 0, "{problem} in {verified}");
    }

    // Again into the same database: refused, nothing changed.
    let out = minstrel(dir.path())
        .args(["store", "migrate", "--to", &url])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("already holds a store"), "{err}");
    let stats = json_output(
        minstrel(dir.path())
            .env("MINSTREL_STORE__DATABASE_URL", &url)
            .args(["cache", "stats", "--json"]),
    );
    assert_eq!(stats["tracks"], 3, "{stats}");
}

#[test]
fn bad_migration_requests_are_refused_clearly() {
    let dir = tempfile::tempdir().unwrap();
    let url = schema_url(dir.path());
    let empty = tempfile::tempdir().unwrap();
    for (args, expected) in [
        (
            vec!["--to", "mysql://127.0.0.1/test"],
            "--to must be a postgres:// URL",
        ),
        (
            vec!["--from", "postgres://127.0.0.1/test", "--to", &url],
            "only a SQLite store",
        ),
        (
            vec![
                "--from",
                &format!("sqlite:{}", empty.path().display()),
                "--to",
                &url,
            ],
            "no SQLite store to migrate",
        ),
    ] {
        let out = minstrel(dir.path())
            .args(["store", "migrate"])
            .args(&args)
            .output()
            .unwrap();
        assert!(!out.status.success(), "{args:?} succeeded");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(expected), "{args:?}: {err}");
    }
    // A search_path naming no schema: the URL's fault, said so.
    let missing = with_search_path(
        &minstrel_tests::database::server_url(),
        "no_such_schema_here",
    );
    let out = minstrel(dir.path())
        .env("MINSTREL_STORE__DATABASE_URL", &missing)
        .args(["cache", "stats"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("search_path"), "{err}");
    check(
        &minstrel(dir.path())
            .args(["cache", "stats"])
            .output()
            .unwrap(),
    );
}
