//! `minstrel doctor`: checks what the bot needs to run and play, one line each, and for
//! each problem the fix. Exits 1 when something must be fixed (`FAIL`); `warn` lines
//! are worth a look but do not stop the bot.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::config::Config;
use crate::discord::probe::{self, ProbeError};
use crate::plugins::{NoServices, PluginHost, World, bundled};
use crate::store::{Store, postgres};

/// Oldest ffmpeg whose filters and encoders the renditions use.
const FFMPEG_MAJOR: u32 = 4;
/// A yt-dlp older than this has likely been broken by the sites it reads.
const YTDLP_MAX_AGE_DAYS: i64 = 120;
/// Longest a tool may take to print its version.
const TOOL_WAIT: Duration = Duration::from_secs(15);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Level {
    Ok,
    Warn,
    Fail,
}

#[derive(Default)]
struct Report {
    lines: Vec<(Level, String, Option<String>)>,
}

impl Report {
    fn ok(&mut self, what: impl Into<String>) {
        self.lines.push((Level::Ok, what.into(), None));
    }
    fn warn(&mut self, what: impl Into<String>, fix: impl Into<String>) {
        self.lines
            .push((Level::Warn, what.into(), Some(fix.into())));
    }
    fn fail(&mut self, what: impl Into<String>, fix: impl Into<String>) {
        self.lines
            .push((Level::Fail, what.into(), Some(fix.into())));
    }
}

pub async fn run(config: &Config, guild: Option<u64>) -> anyhow::Result<ExitCode> {
    let mut report = Report::default();
    tools(config, &mut report).await;
    let store = data_folder(config, &mut report).await;
    plugins(config, &mut report).await;
    discord(config, guild, &mut report).await;
    if let Some(store) = store {
        store.close().await;
    }
    for (level, what, fix) in &report.lines {
        let tag = match level {
            Level::Ok => "ok  ",
            Level::Warn => "warn",
            Level::Fail => "FAIL",
        };
        println!("{tag}  {what}");
        if let Some(fix) = fix {
            println!("      fix: {fix}");
        }
    }
    let failed = report.lines.iter().filter(|l| l.0 == Level::Fail).count();
    let warned = report.lines.iter().filter(|l| l.0 == Level::Warn).count();
    if failed == 0 {
        println!("doctor: ready to run ({warned} warnings)");
        Ok(ExitCode::SUCCESS)
    } else {
        println!("doctor: {failed} problems to fix, {warned} warnings");
        Ok(ExitCode::FAILURE)
    }
}

/// ffmpeg, ffprobe and yt-dlp: present, and recent enough.
async fn tools(config: &Config, report: &mut Report) {
    for (name, program, key) in [
        ("ffmpeg", &config.player.ffmpeg, "[player] ffmpeg"),
        ("ffprobe", &config.player.ffprobe, "[player] ffprobe"),
    ] {
        match version(program, "-version").await {
            Ok(text) => {
                // "ffmpeg version 5.1.6-0+deb12u1 Copyright ..."
                let version = text
                    .split_whitespace()
                    .nth(2)
                    .unwrap_or_default()
                    .to_string();
                let major: Option<u32> = version
                    .trim_start_matches('n')
                    .split(['.', '-'])
                    .next()
                    .and_then(|m| m.parse().ok());
                match major {
                    Some(m) if m < FFMPEG_MAJOR => report.fail(
                        format!("{name} {version} is older than {FFMPEG_MAJOR}.0"),
                        format!("install a newer ffmpeg (Debian: apt install ffmpeg), or point {key} at one"),
                    ),
                    _ => report.ok(format!("{name} {version} ({})", program.display())),
                }
            }
            Err(e) => report.fail(
                format!("{name}: {e}"),
                format!("install ffmpeg (Debian: apt install ffmpeg), or set {key} to its path"),
            ),
        }
    }
    // Opus is linked into this binary (songbird's encoder): nothing to find at run time.
    report.ok("libopus: linked into this binary");
    let program = &config.media.yt_dlp;
    match version(program, "--version").await {
        Ok(text) => {
            let version = text.trim().to_string();
            match release_age_days(&version) {
                Some(age) if age > YTDLP_MAX_AGE_DAYS => report.warn(
                    format!("yt-dlp {version} is {age} days old: sites change and old releases stop working"),
                    "update it: pip install -U yt-dlp (scripts/setup.sh keeps its own up to date)",
                ),
                _ => report.ok(format!("yt-dlp {version} ({})", program.display())),
            }
            warm_yt_dlp(config, report).await;
        }
        Err(e) => report.fail(
            format!("yt-dlp: {e}"),
            "install it (pip install yt-dlp, or scripts/setup.sh), or set [media] yt_dlp to its path",
        ),
    }
}

