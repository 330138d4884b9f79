//! The command line: every `minstrel` command. Each opens what it needs and calls
//! into the library.
//!
//! - this module: parsing, logging, `run` and `cache ...`.
//! - [`plugin`]: `plugin check|list|new|wit`; `scaffold` writes new plugin projects.
//! - [`source`]: `source resolve|fetch`, a source plugin without the bot.
//! - `doctor`: what the bot needs, checked one line each with the fix.
//! - `dev` and `demo` (with the `dev` feature): the bot and the store against the
//!   loopback stand-ins of `minstrel-local`.

#[cfg(feature = "dev")]
mod demo;
#[cfg(feature = "dev")]
mod dev;
mod doctor;
pub mod plugin;
mod scaffold;
pub mod source;

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand};
use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::writer::BoxMakeWriter;
use tracing_subscriber::prelude::*;

use crate::config::{Config, LogConfig, LogFormat};
use crate::fetch::HttpFetcher;
use crate::store::{Store, TrackKey};

#[derive(Debug, Parser)]
#[command(
    name = "minstrel",
    version,
    about = "A Discord bot host with sandboxed plugins"
)]
pub struct Cli {
    /// Configuration file (default: ./minstrel.toml if present).
    #[arg(long, global = true)]
    config: Option<PathBuf>,
    /// Data folder: database, cached blobs, scratch space (default: ./minstrel-data).
    #[arg(long, global = true)]
    data_dir: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Inspect and maintain the cache store.
    Cache {
        #[command(subcommand)]
        command: CacheCommand,
    },
    /// Exercise the store end to end on bundled sample audio, served over loopback.
    Demo,
    /// Check what the bot needs (ffmpeg, yt-dlp, the data folder and database, the
    /// plugins, the token and its gateway intents), one line each with the fix.
    Doctor {
        /// Also check that the bot may connect and speak in this guild's voice channels
        /// (the server's id: Developer Mode, then right-click the server -> Copy Server ID).
        #[arg(long)]
        guild: Option<u64>,
    },
    /// Ask a running bot's admin listener whether it is healthy (`GET /healthz`): exit
    /// status 0 if it is, 1 if not; for container health checks.
    Health {
        /// The listener's address; default: `[admin] listen` of the config.
        #[arg(long)]
        addr: Option<std::net::SocketAddr>,
    },
    /// Run the bot against Discord (token from DISCORD_TOKEN), or against the API base
    /// in the config.
    Run {
        /// Shards this process runs: "auto", an id, or a range like 0-3 (overrides
        /// [discord] shards and shard_ids).
        #[arg(long)]
        shards: Option<String>,
        /// The bot's total shard count, over every process (overrides [discord]
        /// shard_count).
        #[arg(long)]
        shard_count: Option<u32>,
    },
    /// Start the local Discord-compatible server and the bot, and chat with it here.
    Dev {
        /// Port of the local server (0 picks a free one).
        #[arg(long, default_value_t = 0)]
        port: u16,
    },
    /// Check, list and create plugins.
    Plugin {
        #[command(subcommand)]
        command: plugin::PluginCommand,
    },
    /// Move the store's index to another database.
    Store {
        #[command(subcommand)]
        command: StoreCommand,
    },
    /// Call a source plugin: resolve a query, or fetch a track into the cache.
    Source {
        #[command(subcommand)]
        command: source::SourceCommand,
    },
}

