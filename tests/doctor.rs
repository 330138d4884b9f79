//! `minstrel doctor` as a new server owner runs it: against the local Discord server,
//! with the real ffmpeg and yt-dlp, every problem named on one line with its fix.

use std::path::Path;
use std::time::Duration;

use minstrel_local::discord::LocalDiscord;
use minstrel_local::discord::payloads::{GUILD_ID, LOUNGE, MUSIC};
use minstrel_tests::bot::WAIT;
use minstrel_tests::built::component;
use minstrel_tests::process::{finished, spawn};
use minstrel_tests::{database, minstrel, wait_for};

/// `minstrel doctor` with `token` and `env`: its exit code and what it printed.
async fn doctor(
    server: &LocalDiscord,
    dir: &Path,
    token: &str,
    env: &[(&str, &str)],
) -> (Option<i32>, String) {
    doctor_with(server, dir, token, env, &[]).await
}

/// [`doctor`] with more arguments.
async fn doctor_with(
    server: &LocalDiscord,
    dir: &Path,
    token: &str,
    env: &[(&str, &str)],
    args: &[&str],
) -> (Option<i32>, String) {
    let mut cmd = minstrel(&dir.join("data"));
    cmd.arg("doctor")
        .args(args)
        .env("DISCORD_TOKEN", token)
        .env("MINSTREL_DISCORD__API_BASE", server.base_url())
        .env("MINSTREL_PLUGINS__DIR", dir.join("plugins"));
    for (key, value) in env {
        cmd.env(key, value);
    }
    let mut child = spawn(&mut cmd);
    // Loading the plugins compiles them: leave room on a busy machine.
    let ended = wait_for(Duration::from_secs(120), async || {
        child.try_wait().unwrap().is_some()
    })
    .await;
    if !ended {
        let _ = child.kill();
    }
    let out = finished(child).await;
    assert!(ended, "doctor did not finish");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    (out.status.code(), stdout)
}

fn plugins_with(dir: &Path, files: &[(&str, &[u8])]) {
    let plugins = dir.join("plugins");
    std::fs::create_dir_all(&plugins).unwrap();
    for (name, bytes) in files {
        std::fs::write(plugins.join(name), bytes).unwrap();
    }
}