/// Whether probes and searches will find a warm yt-dlp (see `media::workers`): starts
/// one as the bot would.
async fn warm_yt_dlp(config: &Config, report: &mut Report) {
    if !config.media.workers {
        report.ok("yt-dlp workers: off ([media] workers = false), each probe starts yt-dlp");
        return;
    }
    let media = crate::media::Media::new(config.media.clone());
    media.warm().await;
    if media.workers().idle_pids().is_empty() {
        report.warn(
            "yt-dlp workers: none can start (yt-dlp is not a Python install, or its Python \
             cannot import it), so every `/play` suggestion starts yt-dlp afresh",
            "install yt-dlp with pip or pipx (scripts/install.sh does), or set [media] \
             workers = false",
        );
    } else {
        report.ok("yt-dlp workers: a warm yt-dlp answers probes and searches");
    }
}

/// The first line `program arg` prints.
async fn version(program: &Path, arg: &str) -> Result<String, String> {
    let mut command = tokio::process::Command::new(program);
    // As the host runs them: no secrets (DISCORD_TOKEN) in their environment.
    crate::children::clean_env(&mut command)
        .arg(arg)
        .stdin(std::process::Stdio::null())
        .kill_on_drop(true);
    let out = tokio::time::timeout(TOOL_WAIT, command.output())
        .await
        .map_err(|_| format!("{} did not answer within {TOOL_WAIT:?}", program.display()))?
        .map_err(|e| format!("cannot run {} ({e})", program.display()))?;
    if !out.status.success() {
        return Err(format!(
            "{} {arg} failed ({})",
            program.display(),
            out.status
        ));
    }
    Ok(String::from_utf8_lossy(&out.stdout)
        .lines()
        .next()
        .unwrap_or_default()
        .to_string())
}

/// Days since a `YYYY.MM.DD` release, by the system clock.
fn release_age_days(version: &str) -> Option<i64> {
    let mut parts = version.split('.').map(|p| p.parse::<i64>().ok());
    let (y, m, d) = (parts.next()??, parts.next()??, parts.next()??);
    let today = SystemTime::now().duration_since(UNIX_EPOCH).ok()?.as_secs() as i64 / 86_400;
    Some(today - days_from_civil(y, m, d))
}

