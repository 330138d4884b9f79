//! The cache store's repairs: `minstrel cache verify` finds and repairs damage (corrupt,
//! missing and stray files, debris of dead writers), and never takes a running writer's
//! temp file for debris. Real processes, real SQLite files and a real HTTP server on
//! loopback.

use std::time::Duration;

use minstrel_local::http::{LocalHttp, Route};
use minstrel_tests::database;
use minstrel_tests::process::{finished, spawn};
use minstrel_tests::{
    CountingFetcher, bytes, check, hash_hex, json_output, key, minstrel, open_store, temp_files,
    test_config, wait_for,
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verify_finds_and_repairs_damage() {
    let dir = tempfile::tempdir().unwrap();
    let store = open_store(dir.path(), test_config()).await;
    let mut blobs = Vec::new();
    for i in 0..3 {
        let f = CountingFetcher::new(bytes(100 + i, 10_000), Duration::ZERO);
        blobs.push(store.get_or_fetch(&key(100 + i), f).await.unwrap().blob);
    }
    drop(store);
    let clean = minstrel(dir.path())
        .args(["cache", "verify", "--deep", "--json"])
        .output()
        .unwrap();
    check(&clean);

    // Corrupt one blob (same size, so only --deep sees it), delete another, add strays.
    let mut data = std::fs::read(&blobs[0].path).unwrap();
    data[10] ^= 0xff;
    std::fs::write(&blobs[0].path, data).unwrap();
    std::fs::remove_file(&blobs[1].path).unwrap();
    let orphan = bytes(999, 100);
    let orphan_hash = hash_hex(&orphan);
    let fan = dir.path().join("blobs").join(&orphan_hash[..2]);
    std::fs::create_dir_all(&fan).unwrap();
    std::fs::write(fan.join(&orphan_hash), orphan).unwrap();
    std::fs::write(dir.path().join("blobs/not-a-blob"), b"x").unwrap();
    std::fs::write(dir.path().join("tmp/dead.part"), b"partial").unwrap();

    let shallow = minstrel(dir.path())
        .env("MINSTREL_STORE__TEMP_GRACE_SECS", "0")
        .args(["cache", "verify", "--json"])
        .output()
        .unwrap();
    assert_eq!(
        shallow.status.code(),
        Some(2),
        "problems found means exit status 2"
    );
    let v: serde_json::Value = serde_json::from_slice(&shallow.stdout).unwrap();
    assert_eq!(
        (v["corrupt"].as_u64(), v["missing_blobs"].as_u64()),
        (Some(0), Some(1)),
        "{v}"
    );
    assert_eq!(
        (v["orphan_files"].as_u64(), v["temp_files"].as_u64()),
        (Some(2), Some(1)),
        "{v}"
    );

    let mut cmd = minstrel(dir.path());
    cmd.env("MINSTREL_STORE__TEMP_GRACE_SECS", "0");
    let deep = json_output(cmd.args(["cache", "verify", "--deep", "--repair", "--json"]));
    assert_eq!(deep["corrupt"], 1, "{deep}");
    let after = json_output(minstrel(dir.path()).args(["cache", "verify", "--deep", "--json"]));
    for field in ["temp_files", "orphan_files", "missing_blobs", "corrupt"] {
        assert_eq!(after[field], 0, "{field}: {after}");
    }
    assert_eq!(after["checked_blobs"], 1, "only the intact blob is left");
    assert!(blobs[2].path.exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reconcile_spares_writers_that_are_still_running() {
    let dir = tempfile::tempdir().unwrap();
    let server = LocalHttp::start().await.unwrap();
    let body = bytes(9, 300 * 1024);
    server.route(
        "/w.opus",
        Route::ok(body.clone()).paced(30, Duration::from_millis(80)),
    );
    let url = server.url("/w.opus");
    let writer = spawn(minstrel(dir.path()).args(["cache", "fetch", &url, "--json"]));
    let writing = async || temp_files(dir.path()) == 1;
    assert!(
        wait_for(Duration::from_secs(20), writing).await,
        "the writer never started its temp file"
    );
    // Repair with no grace at all, repeatedly, while the writer is mid-download.
    for _ in 0..5 {
        let report = json_output(
            minstrel(dir.path())
                .env("MINSTREL_STORE__TEMP_GRACE_SECS", "0")
                .args(["cache", "verify", "--repair", "--json"]),
        );
        assert_eq!(
            report["temp_files"], 0,
            "a live writer's temp file is not debris"
        );
        tokio::time::sleep(Duration::from_millis(150)).await;
    }
    let out = finished(writer).await;
    check(&out);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["hash"], hash_hex(&body));
    assert_eq!(std::fs::read(v["path"].as_str().unwrap()).unwrap(), body);
}

/// Writers of one key killed mid-download leave a temp file each, all named after the
/// same lock: a repair removes every one of them. (With PostgreSQL, checking one file's
/// lock must not leave that lock looking held when the next file is checked.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dead_writers_of_one_key_are_all_cleared() {
    let dir = tempfile::tempdir().unwrap();
    let server = LocalHttp::start().await.unwrap();
    let body = bytes(11, 300 * 1024);
    server.route(
        "/dead.opus",
        Route::ok(body).paced(30, Duration::from_millis(200)),
    );
    let url = server.url("/dead.opus");
    const WRITERS: usize = 2;
    const COPIES: usize = 40;
    for n in 1..=WRITERS {
        let mut writer = spawn(minstrel(dir.path()).args(["cache", "fetch", &url, "--json"]));
        let writing = async || temp_files(dir.path()) == n;
        assert!(
            wait_for(Duration::from_secs(20), writing).await,
            "writer {n} never started its temp file"
        );
        writer.kill().unwrap();
        writer.wait().unwrap();
    }
    // More debris named after the same lock, as further dead writers would leave.
    let tmp = dir.path().join("tmp");
    let first = std::fs::read_dir(&tmp).unwrap().next().unwrap().unwrap();
    let name = first.file_name().into_string().unwrap();
    let tagged = name.split_once('.').unwrap().1.to_string();
    for i in 0..COPIES {
        std::fs::copy(first.path(), tmp.join(format!("copy{i}.{tagged}"))).unwrap();
    }
    // The server drops a dead writer's advisory lock once it sees the connection gone.
    if database::postgres_selected() {
        let scope = database::schema_name(dir.path());
        let key = minstrel::store::TrackKey::from_url(&url)
            .unwrap()
            .to_string();
        let id = minstrel::store::advisory::lock_id(&scope, minstrel::store::KEY_LOCK, &key);
        let free = async || database::advisory_locks_held(&[id]) == 0;
        assert!(
            wait_for(Duration::from_secs(30), free).await,
            "the key's lock is still held"
        );
    }
    let repaired = json_output(
        minstrel(dir.path())
            .env("MINSTREL_STORE__TEMP_GRACE_SECS", "0")
            .args(["cache", "verify", "--repair", "--json"]),
    );
    assert_eq!(repaired["temp_files"], WRITERS + COPIES, "{repaired}");
    assert_eq!(temp_files(dir.path()), 0, "debris left after {repaired}");
}
