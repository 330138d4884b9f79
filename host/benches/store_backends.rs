//! The store on SQLite and on PostgreSQL, same run: cache-hit latency, and claims per
//! second with 1, 4 and 16 concurrent claimers. Run with
//! `cargo bench -p minstrel --bench store_backends` against the PostgreSQL server at
//! `POSTGRES_URL` (default `postgres://postgres@127.0.0.1:5432/test`; the bench makes and drops
//! a schema of its own); results in BENCHMARKS.md.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use minstrel::config::StoreConfig;
use minstrel::store::{BlobSink, Fetch, Result, Store, TrackKey};
use sqlx::Connection;

#[derive(Clone)]
struct Bytes(u32);

#[async_trait]
impl Fetch for Bytes {
    async fn fetch(&self, sink: &mut BlobSink) -> Result<()> {
        sink.write(&self.0.to_le_bytes().repeat(1024))
    }
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

struct Figures {
    hit_p50: Duration,
    hit_p99: Duration,
    claims: Vec<(u32, f64)>,
}

async fn measure(store: &Store) -> Figures {
    for i in 0..1000u32 {
        let key = TrackKey::new("bench", i.to_string());
        store.get_or_fetch(&key, Bytes(i)).await.unwrap();
    }
    let mut samples = Vec::with_capacity(10_000);
    for i in 0..10_000u32 {
        let key = TrackKey::new("bench", ((i * 7919) % 1000).to_string());
        let started = Instant::now();
        assert!(store.get_or_fetch(&key, Bytes(0)).await.unwrap().hit);
        samples.push(started.elapsed());
    }
    samples.sort();
    let mut claims = Vec::new();
    for claimers in [1u32, 4, 16] {
        let attempts = 8_000u32;
        let per_task = attempts / claimers;
        let won = Arc::new(AtomicUsize::new(0));
        let started = Instant::now();
        let tasks: Vec<_> = (0..claimers)
            .map(|t| {
                let (store, won) = (store.clone(), won.clone());
                tokio::spawn(async move {
                    for i in 0..per_task {
                        let id = format!("{claimers}-{t}-{i}");
                        if store.claim("bench", &id).await.unwrap() {
                            won.fetch_add(1, Ordering::SeqCst);
                        }
                    }
                })
            })
            .collect();
        for t in tasks {
            t.await.unwrap();
        }
        let secs = started.elapsed().as_secs_f64();
        assert_eq!(won.load(Ordering::SeqCst) as u32, per_task * claimers);
        claims.push((claimers, f64::from(per_task * claimers) / secs));
    }
    Figures {
        hit_p50: percentile(&samples, 0.5),
        hit_p99: percentile(&samples, 0.99),
        claims,
    }
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let server = std::env::var("POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_string());
    let schema = format!("bench_{}", std::process::id());
    let mut admin = sqlx::PgConnection::connect(&server).await.unwrap();
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE SCHEMA {schema}")))
        .execute(&mut admin)
        .await
        .unwrap();
    let sep = if server.contains('?') { '&' } else { '?' };
    let pg_url = format!("{server}{sep}options=-c%20search_path%3D{schema}");

    let mut results = Vec::new();
    for (name, url) in [("SQLite", None), ("PostgreSQL", Some(pg_url))] {
        let dir = tempfile::tempdir().unwrap();
        let config = StoreConfig {
            database_url: url,
            ..StoreConfig::default()
        };
        let store = Store::open(dir.path(), config).await.unwrap();
        results.push((name, measure(&store).await));
        store.close().await;
    }
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!("DROP SCHEMA {schema} CASCADE")))
        .execute(&mut admin)
        .await
        .unwrap();

    for (name, f) in &results {
        println!(
            "{name}: cache hit (10,000 calls over 1,000 tracks) p50 {:?}, p99 {:?}",
            f.hit_p50, f.hit_p99
        );
        for (claimers, rate) in &f.claims {
            println!("{name}: claims, {claimers} concurrent claimers: {rate:.0}/s");
        }
    }
    let (sqlite, pg) = (&results[0].1, &results[1].1);
    println!(
        "ratio PostgreSQL / SQLite: hit p50 {:.2}; claims {}",
        pg.hit_p50.as_secs_f64() / sqlite.hit_p50.as_secs_f64(),
        pg.claims
            .iter()
            .zip(&sqlite.claims)
            .map(|((n, p), (_, s))| format!("{n}: {:.2}", p / s))
            .collect::<Vec<_>>()
            .join(", ")
    );
}