/// Days from 1970-01-01 to a date of the proleptic Gregorian calendar.
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (m + if m > 2 { -3 } else { 9 }) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The data folder: writable, on which filesystem; the database opens and is migrated.
async fn data_folder(config: &Config, report: &mut Report) -> Option<Store> {
    let dir = &config.data_dir;
    let probe = dir.join(".doctor-probe");
    let written = std::fs::create_dir_all(dir)
        .and_then(|()| std::fs::write(&probe, b"probe"))
        .and_then(|()| std::fs::remove_file(&probe));
    if let Err(e) = written {
        report.fail(
            format!("data folder {}: not writable ({e})", dir.display()),
            "give the bot's user write access to it, or set data_dir (or --data-dir) elsewhere",
        );
        return None;
    }
    let fs = filesystem_of(dir).unwrap_or_else(|| "unknown".into());
    let networked = ["nfs", "nfs4", "cifs", "smb3", "smbfs", "9p"].contains(&fs.as_str())
        || fs.starts_with("fuse");
    let postgres = config.store.database_url.as_deref().map(postgres::describe);
    if networked && postgres.is_some() {
        report.ok(format!(
            "data folder {}: writable, on {fs}, shared through PostgreSQL's locks",
            dir.display()
        ));
    } else if networked {
        report.warn(
            format!(
                "data folder {}: on {fs}, where file locks may not hold between hosts",
                dir.display()
            ),
            "keep the data folder on a local disk (one download per song relies on flock), \
             or share it between hosts with [store] database_url (PostgreSQL)",
        );
    } else {
        report.ok(format!("data folder {}: writable, on {fs}", dir.display()));
    }
    let database = match &postgres {
        Some(url) => format!("database {url}"),
        None => "database".to_string(),
    };
    match Store::open(dir, config.store.clone()).await {
        Ok(store) => {
            match store.stats().await {
                Ok(stats) => report.ok(format!(
                    "{database}: migrated; {} tracks, {} blobs, {:.1} MiB of {:.0} MiB",
                    stats.index.tracks,
                    stats.index.blobs,
                    stats.index.bytes as f64 / f64::from(1 << 20),
                    stats.max_cache_bytes as f64 / f64::from(1 << 20),
                )),
                Err(e) => report.fail(
                    format!("{database}: opened but does not answer ({e})"),
                    "run `minstrel cache verify --repair`",
                ),
            }
            Some(store)
        }
        Err(e) => {
            let fix = if postgres.is_some() {
                "check [store] database_url: the server is up, the user may log in and create \
                 tables in the database (or the schema its search_path names)"
            } else {
                "check the data folder's permissions and free space; move a damaged minstrel.db aside"
            };
            report.fail(format!("{database}: cannot open ({e:#})"), fix);
            None
        }
    }
}

/// The filesystem type of the mount holding `dir`, from /proc/self/mountinfo.
fn filesystem_of(dir: &Path) -> Option<String> {
    let dir = std::fs::canonicalize(dir).ok()?;
    let mounts = std::fs::read_to_string("/proc/self/mountinfo").ok()?;
    let mut best: Option<(PathBuf, String)> = None;
    for line in mounts.lines() {
        // ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTIONS [OPTIONAL...] - FSTYPE SOURCE SUPER
        let fields: Vec<&str> = line.split(' ').collect();
        let Some(point) = fields.get(4) else { continue };
        let Some(dash) = fields.iter().position(|f| *f == "-") else {
            continue;
        };
        let Some(fs) = fields.get(dash + 1) else {
            continue;
        };
        let point = PathBuf::from(point.replace("\\040", " "));
        if dir.starts_with(&point)
            && best
                .as_ref()
                .is_none_or(|(b, _)| point.as_os_str().len() >= b.as_os_str().len())
        {
            best = Some((point, fs.to_string()));
        }
    }
    best.map(|(_, fs)| fs)
}

/// The plugins folder and each plugin in it, loaded as the bot loads them.
async fn plugins(config: &Config, report: &mut Report) {
    let dir = &config.plugins.dir;
    let build = "install with scripts/install.sh (the binary then bundles youtube, http, local \
                 and tone), or build them (scripts/build-plugins.sh) and copy youtube.wasm, \
                 http.wasm, local.wasm or tone.wasm from plugins/target/wasm32-wasip2/release \
                 into the plugins folder";
    let host = match PluginHost::new(
        config.plugins.clone(),
        &config.data_dir,
        Arc::new(NoServices),
    ) {
        Ok(host) => host,
        Err(e) => {
            report.fail(format!("plugin runtime: {e}"), "check the [plugins] limits");
            return;
        }
    };
    let loaded = host.load_dir().await;
    let bundled = host.load_bundled().await;
    if config.plugins.bundled && bundled::all().is_empty() {
        report.warn(
            "this binary bundles no plugins (it was built before them)",
            build,
        );
    }
    if loaded.is_empty() && bundled.is_empty() {
        report.fail(
            format!(
                "plugins folder {}: no plugins, so `/play` finds nothing",
                dir.display()
            ),
            build,
        );
        return;
    }
    let from_folder = loaded
        .iter()
        .map(|(path, result)| (PluginHost::name_of(path).unwrap_or_default(), result, false));
    let from_binary = bundled
        .iter()
        .map(|(name, result)| (name.clone(), result, true));
    for (name, result, is_bundled) in from_folder.chain(from_binary) {
        let origin = if is_bundled { ", bundled" } else { "" };
        match result {
            Ok(loaded) => report.ok(format!(
                "plugin {name}: {} (API {}{origin})",
                loaded.world.name(),
                host.status(&name)
                    .and_then(|s| s.api_version)
                    .unwrap_or_default(),
            )),
            Err(e) if is_bundled => report.fail(
                format!("plugin {name} (bundled): {e}"),
                format!(
                    "put a working {name}.wasm in {} to replace it, or set [plugins] bundled = false",
                    dir.display()
                ),
            ),
            Err(e) => report.fail(
                format!("plugin {name}: {e}"),
                format!(
                    "rebuild it for a served API (0.1.0 or 0.2.0), or remove {}",
                    dir.join(format!("{name}.wasm")).display()
                ),
            ),
        }
    }
    if host.names(World::Source).is_empty() {
        report.fail("no source plugin loaded, so `/play` finds nothing", build);
    }
}

