//! Store benchmarks: cache-hit lookup latency, single-flight coalescing, upsert and
//! claim throughput. Run with `cargo bench -p minstrel --bench store`; results and the
//! machine they came from go in BENCHMARKS.md.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use minstrel::config::StoreConfig;
use minstrel::store::access::Access;
use minstrel::store::index::BlobRow;
use minstrel::store::{BlobSink, Fetch, Result, Store, TrackKey, now_ms};

/// Waits, then writes `size` bytes: a stand-in for a download of known duration.
#[derive(Clone)]
struct SlowFetch {
    delay: Duration,
    size: usize,
    seed: u8,
    runs: Arc<AtomicUsize>,
}

#[async_trait]
impl Fetch for SlowFetch {
    async fn fetch(&self, sink: &mut BlobSink) -> Result<()> {
        self.runs.fetch_add(1, Ordering::SeqCst);
        tokio::time::sleep(self.delay).await;
        let chunk = vec![self.seed; 64 * 1024];
        let mut left = self.size;
        while left > 0 {
            let n = left.min(chunk.len());
            sink.write(&chunk[..n])?;
            left -= n;
        }
        Ok(())
    }
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[v.len() / 2]
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), StoreConfig::default())
        .await
        .unwrap();
    let runs = Arc::new(AtomicUsize::new(0));
    let fetcher = |seed: u8, delay_ms: u64| SlowFetch {
        delay: Duration::from_millis(delay_ms),
        size: 256 * 1024,
        seed,
        runs: runs.clone(),
    };

    // 1. Cache-hit lookup latency over 1,000 cached tracks.
    for i in 0..1000u32 {
        let key = TrackKey::new("bench", i.to_string());
        store
            .get_or_fetch(&key, fetcher((i % 251) as u8, 0))
            .await
            .unwrap();
    }
    let mut samples = Vec::with_capacity(10_000);
    for i in 0..10_000u32 {
        let key = TrackKey::new("bench", ((i * 7919) % 1000).to_string());
        let started = Instant::now();
        let hit = store.get_or_fetch(&key, fetcher(0, 0)).await.unwrap();
        samples.push(started.elapsed());
        assert!(hit.hit);
    }
    samples.sort();
    println!(
        "cache hit (get_or_fetch on a cached key, 10,000 calls): p50 {:?}, p99 {:?}",
        percentile(&samples, 0.5),
        percentile(&samples, 0.99)
    );
    // The peers, same run: what a hit cost when it read the database each time (a
    // read, as before keys were remembered), and when its count was also written at
    // once (a read, then one write statement per hit).
    let mut read = Vec::with_capacity(10_000);
    for i in 0..10_000u32 {
        let key = TrackKey::new("bench", ((i * 7919) % 1000).to_string());
        let started = Instant::now();
        let row = store.index().peek(&key).await.unwrap();
        read.push(started.elapsed());
        assert!(row.is_some());
    }
    read.sort();
    println!(
        "cache hit read from the database (peek, 10,000 calls): p50 {:?}, p99 {:?}; ratio p50 {:.3}",
        percentile(&read, 0.5),
        percentile(&read, 0.99),
        percentile(&samples, 0.5).as_secs_f64() / percentile(&read, 0.5).as_secs_f64()
    );
    let mut written = Vec::with_capacity(10_000);
    for i in 0..10_000u32 {
        let key = TrackKey::new("bench", ((i * 7919) % 1000).to_string());
        let started = Instant::now();
        let row = store.index().peek(&key).await.unwrap();
        assert!(row.is_some());
        let access = Access {
            count: 1,
            last: now_ms(),
        };
        store.index().add_accesses(&[(key, access)]).await.unwrap();
        written.push(started.elapsed());
    }
    written.sort();
    println!(
        "cache hit with its count written at once (peek + one write, 10,000 calls): p50 {:?}, p99 {:?}; ratio p50 {:.2}",
        percentile(&written, 0.5),
        percentile(&written, 0.99),
        percentile(&samples, 0.5).as_secs_f64() / percentile(&written, 0.5).as_secs_f64()
    );

    // 2. Coalescing: 100 concurrent requests for one uncached key vs one request.
    let mut ratios = Vec::new();
    let (mut singles, mut crowds) = (Vec::new(), Vec::new());
    for round in 0..7u32 {
        let one = TrackKey::new("single", round.to_string());
        let started = Instant::now();
        store.get_or_fetch(&one, fetcher(1, 100)).await.unwrap();
        let single = started.elapsed().as_secs_f64();

        let before = runs.load(Ordering::SeqCst);
        let many = TrackKey::new("crowd", round.to_string());
        let started = Instant::now();
        let tasks: Vec<_> = (0..100)
            .map(|_| {
                let (store, key, f) = (store.clone(), many.clone(), fetcher(2, 100));
                tokio::spawn(async move { store.get_or_fetch(&key, f).await.unwrap() })
            })
            .collect();
        for t in tasks {
            t.await.unwrap();
        }
        let crowd = started.elapsed().as_secs_f64();
        assert_eq!(runs.load(Ordering::SeqCst) - before, 1);
        singles.push(single);
        crowds.push(crowd);
        ratios.push(crowd / single);
    }
    println!(
        "coalescing (100 ms, 256 KiB fetch; 7 rounds): one request median {:.1} ms, 100 concurrent median {:.1} ms, ratio median {:.3}",
        median(singles) * 1e3,
        median(crowds) * 1e3,
        median(ratios)
    );

    // 3. Upsert throughput: 8 tasks recording tracks (blob + track upsert each).
    let total = 8_000u32;
    let started = Instant::now();
    let tasks: Vec<_> = (0..8u32)
        .map(|t| {
            let store = store.clone();
            tokio::spawn(async move {
                for i in 0..total / 8 {
                    let key = TrackKey::new("upsert", ((t * 131 + i) % 500).to_string());
                    let row = BlobRow {
                        hash: format!("{:064x}", (i % 50) as u64),
                        size: 1,
                    };
                    store.index().record(&key, &row, now_ms()).await.unwrap();
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
    let secs = started.elapsed().as_secs_f64();
    println!(
        "upserts (8 tasks, {total} record calls over 500 keys): {:.0}/s",
        total as f64 / secs
    );

    // 4. Claims: N tasks claiming distinct events twice each (tasks in pairs share
    // their events), group-committed (`Store::claim`) and, as a peer in the same run,
    // one transaction per claim (the index called directly, as before).
    for tasks in [8u32, 64] {
        let per_task = 16_000 / tasks;
        let mut rates = Vec::new();
        for grouped in [true, false] {
            let round = format!("{tasks}-{grouped}");
            let started = Instant::now();
            let won = Arc::new(AtomicUsize::new(0));
            let handles: Vec<_> = (0..tasks)
                .map(|t| {
                    let (store, won, round) = (store.clone(), won.clone(), round.clone());
                    tokio::spawn(async move {
                        for i in 0..per_task {
                            let id = format!("{round}-{}", (t / 2) * per_task + i);
                            let claimed = if grouped {
                                store.claim("bench", &id).await.unwrap()
                            } else {
                                let now = now_ms();
                                let one = [("bench", id.as_str())];
                                store
                                    .index()
                                    .claim_many(&one, now, now + 60_000)
                                    .await
                                    .unwrap()[0]
                            };
                            if claimed {
                                won.fetch_add(1, Ordering::SeqCst);
                            }
                        }
                    })
                })
                .collect();
            for t in handles {
                t.await.unwrap();
            }
            let secs = started.elapsed().as_secs_f64();
            assert_eq!(won.load(Ordering::SeqCst), 8000, "each event won once");
            rates.push(16_000.0 / secs);
        }
        println!(
            "claims ({tasks} tasks, 16,000 attempts on 8,000 events): group-committed {:.0} attempts/s, one transaction each {:.0} attempts/s; ratio {:.2}",
            rates[0],
            rates[1],
            rates[0] / rates[1]
        );
    }
}
