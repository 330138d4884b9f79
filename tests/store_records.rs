//! The store's records, across tasks and processes on one data dir: claims won exactly
//! once and expiring, access counts never lost, the TTL metadata cache refreshed once
//! and serving stale values when a refresh fails, a plugin's kv quota, plugins' timers
//! claimed once (and again when a claim lapses), guild settings saved by another
//! process read at once, leases that keep
//! blobs from eviction (and lapse when their holder dies), and the scratch sweep. Real
//! processes (children of this test binary) and real SQLite files.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use minstrel::shards::Owned;
use minstrel::store::{Store, StoreError};
use minstrel_tests::database;
use minstrel_tests::process::{
    Span, child_results, child_role, data_dir_env, rendezvous, result_of, results_together,
    spawn_child, spawn_together, together_from_env,
};
use minstrel_tests::{
    CountingFetcher, bytes, hash_hex, key, open_store, remembering, test_config, wait_for,
};

/// Child process roles for the multi-process tests of this file.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn child() {
    let Some(role) = child_role() else { return };
    let dir = std::env::var("DATA_DIR").unwrap();
    let dir = Path::new(&dir);
    let mut config = test_config();
    if let Ok(ttl) = std::env::var("CLAIM_TTL") {
        config.claim_ttl_secs = ttl.parse().unwrap();
    }
    let store = open_store(dir, config).await;
    match role.as_str() {
        "claims" | "hits" | "meta" | "kv" | "timers" => {
            let (barrier, parties) = together_from_env();
            rendezvous(&barrier, parties).await;
            let (results, span) = Span::of(work_together(&store, &role)).await;
            for result in results {
                println!("RESULT {result}");
            }
            println!("{}", span.line());
        }
        "lease" => {
            let blob = store.lookup(&key(0)).await.unwrap().expect("cached");
            let _lease = store.lease(&blob).await.unwrap();
            println!("RESULT leased");
            let stop = dir.join("stop-lease");
            while !stop.exists() {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
        "settings" => {
            let guild = std::env::var("GUILD").unwrap().parse().unwrap();
            let settings = std::env::var("SETTINGS").unwrap();
            store.set_guild_settings(guild, &settings).await.unwrap();
            println!("RESULT saved");
        }
        other => panic!("unknown child role {other}"),
    }
}

/// A guild's settings are read on every command, so a process remembers them (see
/// `store::known`); another process saving new ones is seen by the next read here
/// (with PostgreSQL, once its announcement is heard: see `store::pg_changes`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn settings_saved_by_another_process_are_read_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let store = open_store(dir.path(), test_config()).await;
    settings_remembered(&store).await;
    assert_eq!(store.guild_settings(8).await.unwrap(), None);
    for (guild, settings) in [(7, r#"{"volume":55}"#), (8, r#"{"volume":70}"#)] {
        let child = spawn_child(
            "child",
            "settings",
            &[
                data_dir_env(dir.path()),
                ("GUILD", guild.to_string()),
                ("SETTINGS", settings.into()),
            ],
        );
        assert_eq!(child_results(child), ["saved"]);
        assert!(
            settings_become(&store, guild, settings).await,
            "guild {guild}: stale settings"
        );
    }
}

/// Once `store` remembers index reads, saves guild 7's settings through it and reads
/// them twice, so that they are remembered.
async fn settings_remembered(store: &Store) {
    assert!(remembering(store).await, "index reads are never remembered");
    store
        .set_guild_settings(7, r#"{"volume":10}"#)
        .await
        .unwrap();
    for _ in 0..2 {
        let read = store.guild_settings(7).await.unwrap();
        assert_eq!(read.as_deref(), Some(r#"{"volume":10}"#));
    }
}

/// Whether guild `guild`'s settings read here become `settings`: at the next read with
/// SQLite; with PostgreSQL within the moment another process's change takes to be
/// heard.
async fn settings_become(store: &Store, guild: u64, settings: &str) -> bool {
    let fresh = async || store.guild_settings(guild).await.unwrap().as_deref() == Some(settings);
    if database::postgres_selected() {
        wait_for(Duration::from_secs(10), fresh).await
    } else {
        fresh().await
    }
}

/// PostgreSQL only: a process whose connection hearing changes is lost remembers
/// nothing until it hears again, then has forgotten what it remembered before, since
/// what was announced meanwhile never reached it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_change_announced_while_nobody_listens_is_not_missed() {
    if !database::postgres_selected() {
        return; // SQLite's generation is a file: nothing to lose
    }
    let dir = tempfile::tempdir().unwrap();
    let store = open_store(dir.path(), test_config()).await;
    // Another process's store, here for a change made at a chosen moment.
    let other = open_store(dir.path(), test_config()).await;
    settings_remembered(&store).await;
    assert!(database::end_change_listeners(dir.path()) >= 1);
    let deaf = wait_for(Duration::from_secs(10), async || {
        !store.remembering().unwrap()
    });
    assert!(deaf.await, "the lost connection went unnoticed");
    other
        .set_guild_settings(7, r#"{"volume":55}"#)
        .await
        .unwrap();
    assert!(remembering(&store).await, "never hearing changes again");
    let read = store.guild_settings(7).await.unwrap();
    assert_eq!(read.as_deref(), Some(r#"{"volume":55}"#), "a stale setting");
}

/// One batch of claims, as the claimer writes it: a pair is won once, by its first
/// place in the batch; a pair claimed before loses until that claim expires, and is
/// then won once more; a batch larger than one statement holds is answered whole.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_of_claims_is_won_once_per_pair() {
    let dir = tempfile::tempdir().unwrap();
    let store = open_store(dir.path(), test_config()).await;
    let index = store.index();
    let now = minstrel::store::now_ms();
    let batch = [("m", "1"), ("m", "2"), ("m", "1"), ("i", "1")];
    let won = index.claim_many(&batch, now, now + 1_000).await.unwrap();
    assert_eq!(won, [true, true, false, true]);
    let won = index
        .claim_many(&[("m", "2"), ("m", "3")], now, now + 1_000)
        .await
        .unwrap();
    assert_eq!(won, [false, true]);
    let later = now + 2_000; // every claim above has expired
    let batch = [("m", "1"), ("m", "1"), ("m", "4"), ("m", "3")];
    let won = index
        .claim_many(&batch, later, later + 1_000)
        .await
        .unwrap();
    assert_eq!(won, [true, false, true, true]);

    let ids: Vec<String> = (0..1_200).map(|i| format!("big-{i}")).collect();
    let mut batch: Vec<(&str, &str)> = ids.iter().map(|id| ("m", id.as_str())).collect();
    batch.extend(ids.iter().rev().map(|id| ("m", id.as_str())));
    let won = index.claim_many(&batch, now, now + 1_000).await.unwrap();
    assert_eq!(won.len(), 2_400);
    assert!(won[..1_200].iter().all(|&w| w), "a first claim lost");
    assert!(won[1_200..].iter().all(|&w| !w), "a pair was won twice");
}

/// The part of a multi-process test each child does at the same time as the others;
/// returns its results.
async fn work_together(store: &Store, role: &str) -> Vec<String> {
    let n = || -> u64 { std::env::var("N").unwrap().parse().unwrap() };
    match role {
        "claims" => vec![claim_all(store, n(), 8).await.to_string()],
        "hits" => {
            let (barrier, parties) = together_from_env();
            let made = hits_while_others_start(store, &barrier, parties, n()).await;
            // What a bot does when it stops: the counts still in memory are written.
            store.close().await;
            vec![made.to_string()]
        }
        "meta" => {
            let counter = std::env::var("COUNTER").unwrap();
            let tasks: Vec<_> = (0..20)
                .map(|_| {
                    let (store, counter) = (store.clone(), counter.clone());
                    tokio::spawn(async move {
                        store
                            .cached_meta("catalogue", Duration::from_secs(60), move || async move {
                                use std::io::Write;
                                let mut f = std::fs::OpenOptions::new()
                                    .append(true)
                                    .create(true)
                                    .open(counter)
                                    .unwrap();
                                f.write_all(b"refresh\n").unwrap();
                                // Long enough that the other processes ask while it runs.
                                tokio::time::sleep(Duration::from_secs(1)).await;
                                Ok(b"the catalogue".to_vec())
                            })
                            .await
                            .unwrap()
                    })
                })
                .collect();
            for t in tasks {
                assert_eq!(t.await.unwrap(), b"the catalogue");
            }
            vec!["done".into()]
        }
        "kv" => kv_fill(store, &std::process::id().to_string()).await,
        "timers" => claim_timers(store).await,
        other => panic!("unknown child role {other}"),
    }
}

async fn claim_all(store: &Store, n: u64, tasks: u64) -> u64 {
    let won = Arc::new(AtomicUsize::new(0));
    let handles: Vec<_> = (0..tasks)
        .map(|_| {
            let (store, won) = (store.clone(), won.clone());
            tokio::spawn(async move {
                for id in 0..n {
                    if store.claim("message", &id.to_string()).await.unwrap() {
                        won.fetch_add(1, Ordering::SeqCst);
                    }
                }
            })
        })
        .collect();
    for h in handles {
        h.await.unwrap();
    }
    won.load(Ordering::SeqCst) as u64
}

/// Plugin `poll` adds 8 x 50 new kv keys (named after `who`) under a quota of
/// [`KV_QUOTA`], from 8 tasks at once; returns the keys that were stored.
async fn kv_fill(store: &Store, who: &str) -> Vec<String> {
    let handles: Vec<_> = (0..8)
        .map(|task| {
            let (store, who) = (store.clone(), who.to_string());
            tokio::spawn(async move {
                let mut stored = Vec::new();
                for i in 0..50 {
                    let key = format!("{who}-{task}-{i}");
                    if store
                        .kv_set("poll", &key, b"vote", None, KV_QUOTA)
                        .await
                        .unwrap()
                    {
                        stored.push(key);
                    }
                }
                stored
            })
        })
        .collect();
    let mut stored = Vec::new();
    for h in handles {
        stored.extend(h.await.unwrap());
    }
    stored
}

const KV_QUOTA: u32 = 100;

/// Claims due timers from 4 tasks until none is left; returns the ids claimed.
async fn claim_timers(store: &Store) -> Vec<String> {
    let handles: Vec<_> = (0..4)
        .map(|_| {
            let store = store.clone();
            tokio::spawn(async move {
                let mut claimed = Vec::new();
                // More than exist means some were claimed twice: stop and let the
                // count say so.
                while claimed.len() <= 1_000 {
                    let due = store
                        .timers_due(Duration::from_secs(60), 8, Owned::ALL)
                        .await
                        .unwrap();
                    if due.is_empty() {
                        break;
                    }
                    claimed.extend(due.into_iter().map(|t| t.id.to_string()));
                }
                claimed
            })
        })
        .collect();
    let mut claimed = Vec::new();
    for h in handles {
        claimed.extend(h.await.unwrap());
    }
    claimed
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn due_timers_are_claimed_exactly_once_across_tasks_and_processes() {
    let dir = tempfile::tempdir().unwrap();
    let store = open_store(dir.path(), test_config()).await;
    let n = 400;
    for i in 0..n {
        let added = store
            .timer_add("reminders", 0, &[i as u8], None, 1_000)
            .await;
        assert!(added.unwrap().is_some());
    }
    // A plugin's pending timers are bounded.
    for _ in n..1_000 {
        store
            .timer_add("reminders", i64::MAX, b"later", None, 1_000)
            .await
            .unwrap();
    }
    let over = store
        .timer_add("reminders", 0, b"x", None, 1_000)
        .await
        .unwrap();
    assert_eq!(over, None, "the 1,001st timer is refused");
    let (children, barrier) = spawn_together("child", dir.path(), "timers", 4, 5, &[]);
    rendezvous(&barrier, 5).await;
    let (mut claimed, span) = Span::of(claim_timers(&store)).await;
    for results in results_together(children, vec![span]).await {
        claimed.extend(results);
    }
    let unique: std::collections::BTreeSet<&String> = claimed.iter().collect();
    assert_eq!(
        claimed.len(),
        n,
        "claimed {} times, {} distinct",
        claimed.len(),
        unique.len()
    );
    assert_eq!(unique.len(), n);
    // A claim is a lease: a timer whose process died is claimed again once it lapses.
    let id: i64 = claimed[0].parse().unwrap();
    store.timer_done(id).await.unwrap();
    store
        .timer_add("reminders", 0, b"again", None, 1_000)
        .await
        .unwrap()
        .unwrap();
    let first = store
        .timers_due(Duration::from_millis(1), 8, Owned::ALL)
        .await
        .unwrap();
    assert_eq!(first.len(), 1);
    tokio::time::sleep(Duration::from_millis(20)).await;
    let again = store
        .timers_due(Duration::from_secs(60), 8, Owned::ALL)
        .await
        .unwrap();
    assert_eq!(again.len(), 1, "the lapsed claim is taken again");
    assert_eq!(again[0].id, first[0].id);
    assert!(
        store
            .timers_due(Duration::from_secs(60), 8, Owned::ALL)
            .await
            .unwrap()
            .is_empty()
    );
}

/// A bot sharded over processes fires a guild's timers only in the process that owns
/// the guild's shard; timers of no guild go to whichever process asks first.
#[tokio::test]
async fn timers_are_fired_by_the_owner_of_their_guild() {
    let dir = tempfile::tempdir().unwrap();
    let store = open_store(dir.path(), test_config()).await;
    // Guilds on shards 0..6 of 6 (Discord's (id >> 22) % count), and one timer of no guild.
    let guilds: Vec<u64> = (0..6u64).map(|n| (n << 22) | 77).collect();
    for guild in &guilds {
        store
            .timer_add("reminders", 0, &guild.to_be_bytes(), Some(*guild), 1_000)
            .await
            .unwrap()
            .unwrap();
    }
    store
        .timer_add("reminders", 0, b"nobody", None, 1_000)
        .await
        .unwrap()
        .unwrap();
    let lease = Duration::from_secs(60);
    let slice = Owned::new(2, 3, 6).unwrap();
    let due = store.timers_due(lease, 100, slice).await.unwrap();
    let mut fired: Vec<Option<u64>> = due.iter().map(|t| t.guild_id).collect();
    fired.sort();
    assert_eq!(fired, vec![None, Some(guilds[2]), Some(guilds[3])]);
    let rest = store.timers_due(lease, 100, Owned::ALL).await.unwrap();
    let mut fired: Vec<Option<u64>> = rest.iter().map(|t| t.guild_id).collect();
    fired.sort();
    let others = [0, 1, 4, 5].map(|i| Some(guilds[i]));
    assert_eq!(fired, others, "the other slices' timers were left for them");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn claims_are_won_exactly_once_across_tasks_and_processes() {
    let dir = tempfile::tempdir().unwrap();
    let n = 500;
    let (children, barrier) =
        spawn_together("child", dir.path(), "claims", 4, 5, &[("N", n.to_string())]);
    let store = open_store(dir.path(), test_config()).await;
    rendezvous(&barrier, 5).await;
    let (mut won, span) = Span::of(claim_all(&store, n, 8)).await;
    for results in results_together(children, vec![span]).await {
        won += results[0].parse::<u64>().unwrap();
    }
    assert_eq!(
        won, n,
        "each of {n} events claimed exactly once by 5 processes x 8 tasks"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn claims_expire() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = test_config();
    config.claim_ttl_secs = 1;
    let store = open_store(dir.path(), config).await;
    assert!(store.claim("interaction", "1").await.unwrap());
    assert!(!store.claim("interaction", "1").await.unwrap());
    assert!(
        store.claim("message", "1").await.unwrap(),
        "kinds are separate"
    );
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert!(store.claim("interaction", "1").await.unwrap());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn access_counts_are_never_lost_across_processes() {
    let dir = tempfile::tempdir().unwrap();
    let store = open_store(dir.path(), test_config()).await;
    let f = CountingFetcher::new(bytes(0, 1000), Duration::ZERO);
    store.get_or_fetch(&key(0), f).await.unwrap();
    let per_child = 1000;
    let (children, barrier) = spawn_together(
        "child",
        dir.path(),
        "hits",
        4,
        5,
        &[("N", per_child.to_string())],
    );
    rendezvous(&barrier, 5).await;
    let (made, span) = Span::of(hits_while_others_start(&store, &barrier, 5, per_child)).await;
    let children: u64 = results_together(children, vec![span])
        .await
        .iter()
        .map(|r| r[0].parse::<u64>().unwrap())
        .sum();
    assert!(children >= 4 * per_child, "a child made too few lookups");
    assert_eq!(store.stats().await.unwrap().index.hits, made + children);
}

/// Looks `key(0)` up until every one of `parties` processes has started doing so, then
/// `n` more times at once; returns how many lookups it made. A remembered hit takes
/// microseconds, so a fixed count could end before a later process leaves the
/// rendezvous; this way every process is still looking when the last one starts.
async fn hits_while_others_start(store: &Store, barrier: &Path, parties: usize, n: u64) -> u64 {
    let started = barrier.with_extension("started");
    std::fs::create_dir_all(&started).unwrap();
    std::fs::write(started.join(std::process::id().to_string()), b"").unwrap();
    let mut made = 0;
    while std::fs::read_dir(&started).unwrap().count() < parties {
        assert!(store.lookup(&key(0)).await.unwrap().is_some());
        made += 1;
    }
    let tasks: Vec<_> = (0..n)
        .map(|_| {
            let store = store.clone();
            tokio::spawn(async move { store.lookup(&key(0)).await.unwrap().is_some() })
        })
        .collect();
    for t in tasks {
        assert!(t.await.unwrap());
    }
    made + n
}

/// A hit is one read: the database (SQLite's write-ahead log) is unchanged by hundreds
/// of hits, and their counts reach it in one batch within the flush interval, unasked,
/// as another process on the same folder sees them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hit_writes_nothing_and_its_count_is_written_in_a_batch() {
    let dir = tempfile::tempdir().unwrap();
    let store = open_store(dir.path(), test_config()).await;
    let f = CountingFetcher::new(bytes(0, 1000), Duration::ZERO);
    store.get_or_fetch(&key(0), f).await.unwrap();
    let before = store.stats().await.unwrap().index.hits;
    // PostgreSQL has no file to watch; the batch below is checked on both.
    let wal = (!database::postgres_selected()).then(|| dir.path().join("minstrel.db-wal"));
    let logged = wal.as_ref().map(|wal| std::fs::read(wal).unwrap());
    for _ in 0..300 {
        store.lookup(&key(0)).await.unwrap().expect("cached");
    }
    if let (Some(wal), Some(logged)) = (&wal, logged) {
        assert!(
            std::fs::read(wal).unwrap() == logged,
            "a hit wrote to the database"
        );
    }

    let other = open_store(dir.path(), test_config()).await;
    let deadline = minstrel::store::access::FLUSH_EVERY * 5;
    let written = wait_for(deadline, async || {
        other.stats().await.unwrap().index.hits == before + 300
    })
    .await;
    assert!(
        written,
        "after {deadline:?} the database counts {} hits, expected {}",
        other.stats().await.unwrap().index.hits,
        before + 300
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ttl_cache_refreshes_once_and_serves_stale_on_failure() {
    let dir = tempfile::tempdir().unwrap();
    let store = open_store(dir.path(), test_config()).await;
    let runs = Arc::new(AtomicUsize::new(0));
    let call = |value: &'static str, ttl_ms: u64, fail: bool| {
        let (store, runs) = (store.clone(), runs.clone());
        async move {
            store
                .cached_meta(
                    "search:q",
                    Duration::from_millis(ttl_ms),
                    move || async move {
                        runs.fetch_add(1, Ordering::SeqCst);
                        tokio::time::sleep(Duration::from_millis(200)).await;
                        if fail {
                            Err("provider down".to_string())
                        } else {
                            Ok(value.as_bytes().to_vec())
                        }
                    },
                )
                .await
        }
    };
    let tasks: Vec<_> = (0..50)
        .map(|_| tokio::spawn(call("v1", 300, false)))
        .collect();
    for t in tasks {
        assert_eq!(t.await.unwrap().unwrap(), b"v1");
    }
    assert_eq!(runs.load(Ordering::SeqCst), 1);
    assert_eq!(
        call("v2", 300, false).await.unwrap(),
        b"v1",
        "fresh value served"
    );
    tokio::time::sleep(Duration::from_millis(350)).await;
    assert_eq!(
        call("v2", 300, true).await.unwrap(),
        b"v1",
        "stale value when refresh fails"
    );
    assert_eq!(runs.load(Ordering::SeqCst), 2);
    assert_eq!(call("v2", 300, false).await.unwrap(), b"v2");
    assert_eq!(runs.load(Ordering::SeqCst), 3);
    let err = store
        .cached_meta("other", Duration::from_secs(1), || async {
            Err("down".to_string())
        })
        .await
        .unwrap_err();
    assert!(err.to_string().contains("down"));
    assert_eq!(store.flights_in_progress(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ttl_cache_is_refreshed_by_one_process() {
    let dir = tempfile::tempdir().unwrap();
    let counter = dir.path().join("refreshes");
    let counter_env = ("COUNTER", counter.display().to_string());
    let (children, _) = spawn_together("child", dir.path(), "meta", 4, 4, &[counter_env]);
    results_together(children, Vec::new()).await;
    let refreshes = std::fs::read_to_string(&counter).unwrap().lines().count();
    assert_eq!(refreshes, 1, "4 processes x 20 tasks, one refresh");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn eviction_under_pressure_never_removes_a_leased_blob() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = test_config();
    config.max_cache_bytes = 500 * 1024; // about five of the 100 KiB blobs below
    let store = open_store(dir.path(), config).await;

    // Another process leases track 0 and holds it.
    store
        .get_or_fetch(
            &key(0),
            CountingFetcher::new(bytes(0, 100 * 1024), Duration::ZERO),
        )
        .await
        .unwrap();
    let mut holder = spawn_child("child", "lease", &[data_dir_env(dir.path())]);
    {
        use std::io::BufRead;
        let mut lines = std::io::BufReader::new(holder.stdout.take().unwrap()).lines();
        let leased = lines.find_map(|l| result_of(&l.unwrap()));
        assert_eq!(leased.as_deref(), Some("leased"));
    }
    let leased_elsewhere = store.lookup(&key(0)).await.unwrap().unwrap();

    let violations = Arc::new(AtomicUsize::new(0));
    let mut tasks = Vec::new();
    for worker in 0..8u64 {
        let (store, violations) = (store.clone(), violations.clone());
        tasks.push(tokio::spawn(async move {
            for round in 0..25u64 {
                let n = 1 + (worker * 31 + round * 7) % 40;
                let f = CountingFetcher::new(bytes(n, 100 * 1024), Duration::ZERO);
                let (fetched, lease) = store.acquire(&key(n), f).await.unwrap();
                for _ in 0..3 {
                    match std::fs::read(&fetched.blob.path) {
                        Ok(data) if hash_hex(&data) == fetched.blob.hash => {}
                        _ => {
                            violations.fetch_add(1, Ordering::SeqCst);
                        }
                    }
                    tokio::time::sleep(Duration::from_millis(2)).await;
                }
                lease.release().await.unwrap();
            }
        }));
    }
    for _ in 0..2 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            for _ in 0..60 {
                store.evict().await.unwrap();
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    assert_eq!(
        violations.load(Ordering::SeqCst),
        0,
        "a leased blob went missing"
    );
    assert!(
        leased_elsewhere.path.exists(),
        "blob leased by another process survived"
    );
    store.evict().await.unwrap();
    let stats = store.stats().await.unwrap();
    assert!(stats.index.bytes <= 500 * 1024, "{stats:?}");
    assert!(leased_elsewhere.path.exists());

    // The holder dies without releasing; its lease lapses and eviction may proceed.
    holder.kill().unwrap();
    holder.wait().unwrap();
    let mut config = test_config();
    config.max_cache_bytes = 0;
    let strict = open_store(dir.path(), config).await;
    strict.evict().await.unwrap();
    assert!(
        leased_elsewhere.path.exists(),
        "lease still live until it expires"
    );
    tokio::time::sleep(Duration::from_secs(4)).await;
    strict.evict().await.unwrap();
    assert!(
        !leased_elsewhere.path.exists(),
        "a crashed holder's lease lapses"
    );
}

/// With eviction emptying the cache as fast as it can, every `acquire` still gets its
/// blob leased: a fresh blob is leased before eviction may see it, and one evicted
/// between a hit and its lease is fetched again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acquire_always_gets_a_leased_blob_while_eviction_empties_the_cache() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = test_config();
    config.max_cache_bytes = 0;
    let store = open_store(dir.path(), config).await;
    let done = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let evictors: Vec<_> = (0..2)
        .map(|_| {
            let (store, done) = (store.clone(), done.clone());
            tokio::spawn(async move {
                while !done.load(Ordering::SeqCst) {
                    store.evict_to(0).await.unwrap();
                    tokio::task::yield_now().await;
                }
            })
        })
        .collect();
    let workers: Vec<_> = (0..6u64)
        .map(|worker| {
            let store = store.clone();
            tokio::spawn(async move {
                for round in 0..100u64 {
                    // Keys shared by the workers: hits, misses and joined flights.
                    let n = (worker + round) % 10;
                    let f = CountingFetcher::new(bytes(n, 4096), Duration::ZERO);
                    let (fetched, lease) = store
                        .acquire(&key(n), f)
                        .await
                        .unwrap_or_else(|e| panic!("worker {worker}, round {round}: {e}"));
                    let data = std::fs::read(&fetched.blob.path).expect("leased: not evicted");
                    assert_eq!(hash_hex(&data), fetched.blob.hash);
                    lease.release().await.unwrap();
                }
            })
        })
        .collect();
    for worker in workers {
        worker.await.unwrap();
    }
    done.store(true, Ordering::SeqCst);
    for evictor in evictors {
        evictor.await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scratch_sweep_spares_active_guilds_and_cached_blobs() {
    let dir = tempfile::tempdir().unwrap();
    let store = open_store(dir.path(), test_config()).await;
    let blob = store
        .get_or_fetch(
            &key(1),
            CountingFetcher::new(bytes(1, 1000), Duration::ZERO),
        )
        .await
        .unwrap()
        .blob;
    let active = store.scratch(1).await.unwrap();
    std::fs::write(active.path().join("work.tmp"), b"x").unwrap();
    let idle = store.scratch(2).await.unwrap();
    std::fs::write(idle.path().join("old.tmp"), b"x").unwrap();
    let idle_path = idle.path().to_path_buf();
    drop(idle);
    assert_eq!(
        store.sweep_scratch(Duration::from_secs(60)).await.unwrap(),
        0,
        "not idle long enough"
    );
    assert_eq!(store.sweep_scratch(Duration::ZERO).await.unwrap(), 1);
    assert!(!idle_path.exists());
    assert!(active.path().join("work.tmp").exists());
    assert!(blob.path.exists());
    drop(active);
    assert_eq!(store.sweep_scratch(Duration::ZERO).await.unwrap(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_held_lease_is_renewed_past_its_ttl() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = test_config();
    config.lease_ttl_secs = 1;
    let store = open_store(dir.path(), config.clone()).await;
    let blob = store
        .get_or_fetch(
            &key(1),
            CountingFetcher::new(bytes(1, 1000), Duration::ZERO),
        )
        .await
        .unwrap()
        .blob;
    let lease = store.lease(&blob).await.unwrap();
    config.max_cache_bytes = 0;
    let evictor = open_store(dir.path(), config).await;
    for _ in 0..6 {
        tokio::time::sleep(Duration::from_millis(500)).await;
        assert_eq!(evictor.evict().await.unwrap().blobs, 0);
        assert!(
            store.is_leased(&blob.hash).await.unwrap(),
            "renewed before expiry"
        );
    }
    lease.release().await.unwrap();
    assert_eq!(evictor.evict().await.unwrap().blobs, 1);
    assert!(!blob.path.exists());
    assert!(matches!(
        store.lease(&blob).await,
        Err(StoreError::Evicted(_))
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plugins_kv_quota_holds_across_tasks_and_processes() {
    let dir = tempfile::tempdir().unwrap();
    let (children, barrier) = spawn_together("child", dir.path(), "kv", 4, 5, &[]);
    let store = open_store(dir.path(), test_config()).await;
    rendezvous(&barrier, 5).await;
    let (mut stored, span) = Span::of(kv_fill(&store, "parent")).await;
    for keys in results_together(children, vec![span]).await {
        stored.extend(keys);
    }
    // 2,000 new keys from 5 processes x 8 tasks: exactly the quota got in, every key
    // reported stored is there, and the next new key is refused.
    assert_eq!(stored.len(), KV_QUOTA as usize, "{stored:?}");
    for key in &stored {
        let value = store.kv_get("poll", key).await.unwrap();
        assert_eq!(value.as_deref(), Some(&b"vote"[..]), "{key}");
    }
    assert!(
        !store
            .kv_set("poll", "one more", b"v", None, KV_QUOTA)
            .await
            .unwrap()
    );
    // Replacing a key is not a new entry; the quota is per plugin.
    let first = &stored[0];
    assert!(
        store
            .kv_set("poll", first, b"again", None, KV_QUOTA)
            .await
            .unwrap()
    );
    assert!(store.kv_set("other", "k", b"v", None, 1).await.unwrap());
}
