//! The first-party plugins bundled in the binary: a new owner's `minstrel run` with only
//! a token plays a YouTube URL, and what the bundled plugins are granted (and what a
//! file of the same name in the plugins folder is not).

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;

use minstrel_local::discord::LocalDiscord;
use minstrel_local::discord::payloads::{ALICE, MUSIC};
use minstrel_local::http::{LocalHttp, Route};
use minstrel_tests::bot::BotProcess;
use minstrel_tests::built::component;
use minstrel_tests::playback::{command, wait_packets};
use minstrel_tests::voice::{run, sine_ogg};
use minstrel_tests::{json_output, minstrel};
use serde_json::Value;

const NEVER_GONNA: &str = "https://www.youtube.com/watch?v=dQw4w9WgXcQ";
/// Every plugin the binary bundles (host/build.rs).
const BUNDLED: [&str; 14] = [
    "ask-mention",
    "autoplay",
    "chart",
    "http",
    "links",
    "local",
    "lyrics",
    "nowplaying",
    "playlists",
    "poll",
    "radio",
    "sponsorblock",
    "tone",
    "youtube",
];

/// A `minstrel` command on `data_dir`, run from `cwd` (where the default `plugins`
/// folder is), with the bundled plugins on.
fn with_bundled(cwd: &Path, data_dir: &Path) -> Command {
    let mut cmd = minstrel(data_dir);
    cmd.current_dir(cwd).env_remove("MINSTREL_PLUGINS__BUNDLED");
    cmd
}

/// `plugin list --json`, by plugin name.
fn listed(cmd: &mut Command) -> serde_json::Map<String, Value> {
    let list = json_output(cmd.args(["plugin", "list", "--json"]));
    list.as_array()
        .expect("a list")
        .iter()
        .map(|p| (p["name"].as_str().unwrap().to_string(), p.clone()))
        .collect()
}

fn interfaces(status: &Value) -> BTreeSet<String> {
    status["granted"]["interfaces"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i.as_str().unwrap().to_string())
        .collect()
}

fn set(names: &[&str]) -> BTreeSet<String> {
    names.iter().map(|n| n.to_string()).collect()
}

#[test]
fn bundled_plugins_load_with_their_default_grants_and_a_folder_file_replaces_one() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");

    let list = listed(&mut with_bundled(tmp.path(), &data));
    let names: BTreeSet<String> = list.keys().cloned().collect();
    assert_eq!(names, set(&BUNDLED), "{list:?}");
    for (name, status) in &list {
        assert_eq!(status["state"], "loaded", "{name}: {status}");
        assert_eq!(status["bundled"], true, "{name}: {status}");
    }
    assert_eq!(interfaces(&list["youtube"]), set(&["log", "media"]));
    assert_eq!(
        interfaces(&list["ask-mention"]),
        set(&["log", "llm", "draft"])
    );
    assert_eq!(interfaces(&list["chart"]), set(&["log", "llm"]));
    assert_eq!(interfaces(&list["poll"]), set(&["log", "kv"]));
    assert_eq!(
        interfaces(&list["nowplaying"]),
        set(&[
            "log",
            "player",
            "player-events",
            "kv",
            "timers",
            "messages",
            "http"
        ])
    );
    assert_eq!(list["nowplaying"]["granted"]["kv_quota"], 20_000);
    assert_eq!(
        list["nowplaying"]["granted"]["http_hosts"],
        serde_json::json!(["lrclib.net"])
    );
    assert_eq!(interfaces(&list["lyrics"]), set(&["log", "http", "player"]));
    assert_eq!(
        list["lyrics"]["granted"]["http_hosts"],
        serde_json::json!(["lrclib.net"])
    );
    assert_eq!(
        interfaces(&list["playlists"]),
        set(&["log", "player", "player-events", "kv"])
    );
    assert_eq!(
        interfaces(&list["sponsorblock"]),
        set(&[
            "log",
            "http",
            "player",
            "player-events",
            "kv",
            "timers",
            "messages"
        ])
    );
    assert_eq!(
        interfaces(&list["autoplay"]),
        set(&["log", "player", "player-events", "kv", "messages", "media"])
    );
    assert_eq!(
        interfaces(&list["links"]),
        set(&["log", "http", "kv", "media"])
    );
    assert_eq!(
        list["links"]["granted"]["http_hosts"]
            .as_array()
            .map(Vec::len),
        Some(6)
    );
    // http has the interface and no host: it reaches nothing until the operator says.
    assert_eq!(interfaces(&list["http"]), set(&["log", "http"]));
    assert_eq!(list["http"]["granted"]["http_hosts"], serde_json::json!([]));
    // local reads the music folder when there is one, and nothing otherwise.
    assert_eq!(list["local"]["granted"]["files_dir"], Value::Null);
    let music = tmp.path().join("music");
    let list = listed(with_bundled(tmp.path(), &data).env("MINSTREL_PLUGINS__MUSIC_DIR", &music));
    assert_eq!(
        list["local"]["granted"]["files_dir"],
        music.display().to_string()
    );

    // The operator's grant replaces the default one.
    let list = listed(
        with_bundled(tmp.path(), &data)
            .env("MINSTREL_PLUGINS__GRANTS__YOUTUBE__INTERFACES", "[\"kv\"]"),
    );
    assert_eq!(interfaces(&list["youtube"]), set(&["log", "kv"]));

    // A file of the same name replaces the bundled plugin, and gets only what the
    // operator grants: not the bundled plugin's `media`.
    let folder = tmp.path().join("plugins");
    std::fs::create_dir_all(&folder).unwrap();
    std::fs::copy(component("tone"), folder.join("youtube.wasm")).unwrap();
    let list = listed(&mut with_bundled(tmp.path(), &data));
    let youtube = &list["youtube"];
    assert_eq!(youtube["bundled"], false, "{youtube}");
    assert!(
        youtube["path"]
            .as_str()
            .unwrap()
            .ends_with("plugins/youtube.wasm"),
        "{youtube}"
    );
    assert_eq!(interfaces(youtube), set(&["log"]));
    assert_eq!(list["tone"]["bundled"], true);

    // Off: only the folder's plugins.
    let list = listed(with_bundled(tmp.path(), &data).env("MINSTREL_PLUGINS__BUNDLED", "false"));
    assert_eq!(
        list.keys().cloned().collect::<BTreeSet<_>>(),
        set(&["youtube"])
    );
}