/// The token, the Message Content intent the prefix commands and mentions need, and
/// with `guild`, the voice permissions there.
async fn discord(config: &Config, guild: Option<u64>, report: &mut Report) {
    let Ok(token) = std::env::var("DISCORD_TOKEN") else {
        report.fail(
            "DISCORD_TOKEN is not set",
            "create a bot in the Discord developer portal (Bot -> Reset Token) and export DISCORD_TOKEN",
        );
        return;
    };
    match probe::application(&token, config.discord.api_base.as_deref()).await {
        Ok(app) => {
            report.ok(format!("token: accepted for bot {} ({})", app.bot_name, app.bot_id));
            if app.message_content {
                report.ok("gateway intents: Message Content enabled");
            } else {
                report.fail(
                    "gateway intents: Message Content is not enabled, so Discord refuses the \
                     connection (close 4014) and prefix commands and mentions cannot work",
                    probe::ENABLE_MESSAGE_CONTENT,
                );
            }
            if let Some(guild) = guild {
                voice(config, &token, guild, report).await;
            }
        }
        Err(ProbeError::Unauthorized) => report.fail(
            "token: Discord refused it (401 Unauthorized)",
            "reset the token in the developer portal (Bot -> Reset Token) and set DISCORD_TOKEN to it",
        ),
        Err(e) => report.fail(
            format!("Discord: not reachable ({e})"),
            "check the network (and [discord] api_base, if set)",
        ),
    }
}

/// Where in `guild` the bot may connect and speak.
async fn voice(config: &Config, token: &str, guild: u64, report: &mut Report) {
    const ROLE_FIX: &str = "give the bot's role Connect and Speak (Server Settings -> Roles), \
                            and check the voice channel's own permissions";
    match probe::voice_access(token, config.discord.api_base.as_deref(), guild).await {
        Ok(access) => {
            let (allowed, denied): (Vec<_>, Vec<_>) =
                access.channels.iter().partition(|(_, ok)| *ok);
            let names = |list: &[&(String, bool)]| {
                list.iter()
                    .map(|(name, _)| name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            if allowed.is_empty() {
                report.fail(
                    format!(
                        "voice in {}: the bot may not connect and speak in any voice channel",
                        access.guild_name
                    ),
                    ROLE_FIX,
                );
            } else {
                report.ok(format!(
                    "voice in {}: may connect and speak in {}",
                    access.guild_name,
                    names(&allowed)
                ));
                if !denied.is_empty() {
                    report.warn(
                        format!(
                            "voice in {}: may not connect or speak in {}",
                            access.guild_name,
                            names(&denied)
                        ),
                        ROLE_FIX,
                    );
                }
            }
        }
        Err(ProbeError::NotInGuild) => report.fail(
            format!("voice: the bot is not in guild {guild}"),
            "invite it (README, \"Running it for your server\", step 1), or check the id",
        ),
        Err(ProbeError::Unauthorized) => {}
        Err(ProbeError::Other(e)) => report.fail(
            format!("voice in guild {guild}: cannot read its channels ({e})"),
            "check the network, and that the bot can view the server",
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_count_days() {
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(days_from_civil(2000, 3, 1), 11_017);
        assert_eq!(
            days_from_civil(2026, 12, 2) - days_from_civil(2026, 1, 1),
            335
        );
    }
}
