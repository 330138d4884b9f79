//! The cache store across `minstrel` processes on one data dir: eight processes fetching
//! one song cause one download, processes starting together on an empty data dir all
//! come up, a hit remembered in one process follows evictions in others, a waiting process takes over when the downloader is killed, and a loop of
//! kill -9 leaves a consistent store. Real processes, real SQLite files and a real HTTP
//! server on loopback.

use std::collections::BTreeSet;
use std::path::Path;
use std::time::Duration;

use minstrel_local::http::{LocalHttp, Route};
use minstrel_tests::database;
use minstrel_tests::process::{child_role, data_dir_env, finished, spawn, spawn_child};
use minstrel_tests::{
    CountingFetcher, bytes, check, hash_hex, json_output, key, minstrel, open_store, remembering,
    test_config, wait_for,
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn eight_processes_cause_one_download() {
    let dir = tempfile::tempdir().unwrap();
    let server = LocalHttp::start().await.unwrap();
    let body = bytes(7, 512 * 1024);
    server.route(
        "/song.opus",
        Route::ok(body.clone()).paced(20, Duration::from_millis(50)),
    );
    let url = server.url("/song.opus");
    let children: Vec<_> = (0..8)
        .map(|_| spawn(minstrel(dir.path()).args(["cache", "fetch", &url, "--json"])))
        .collect();
    let mut hashes = BTreeSet::new();
    let mut downloads = 0;
    for child in children {
        let out = finished(child).await;
        check(&out);
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        for field in ["path", "hash", "size", "hit"] {
            assert!(v.get(field).is_some(), "missing {field} in {v}");
        }
        hashes.insert(v["hash"].as_str().unwrap().to_string());
        downloads += usize::from(!v["hit"].as_bool().unwrap());
        assert_eq!(std::fs::read(v["path"].as_str().unwrap()).unwrap(), body);
    }
    assert_eq!(server.hits("/song.opus"), 1, "exactly one HTTP request");
    assert_eq!(hashes, BTreeSet::from([hash_hex(&body)]));
    assert_eq!(downloads, 1);
}

/// A hit this process remembers (see `store::known`) follows what other processes do:
/// another process evicts the song and caches different bytes for it, and a third
/// caches the old bytes under another key, so the old blob's file is back. The next
/// lookup here must find the new blob, not the remembered one (with PostgreSQL, once
/// the change is heard: see `store::pg_changes`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_remembered_hit_follows_what_other_processes_change() {
    let dir = tempfile::tempdir().unwrap();
    let server = LocalHttp::start().await.unwrap();
    let (old, new) = (bytes(11, 64 * 1024), bytes(12, 64 * 1024));
    server.route("/song.opus", Route::ok(old.clone()));
    server.route("/copy.opus", Route::ok(old.clone()));
    let url = server.url("/song.opus");
    let fetch =
        |url: &str| json_output(minstrel(dir.path()).args(["cache", "fetch", url, "--json"]));
    assert_eq!(fetch(&url)["hash"], hash_hex(&old));

    let store = open_store(dir.path(), test_config()).await;
    assert!(remembering(&store).await);
    let song = minstrel::store::TrackKey::from_url(&url).unwrap();
    for _ in 0..2 {
        let blob = store.lookup(&song).await.unwrap().expect("cached");
        assert_eq!(blob.hash, hash_hex(&old));
    }

    let gc = json_output(
        minstrel(dir.path())
            .env("MINSTREL_STORE__MAX_CACHE_BYTES", "0")
            .args(["cache", "gc", "--json"]),
    );
    assert_eq!(gc["evicted_blobs"], 1, "{gc}");
    server.route("/song.opus", Route::ok(new.clone()));
    assert_eq!(fetch(&url)["hash"], hash_hex(&new));
    assert_eq!(fetch(&server.url("/copy.opus"))["hash"], hash_hex(&old));

    let found_new =
        async || store.lookup(&song).await.unwrap().expect("cached").hash == hash_hex(&new);
    let fresh = if database::postgres_selected() {
        wait_for(Duration::from_secs(10), found_new).await
    } else {
        found_new().await
    };
    assert!(fresh, "a stale remembered hit");
    let blob = store.lookup(&song).await.unwrap().expect("cached");
    assert_eq!(std::fs::read(&blob.path).unwrap(), new);
    store.close().await;
}