/// The line starting `tag  what`, and the fix printed under it (if any).
fn line<'a>(out: &'a str, tag: &str, what: &str) -> (&'a str, Option<&'a str>) {
    let lines: Vec<&str> = out.lines().collect();
    let at = lines
        .iter()
        .position(|l| l.starts_with(tag) && l.contains(what))
        .unwrap_or_else(|| panic!("no {tag:?} line with {what:?} in:\n{out}"));
    let fix = lines
        .get(at + 1)
        .and_then(|l| l.trim_start().strip_prefix("fix: "));
    (lines[at], fix)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_ready_installation_passes() {
    let tmp = tempfile::tempdir().unwrap();
    let server = LocalDiscord::start().await.unwrap();
    plugins_with(
        tmp.path(),
        &[("tone.wasm", &std::fs::read(component("tone")).unwrap())],
    );
    let (code, out) = doctor(&server, tmp.path(), "test-token", &[]).await;
    assert_eq!(code, Some(0), "{out}");
    for what in [
        "ffmpeg ",
        "ffprobe ",
        "yt-dlp ",
        "yt-dlp workers: a warm yt-dlp answers probes and searches",
        "data folder",
        "database: migrated",
        "plugin tone: source (API 0.1.0)",
        "token: accepted for bot",
        "Message Content enabled",
    ] {
        line(&out, "ok", what);
    }
    assert!(!out.contains("FAIL"), "{out}");
    assert!(out.contains("doctor: ready to run"), "{out}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_problem_is_named_with_its_fix() {
    let tmp = tempfile::tempdir().unwrap();
    let server = LocalDiscord::start().await.unwrap();
    server.world().require_token("the-right-token");
    plugins_with(tmp.path(), &[("broken.wasm", b"not a component")]);
    let env = [
        ("MINSTREL_PLAYER__FFMPEG", "/nonexistent/ffmpeg"),
        ("MINSTREL_MEDIA__YT_DLP", "/nonexistent/yt-dlp"),
    ];
    let (code, out) = doctor(&server, tmp.path(), "a-wrong-token", &env).await;
    assert_eq!(code, Some(1), "{out}");
    let (_, fix) = line(&out, "FAIL", "ffmpeg: cannot run /nonexistent/ffmpeg");
    assert!(fix.unwrap().contains("apt install ffmpeg"), "{out}");
    let (_, fix) = line(&out, "FAIL", "yt-dlp: cannot run /nonexistent/yt-dlp");
    assert!(fix.unwrap().contains("pip install yt-dlp"), "{out}");
    let (_, fix) = line(&out, "FAIL", "plugin broken: not a WebAssembly file");
    assert!(fix.unwrap().contains("remove"), "{out}");
    let (_, fix) = line(
        &out,
        "FAIL",
        "no source plugin loaded, so `/play` finds nothing",
    );
    assert!(fix.unwrap().contains("scripts/build-plugins.sh"), "{out}");
    let (_, fix) = line(&out, "FAIL", "token: Discord refused it (401 Unauthorized)");
    assert!(fix.unwrap().contains("Reset Token"), "{out}");
    // What is fine is still said to be.
    line(&out, "ok", "ffprobe ");
    line(&out, "ok", "database: migrated");

    // An empty plugins folder is its own problem.
    std::fs::remove_file(tmp.path().join("plugins/broken.wasm")).unwrap();
    let (code, out) = doctor(&server, tmp.path(), "the-right-token", &[]).await;
    assert_eq!(code, Some(1), "{out}");
    line(&out, "FAIL", "no plugins, so `/play` finds nothing");
}

/// With `[store] database_url` the database line names the PostgreSQL server (never the
/// password), and a server that cannot be reached fails with a fix about that URL.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_postgres_database_is_checked_without_showing_its_password() {
    let tmp = tempfile::tempdir().unwrap();
    let server = LocalDiscord::start().await.unwrap();
    plugins_with(
        tmp.path(),
        &[("tone.wasm", &std::fs::read(component("tone")).unwrap())],
    );
    let url = database::schema_url(tmp.path()).replacen("://postgres@", "://postgres:hunter2@", 1);
    assert!(
        url.contains("hunter2"),
        "set POSTGRES_URL's user to postgres: {url}"
    );
    let env = [("MINSTREL_STORE__DATABASE_URL", url.as_str())];
    let (code, out) = doctor(&server, tmp.path(), "test-token", &env).await;
    assert_eq!(code, Some(0), "{out}");
    line(
        &out,
        "ok",
        "database postgres://postgres@127.0.0.1:5432/test: migrated; 0 tracks",
    );

    let unreachable = "postgres://postgres:hunter2@127.0.0.1:9/test";
    let env = [("MINSTREL_STORE__DATABASE_URL", unreachable)];
    let (code, out) = doctor(&server, tmp.path(), "test-token", &env).await;
    assert_eq!(code, Some(1), "{out}");
    let (_, fix) = line(
        &out,
        "FAIL",
        "database postgres://postgres@127.0.0.1:9/test: cannot open",
    );
    assert!(fix.unwrap().contains("[store] database_url"), "{out}");
    assert!(!out.contains("hunter2"), "the password was shown:\n{out}");
}

/// Discord closes the connection with 4014 when the bot asks for an intent the
/// developer portal has not enabled: doctor says so before, and `minstrel run` says what
/// to do when it happens.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_disabled_message_content_intent_is_explained() {
    let tmp = tempfile::tempdir().unwrap();
    let server = LocalDiscord::start().await.unwrap();
    server.world().disallow_message_content();
    plugins_with(
        tmp.path(),
        &[("tone.wasm", &std::fs::read(component("tone")).unwrap())],
    );
    let (code, out) = doctor(&server, tmp.path(), "test-token", &[]).await;
    assert_eq!(code, Some(1), "{out}");
    let (_, fix) = line(&out, "FAIL", "Message Content is not enabled");
    let advice = "enable the Message Content intent in the developer portal";
    assert!(fix.unwrap().contains(advice), "{out}");

    let mut cmd = minstrel_tests::bot::run_command(
        &server,
        &tmp.path().join("data"),
        &tmp.path().join("plugins"),
        "test-token",
    );
    let mut child = spawn(&mut cmd);
    let ended = wait_for(WAIT, async || child.try_wait().unwrap().is_some()).await;
    if !ended {
        let _ = child.kill();
    }
    let out = finished(child).await;
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(ended, "the bot kept running after close 4014: {stderr}");
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains(advice), "{stderr}");
}

/// `--guild`: where the bot may connect and speak, from the guild's roles and the voice
/// channels' overwrites as Discord computes them; a guild the bot is not in is named.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn voice_permissions_in_a_guild_are_checked() {
    let tmp = tempfile::tempdir().unwrap();
    let server = LocalDiscord::start().await.unwrap();
    plugins_with(
        tmp.path(),
        &[("tone.wasm", &std::fs::read(component("tone")).unwrap())],
    );
    let guild = GUILD_ID.to_string();
    let args = ["--guild", guild.as_str()];
    let (code, out) = doctor_with(&server, tmp.path(), "test-token", &[], &args).await;
    assert_eq!(code, Some(0), "{out}");
    line(
        &out,
        "ok",
        "voice in Minstrel Dev: may connect and speak in Music, Lounge",
    );

    server.world().deny_bot_voice(LOUNGE);
    let (code, out) = doctor_with(&server, tmp.path(), "test-token", &[], &args).await;
    assert_eq!(code, Some(0), "a warning only: {out}");
    line(
        &out,
        "ok",
        "voice in Minstrel Dev: may connect and speak in Music",
    );
    let (_, fix) = line(&out, "warn", "may not connect or speak in Lounge");
    assert!(fix.unwrap().contains("Connect and Speak"), "{out}");

    server.world().deny_bot_voice(MUSIC);
    let (code, out) = doctor_with(&server, tmp.path(), "test-token", &[], &args).await;
    assert_eq!(code, Some(1), "{out}");
    let (_, fix) = line(
        &out,
        "FAIL",
        "voice in Minstrel Dev: the bot may not connect and speak in any voice channel",
    );
    assert!(fix.unwrap().contains("Server Settings -> Roles"), "{out}");

    let (code, out) = doctor_with(
        &server,
        tmp.path(),
        "test-token",
        &[],
        &["--guild", "12345"],
    )
    .await;
    assert_eq!(code, Some(1), "{out}");
    let (_, fix) = line(&out, "FAIL", "voice: the bot is not in guild 12345");
    assert!(fix.unwrap().contains("invite it"), "{out}");
}