/// yt-dlp with YouTube stood in for by a loopback server: the real yt-dlp, given the
/// served file wherever it is given `NEVER_GONNA`.
fn loopback_yt_dlp(dir: &Path, served: &str) -> std::path::PathBuf {
    let real = which("yt-dlp");
    let script = dir.join("yt-dlp");
    std::fs::write(
        &script,
        format!(
            "#!/usr/bin/env bash\nargs=()\nfor a in \"$@\"; do\n  [ \"$a\" = {NEVER_GONNA:?} ] && a={served:?}\n  args+=(\"$a\")\ndone\nexec {:?} \"${{args[@]}}\"\n",
            real.display().to_string()
        ),
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    script
}

fn which(program: &str) -> std::path::PathBuf {
    std::env::split_paths(&std::env::var_os("PATH").unwrap())
        .map(|dir| dir.join(program))
        .find(|path| path.is_file())
        .unwrap_or_else(|| panic!("{program} is not on PATH (scripts/setup.sh installs it)"))
}

/// A new owner's first run: an empty data folder, no plugins folder, no config file,
/// only the token (and, here, the local server's address): `!play` with a YouTube URL
/// plays through the bundled youtube plugin. Replacing it by a file in the plugins folder
/// and removing that file again switches between the two while the bot runs.
#[test]
fn a_new_owner_plays_a_youtube_url_with_only_a_token() {
    run(async {
        let tmp = tempfile::tempdir().unwrap();
        let song = sine_ogg(tmp.path(), 440, 3);
        let remote = LocalHttp::start().await.unwrap();
        remote.route(
            "/video.ogg",
            Route::ok(std::fs::read(&song).unwrap()).typed("audio/ogg"),
        );
        let yt_dlp = loopback_yt_dlp(tmp.path(), &remote.url("/video.ogg"));
        let server = LocalDiscord::start().await.unwrap();
        let world = server.world();
        world.join_voice(ALICE, MUSIC).unwrap();
        let home = tmp.path().join("owner");
        std::fs::create_dir_all(&home).unwrap();

        let trust = minstrel_local::discord::voice::trust_bundle().unwrap();
        let mut cmd = with_bundled(&home, &home.join("minstrel-data"));
        cmd.arg("run")
            .env("DISCORD_TOKEN", "test-token")
            .env("MINSTREL_DISCORD__API_BASE", server.base_url())
            .env("SSL_CERT_FILE", trust)
            .env("MINSTREL_MEDIA__YT_DLP", &yt_dlp)
            // The stand-in serves from loopback.
            .env("MINSTREL_MEDIA__ALLOW_PRIVATE_ADDRESSES", "true");
        let mut bot = BotProcess::start(&mut cmd, "owner").await;
        bot.logged("plugin=youtube bundled=true").await;

        command(world, &format!("!play {NEVER_GONNA}"), |c| {
            c.starts_with("Playing")
        })
        .await;
        wait_packets(world, 50).await;
        assert!(
            home.join("plugins").is_dir(),
            "the default plugins folder is made"
        );

        // A file of the same name takes over while the bot runs...
        std::fs::copy(component("tone"), home.join("plugins/youtube.wasm")).unwrap();
        bot.logged("plugin=youtube bundled=false").await;
        // ...and when it goes, the bundled plugin serves again.
        std::fs::remove_file(home.join("plugins/youtube.wasm")).unwrap();
        bot.logged_times("plugin=youtube bundled=true", 2).await;
        command(world, &format!("!play {NEVER_GONNA}"), |c| {
            c.starts_with("Queued") || c.starts_with("Playing")
        })
        .await;
    });
}