#[test]
fn processes_starting_together_on_an_empty_data_dir_all_come_up() {
    for _ in 0..3 {
        let dir = tempfile::tempdir().unwrap();
        let children: Vec<_> = (0..8)
            .map(|_| spawn(minstrel(dir.path()).args(["cache", "stats", "--json"])))
            .collect();
        for child in children {
            let out = child.wait_with_output().unwrap();
            check(&out);
            let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
            assert_eq!(v["tracks"], 0);
        }
    }
}

/// Whether process `pid` is blocked on one of the store's key locks (`url`'s, with
/// PostgreSQL): with files, the kernel lists blocked `flock` requests in /proc/locks,
/// marked `->`, with the file's inode; with PostgreSQL, pg_locks lists the ungranted
/// advisory lock.
fn waits_for_a_key_lock(data_dir: &Path, pid: u32, url: &str) -> bool {
    if database::postgres_selected() {
        let key = minstrel::store::TrackKey::from_url(url)
            .unwrap()
            .to_string();
        let scope = database::schema_name(data_dir);
        let id = minstrel::store::advisory::lock_id(&scope, minstrel::store::KEY_LOCK, &key);
        return database::waits_for_an_advisory_lock(pid, id);
    }
    use std::os::unix::fs::MetadataExt;
    let key_locks: Vec<u64> = std::fs::read_dir(data_dir.join("locks"))
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with("key-"))
        .filter_map(|e| e.metadata().ok().map(|m| m.ino()))
        .collect();
    let locks = std::fs::read_to_string("/proc/locks").expect("/proc/locks");
    locks.lines().any(|line| {
        let fields: Vec<&str> = line.split_whitespace().collect();
        let Some(at) = fields.iter().position(|f| *f == "->") else {
            return false;
        };
        let (Some(holder), Some(file)) = (fields.get(at + 4), fields.get(at + 5)) else {
            return false;
        };
        let inode = file.rsplit(':').next().and_then(|i| i.parse::<u64>().ok());
        *holder == pid.to_string() && inode.is_some_and(|i| key_locks.contains(&i))
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_waiter_takes_over_when_the_downloader_is_killed() {
    let dir = tempfile::tempdir().unwrap();
    let server = LocalHttp::start().await.unwrap();
    let body = bytes(8, 400 * 1024);
    server.route(
        "/slow.opus",
        Route::ok(body.clone()).paced(40, Duration::from_millis(75)),
    );
    let url = server.url("/slow.opus");
    let fetch = || {
        spawn(
            minstrel(dir.path())
                .env("MINSTREL_STORE__TEMP_GRACE_SECS", "0")
                .args(["cache", "fetch", &url, "--json"]),
        )
    };
    let mut first = fetch();
    let asked = async || server.hits("/slow.opus") == 1;
    assert!(
        wait_for(Duration::from_secs(20), asked).await,
        "the first process never asked for the song"
    );
    let second = fetch();
    let waiter = second.id();
    let waiting = async || waits_for_a_key_lock(dir.path(), waiter, &url);
    assert!(
        wait_for(Duration::from_secs(20), waiting).await,
        "the second process never waited for the key lock"
    );
    assert_eq!(
        server.hits("/slow.opus"),
        1,
        "the second process waits for the first"
    );
    first.kill().unwrap(); // SIGKILL
    first.wait().unwrap();
    let out = finished(second).await;
    check(&out);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["hash"], hash_hex(&body));
    assert_eq!(v["hit"], false);
    assert_eq!(server.hits("/slow.opus"), 2);

    // The killed writer's temp file is debris that verify reports and repair sweeps.
    let report = json_output(minstrel(dir.path()).args(["cache", "verify", "--json", "--repair"]));
    assert_eq!(report["temp_files"], 1, "{report}");
    let report = json_output(minstrel(dir.path()).args(["cache", "verify", "--deep", "--json"]));
    assert_eq!(report["temp_files"], 0, "{report}");
    assert_eq!(report["corrupt"], 0, "{report}");
}

/// The child processes of the kill -9 loop below (role `churn`).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn child() {
    let Some(role) = child_role() else { return };
    let dir = std::env::var("DATA_DIR").unwrap();
    let store = open_store(Path::new(&dir), test_config()).await;
    match role.as_str() {
        "churn" => {
            // Upserts, hits and claims in a loop until killed.
            let mut i = 0u64;
            loop {
                i += 1;
                let f = CountingFetcher::new(bytes(i % 7, 2048), Duration::ZERO);
                store.get_or_fetch(&key(i % 7), f).await.unwrap();
                store.claim("churn", &i.to_string()).await.unwrap();
            }
        }
        other => panic!("unknown child role {other}"),
    }
}