#[derive(Debug, Subcommand)]
enum CacheCommand {
    /// Fetch a direct http(s) URL into the cache (once, however many ask at once).
    Fetch {
        url: String,
        /// Print one JSON object: path, hash, size, hit.
        #[arg(long)]
        json: bool,
    },
    /// Show what the cache holds.
    Stats {
        #[arg(long)]
        json: bool,
    },
    /// Evict least recently used, unleased blobs down to the size budget, and sweep
    /// idle scratch folders.
    Gc {
        #[arg(long)]
        json: bool,
    },
    /// Check files against the index. Exits with status 2 when problems are found,
    /// unless --repair fixes them.
    Verify {
        /// Re-hash every blob.
        #[arg(long)]
        deep: bool,
        /// Remove temp files of dead writers, orphan files, rows without files and
        /// corrupt blobs.
        #[arg(long)]
        repair: bool,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
enum StoreCommand {
    /// Copy a SQLite store's index (cache, queues, plugins' kv and timers) into an empty
    /// PostgreSQL database, in one transaction. Stop the bot first; afterwards set
    /// `[store] database_url` to the same URL. Blob files stay in the data folder.
    Migrate {
        /// `sqlite:PATH`: a data folder, or its minstrel.db (default: this data folder).
        #[arg(long)]
        from: Option<String>,
        /// The PostgreSQL database: `postgres://user@host/db`.
        #[arg(long)]
        to: String,
        #[arg(long)]
        json: bool,
    },
}

/// Entry point of the binary.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let config = match load_config(&cli) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: {e:#}");
            return ExitCode::FAILURE;
        }
    };
    // The dev terminal is a chat: its log goes to a file, not between the messages.
    #[cfg(feature = "dev")]
    let dev = matches!(cli.command, Command::Dev { .. });
    #[cfg(feature = "dev")]
    let log_file = dev.then(|| config.data_dir.join(dev::LOG_FILE));
    #[cfg(not(feature = "dev"))]
    let log_file: Option<PathBuf> = None;
    // The doctor reports everything itself, one line each; the log would repeat it.
    let log = match cli.command {
        Command::Doctor { .. } | Command::Health { .. } => crate::config::LogConfig {
            level: "off".into(),
            ..config.log.clone()
        },
        _ => config.log.clone(),
    };
    if let Err(e) = init_tracing(&log, log_file.as_deref()) {
        eprintln!("error: {e:#}");
        return ExitCode::FAILURE;
    }
    #[cfg(feature = "dev")]
    if dev {
        // SAFETY: no other thread exists yet (the runtime starts below).
        if let Err(e) = unsafe { minstrel_local::discord::voice::trust_in_this_process() } {
            eprintln!("warning: voice will not connect to the local server: {e}");
        }
    }
    let runtime = tokio::runtime::Runtime::new().expect("tokio runtime");
    match runtime.block_on(run(cli.command, config)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn load_config(cli: &Cli) -> anyhow::Result<Config> {
    let mut config = Config::load(cli.config.as_deref())?;
    if let Some(dir) = &cli.data_dir {
        config.data_dir = dir.clone();
    }
    Ok(config)
}

/// Logs to stderr, or appends to `file`, as text or JSON lines; `RUST_LOG` overrides
/// the configured filter.
fn init_tracing(config: &LogConfig, file: Option<&std::path::Path>) -> anyhow::Result<()> {
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(&config.level));
    let writer = match file {
        None => BoxMakeWriter::new(std::io::stderr),
        Some(path) => {
            if let Some(dir) = path.parent() {
                std::fs::create_dir_all(dir)
                    .with_context(|| format!("creating {}", dir.display()))?;
            }
            let file = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .with_context(|| format!("opening the log {}", path.display()))?;
            BoxMakeWriter::new(std::sync::Mutex::new(file))
        }
    };
    let logs = tracing_subscriber::fmt::layer().with_writer(writer);
    let logs = match config.format {
        // Colours for a person at a terminal only: journald, docker logs and files get
        // plain text.
        LogFormat::Text => {
            let colours = file.is_none() && std::io::IsTerminal::is_terminal(&std::io::stderr());
            logs.with_ansi(colours).boxed()
        }
        // Each line: the event's fields, and every enclosing span's (`event` with its
        // kind and guild, `plugin` with its name and call) under `spans`.
        LogFormat::Json => logs.json().with_span_list(true).boxed(),
    };
    tracing_subscriber::registry()
        .with(logs)
        .with(crate::recent::Recent)
        .with(filter)
        .try_init()
        .context("starting the log")?;
    Ok(())
}

async fn open_store(config: &Config) -> anyhow::Result<Store> {
    Store::open(&config.data_dir, config.store.clone())
        .await
        .with_context(|| format!("opening the store in {}", config.data_dir.display()))
}

async fn run(command: Command, config: Config) -> anyhow::Result<ExitCode> {
    match command {
        Command::Cache { command } => cache(command, &config).await,
        Command::Run {
            shards,
            shard_count,
        } => run_bot(config, shards, shard_count)
            .await
            .map(|()| ExitCode::SUCCESS),
        Command::Doctor { guild } => doctor::run(&config, guild).await,
        Command::Health { addr } => health(&config, addr).await,
        #[cfg(feature = "dev")]
        Command::Demo => demo::run(&config).await.map(|()| ExitCode::SUCCESS),
        #[cfg(feature = "dev")]
        Command::Dev { port } => dev::run(&config, port).await.map(|()| ExitCode::SUCCESS),
        #[cfg(not(feature = "dev"))]
        Command::Demo | Command::Dev { .. } => Err(anyhow::anyhow!(
            "`minstrel dev` and `minstrel demo` run against local stand-ins, which this build \
             leaves out: build with `cargo build --release --features dev`"
        )),
        Command::Plugin { command } => {
            plugin::run(command, &config.plugins, &config.data_dir).await
        }
        Command::Source { command } => source::run(command, &config).await,
        Command::Store { command } => store_command(command, &config).await,
    }
}

async fn store_command(command: StoreCommand, config: &Config) -> anyhow::Result<ExitCode> {
    let StoreCommand::Migrate { from, to, json } = command;
    let data_dir = match from.as_deref() {
        None => config.data_dir.clone(),
        Some(from) => {
            let path = from.strip_prefix("sqlite:").with_context(|| {
                format!("--from {from}: only a SQLite store (sqlite:PATH) can be migrated")
            })?;
            let path = PathBuf::from(path);
            match path.file_name() {
                Some(name) if path.is_file() && name == "minstrel.db" => {
                    path.parent().map(PathBuf::from).unwrap_or_default()
                }
                _ => path,
            }
        }
    };
    anyhow::ensure!(
        crate::store::postgres::is_postgres_url(&to),
        "--to must be a postgres:// URL"
    );
    let copied = crate::store::migrate::sqlite_to_postgres(&data_dir, &to)
        .await
        .with_context(|| format!("migrating the store in {}", data_dir.display()))?;
    if json {
        let tables: serde_json::Map<String, serde_json::Value> = copied
            .iter()
            .map(|(table, rows)| (table.to_string(), (*rows).into()))
            .collect();
        println!("{}", serde_json::Value::Object(tables));
    } else {
        for (table, rows) in &copied {
            println!("{table:<11} {rows} rows");
        }
        println!(
            "done: set [store] database_url to the same URL (or MINSTREL_STORE__DATABASE_URL)"
        );
    }
    Ok(ExitCode::SUCCESS)
}