/// Small xorshift PRNG, seeded per run; the seed is printed so a failure can be replayed.
struct Rng(u64);
impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_dash_nine_loop_leaves_a_consistent_store() {
    let dir = tempfile::tempdir().unwrap();
    let server = LocalHttp::start().await.unwrap();
    let bodies: Vec<Vec<u8>> = (0..6)
        .map(|i| bytes(500 + i, 200 * 1024 + i as usize))
        .collect();
    for (i, body) in bodies.iter().enumerate() {
        server.route(
            &format!("/k{i}"),
            Route::ok(body.clone()).paced(10, Duration::from_millis(20)),
        );
    }
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64
        | 1;
    println!("kill loop seed {seed}");
    let mut rng = Rng(seed);
    let rounds = 25;

    for _ in 0..rounds {
        let mut victims: Vec<std::process::Child> = (0..4)
            .map(|_| {
                let i = rng.below(6);
                spawn(minstrel(dir.path()).args([
                    "cache",
                    "fetch",
                    &server.url(&format!("/k{i}")),
                    "--json",
                ]))
            })
            .collect();
        victims.push(spawn_child("child", "churn", &[data_dir_env(dir.path())]));
        tokio::time::sleep(Duration::from_millis(rng.below(400))).await;
        for v in &mut victims {
            let _ = v.kill();
        }
        for v in &mut victims {
            v.wait().unwrap();
        }
        // Whatever is visible now must be complete: fetch one track to the end.
        let i = rng.below(6) as usize;
        let v = json_output(minstrel(dir.path()).args([
            "cache",
            "fetch",
            &server.url(&format!("/k{i}")),
            "--json",
        ]));
        assert_eq!(v["hash"], hash_hex(&bodies[i]), "{v}");
        assert_eq!(
            std::fs::read(v["path"].as_str().unwrap()).unwrap(),
            bodies[i]
        );
    }
    // Every indexed blob is whole; only debris of killed writers may remain.
    let out = minstrel(dir.path())
        .args(["cache", "verify", "--deep", "--json"])
        .output()
        .unwrap();
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["corrupt"], 0, "{report}");
    assert_eq!(report["missing_blobs"], 0, "{report}");
    // A temp file's writer is alive while its key's lock is held. With files the
    // kernel drops a process's locks when it dies; the server drops them with the
    // session, once it notices the connection is gone: wait for that.
    if database::postgres_selected() {
        let scope = database::schema_name(dir.path());
        let ids: Vec<i64> = (0..6)
            .map(|i| {
                let key = minstrel::store::TrackKey::from_url(&server.url(&format!("/k{i}")));
                let key = key.unwrap().to_string();
                minstrel::store::advisory::lock_id(&scope, minstrel::store::KEY_LOCK, &key)
            })
            .collect();
        let free = async || database::advisory_locks_held(&ids) == 0;
        assert!(
            wait_for(Duration::from_secs(30), free).await,
            "key locks still held: {}",
            database::advisory_locks_held(&ids)
        );
    }
    let repaired = json_output(
        minstrel(dir.path())
            .env("MINSTREL_STORE__TEMP_GRACE_SECS", "0")
            .args(["cache", "verify", "--deep", "--repair", "--json"]),
    );
    println!("debris after {rounds} rounds of kill -9: {repaired}");
    // Exit status 2 when problems are found: the report says which.
    let out = minstrel(dir.path())
        .args(["cache", "verify", "--deep", "--json"])
        .output()
        .unwrap();
    let clean: serde_json::Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stderr)));
    for field in ["temp_files", "orphan_files", "missing_blobs", "corrupt"] {
        assert_eq!(clean[field], 0, "{field}: {clean}");
    }
    for (i, body) in bodies.iter().enumerate() {
        let v = json_output(minstrel(dir.path()).args([
            "cache",
            "fetch",
            &server.url(&format!("/k{i}")),
            "--json",
        ]));
        assert_eq!(std::fs::read(v["path"].as_str().unwrap()).unwrap(), *body);
    }
}