async fn run_bot(
    mut config: Config,
    shards: Option<String>,
    shard_count: Option<u32>,
) -> anyhow::Result<()> {
    if shards.is_some() {
        config.discord.shards = shards;
        config.discord.shard_ids = None;
    }
    if shard_count.is_some() {
        config.discord.shard_count = shard_count;
    }
    let plan = config.discord.shard_plan()?;
    let token = std::env::var("DISCORD_TOKEN")
        .context("DISCORD_TOKEN is not set (or use `minstrel dev` to try the bot locally)")?;
    let options = crate::discord::BotOptions {
        token,
        api_base: config.discord.api_base.clone(),
        dev_guild: config.discord.dev_guild,
        prefix: config.discord.prefix.clone(),
        mention_order: config.discord.mention_order.clone(),
        shards: plan,
    };
    crate::app::run(&config, options, crate::app::signals()).await
}

async fn cache(command: CacheCommand, config: &Config) -> anyhow::Result<ExitCode> {
    let store = open_store(config).await?;
    match command {
        CacheCommand::Fetch { url, json } => {
            let key = TrackKey::from_url(&url)?;
            let fetcher = HttpFetcher::new(&url, config.store.fetch_stall())?;
            let fetched = store
                .get_or_fetch(&key, fetcher)
                .await
                .with_context(|| format!("fetching {url}"))?;
            print_fetched(&fetched, json)?;
        }
        CacheCommand::Stats { json } => {
            let stats = store.stats().await?;
            if json {
                println!("{}", serde_json::to_string(&stats)?);
            } else {
                let s = &stats.index;
                println!("tracks:        {}", s.tracks);
                println!("blobs:         {}", s.blobs);
                println!("bytes:         {} of {}", s.bytes, stats.max_cache_bytes);
                println!("active leases: {}", s.active_leases);
                println!("cache hits:    {}", s.hits);
            }
        }
        CacheCommand::Gc { json } => {
            let evicted = store.evict().await?;
            let swept = store.sweep_scratch(config.store.scratch_idle()).await?;
            if json {
                let out = serde_json::json!({
                    "evicted_blobs": evicted.blobs,
                    "evicted_bytes": evicted.bytes,
                    "swept_scratch": swept,
                });
                println!("{out}");
            } else {
                println!(
                    "evicted {} blobs ({} bytes); swept {} idle scratch folders",
                    evicted.blobs, evicted.bytes, swept
                );
            }
        }
        CacheCommand::Verify { deep, repair, json } => {
            let report = store.reconcile(deep, repair).await?;
            if json {
                println!("{}", serde_json::to_string(&report)?);
            } else {
                println!("checked blobs: {}", report.checked_blobs);
                println!("temp files:    {}", report.temp_files);
                println!("orphan files:  {}", report.orphan_files);
                println!("missing blobs: {}", report.missing_blobs);
                println!("corrupt:       {}", report.corrupt);
                if repair && report.problems() > 0 {
                    println!("repaired");
                }
            }
            if report.problems() > 0 && !repair {
                return Ok(ExitCode::from(2));
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// What `cache fetch` and `source fetch` print: the cached file, or one JSON object.
fn print_fetched(fetched: &crate::store::Fetched, json: bool) -> anyhow::Result<()> {
    if json {
        println!("{}", serde_json::to_string(fetched)?);
    } else {
        println!("path: {}", fetched.blob.path.display());
        println!("hash: {}", fetched.blob.hash);
        println!("size: {}", fetched.blob.size);
        println!("hit:  {}", fetched.hit);
    }
    Ok(())
}

/// `minstrel health`: the bot's `/healthz`, printed; success when it answers 200.
async fn health(config: &Config, addr: Option<std::net::SocketAddr>) -> anyhow::Result<ExitCode> {
    let Some(mut addr) = addr.or(config.admin.listen) else {
        anyhow::bail!("no admin listener: set [admin] listen, or give --addr");
    };
    // A listener on every interface answers on loopback.
    if addr.ip().is_unspecified() {
        addr.set_ip(std::net::Ipv4Addr::LOCALHOST.into());
    }
    let client = reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(5))
        .no_proxy()
        .build()?;
    let response = client
        .get(format!("http://{addr}/healthz"))
        .send()
        .await
        .with_context(|| format!("asking http://{addr}/healthz"))?;
    let healthy = response.status() == reqwest::StatusCode::OK;
    println!("{}", response.text().await.unwrap_or_default());
    Ok(if healthy {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
