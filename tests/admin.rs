//! The operator's view of a real `minstrel run` process: `/healthz` says what is wrong,
//! `/metrics` (the Prometheus exposition, parsed) moves when a song plays, the `/status`
//! page shows the song and the failed plugin in a real browser, and JSON logs carry the
//! guild and the plugin of what they report.

use std::collections::HashMap;
use std::net::SocketAddr;

use minstrel_local::discord::LocalDiscord;
use minstrel_local::discord::payloads::{ALICE, GUILD_ID, MUSIC};
use minstrel_tests::bot::{BotProcess, WAIT, caught_up, run_command};
use minstrel_tests::built::component;
use minstrel_tests::playback::{command, wait_packets};
use minstrel_tests::voice::run;
use minstrel_tests::wait_for;
use serde_json::Value;

const TOKEN: &str = "admin-secret";

/// `GET http://addr/path`, with the admin token when `auth`: status and body, within
/// [`WAIT`].
async fn get(addr: SocketAddr, path: &str, auth: bool) -> (u16, String) {
    let client = reqwest::Client::builder().timeout(WAIT).build().unwrap();
    let mut request = client.get(format!("http://{addr}{path}"));
    if auth {
        request = request.bearer_auth(TOKEN);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.text().await.unwrap())
}

/// Every sample of the exposition, keyed `name{label="value",...}` (labels sorted).
async fn scrape(addr: SocketAddr) -> HashMap<String, f64> {
    let (status, text) = get(addr, "/metrics", true).await;
    assert_eq!(status, 200, "{text}");
    let lines = text.lines().map(|l| Ok(l.to_string()));
    let parsed = prometheus_parse::Scrape::parse(lines).expect("a valid exposition");
    let mut samples = HashMap::new();
    for sample in parsed.samples {
        let mut labels: Vec<String> = sample
            .labels
            .iter()
            .map(|(k, v)| format!("{k}=\"{v}\""))
            .collect();
        labels.sort();
        let value = match sample.value {
            prometheus_parse::Value::Counter(v)
            | prometheus_parse::Value::Gauge(v)
            | prometheus_parse::Value::Untyped(v) => v,
            // Histograms: their count.
            prometheus_parse::Value::Histogram(buckets) => buckets.last().map_or(0.0, |b| b.count),
            prometheus_parse::Value::Summary(_) => continue,
        };
        samples.insert(format!("{}{{{}}}", sample.metric, labels.join(",")), value);
    }
    samples
}

/// `minstrel health --addr addr`: its exit code and what it printed.
fn health_command(addr: SocketAddr) -> (Option<i32>, String) {
    let out = minstrel_tests::minstrel_command()
        .args(["health", "--addr", &addr.to_string()])
        .output()
        .unwrap();
    let said =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    (out.status.code(), said)
}

fn sample(samples: &HashMap<String, f64>, key: &str) -> f64 {
    samples.get(key).copied().unwrap_or(0.0)
}

/// Headless Chromium with `args` (no sandbox: tests may run as root; no background
/// traffic: the network is closed), within 60 s; its standard output.
fn chromium(args: &[&str]) -> String {
    let profile = tempfile::tempdir().unwrap();
    let out = std::process::Command::new("timeout")
        .args([
            "60",
            "chromium",
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
        ])
        .args([
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
        ])
        .args(["--disable-component-update", "--disable-sync"])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .args(args)
        .output()
        .expect("chromium (scripts/setup.sh installs it)");
    assert!(
        out.status.success(),
        "chromium {args:?}: {}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn health_metrics_status_page_and_json_logs_of_a_running_bot() {
    run(async {
        let tmp = tempfile::tempdir().unwrap();
        let server = LocalDiscord::start().await.unwrap();
        let world = server.world();
        world.join_voice(ALICE, MUSIC).unwrap();
        let plugins = tmp.path().join("plugins");
        std::fs::create_dir_all(&plugins).unwrap();
        std::fs::copy(component("tone"), plugins.join("tone.wasm")).unwrap();
        std::fs::copy(component("hello_command"), plugins.join("hello.wasm")).unwrap();
        let trust = minstrel_local::discord::voice::trust_bundle().unwrap();
        let mut cmd = run_command(&server, &tmp.path().join("data"), &plugins, "test-token");
        cmd.env("SSL_CERT_FILE", trust)
            .env("MINSTREL_ADMIN__LISTEN", "127.0.0.1:0")
            .env("MINSTREL_ADMIN__TOKEN", TOKEN)
            .env("MINSTREL_LOG__FORMAT", "json");
        let mut bot = BotProcess::start(&mut cmd, "admin").await;
        caught_up(world).await;

        // Where it listens, from its own log line (port 0: the system's choice).
        let line = bot.logged("admin listener").await;
        let logged: Value = serde_json::from_str(&line).expect("JSON log lines");
        let addr: SocketAddr = logged["fields"]["addr"].as_str().unwrap().parse().unwrap();

        // Healthy: connected, the database answers, both plugins serve.
        let (status, body) = get(addr, "/healthz", false).await;
        assert_eq!(status, 200, "{body}");
        let health: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(health["gateway"]["connected"], true, "{body}");
        assert_eq!(health["database"]["ok"], true, "{body}");
        assert_eq!(health["plugins"]["loaded"], 2, "{body}");
        let (code, said) = health_command(addr);
        assert_eq!(code, Some(0), "{said}");
        assert!(said.contains("\"connected\":true"), "{said}");

        // The metrics need the token.
        let (status, _) = get(addr, "/metrics", false).await;
        assert_eq!(status, 401);

        let before = scrape(addr).await;
        // Long enough to be still playing when the status page is read at the end.
        command(world, "!play tone:440:60", |c| c.starts_with("Playing")).await;
        wait_packets(world, 50).await;
        let text = command(world, "!hello Ada", |c| c.starts_with("Hello")).await;
        assert_eq!(text, "Hello, Ada!");
        let after = scrape(addr).await;
        let moved = |key: &str| sample(&after, key) - sample(&before, key);

        assert!(moved(r#"minstrel_gateway_events_total{kind="message"}"#) >= 2.0);
        assert!(moved(r#"minstrel_claims_total{kind="message",outcome="won"}"#) >= 2.0);
        assert_eq!(
            moved(r#"minstrel_commands_total{command="play",outcome="ok"}"#),
            1.0
        );
        assert_eq!(
            moved(r#"minstrel_command_duration_seconds{command="play"}"#),
            1.0
        );
        assert_eq!(
            moved(r#"minstrel_plugin_calls_total{call="run",outcome="ok",plugin="hello"}"#),
            1.0
        );
        assert!(
            moved(r#"minstrel_plugin_calls_total{call="fetch",outcome="ok",plugin="tone"}"#) >= 1.0
        );
        assert!(
            moved(r#"minstrel_plugin_call_duration_seconds{call="fetch",plugin="tone"}"#) >= 1.0
        );
        // The tone was downloaded (through the plugin), rendered, and both cached.
        assert!(moved(r#"minstrel_cache_misses_total{}"#) >= 2.0);
        assert_eq!(
            moved(r#"minstrel_fetches_total{kind="download",outcome="ok"}"#),
            1.0
        );
        assert_eq!(
            moved(r#"minstrel_fetches_total{kind="render",outcome="ok"}"#),
            1.0
        );
        assert!(moved(r#"minstrel_fetch_bytes_total{kind="render"}"#) > 0.0);
        assert!(sample(&after, "minstrel_cache_bytes{}") > 0.0);
        assert_eq!(
            moved(r#"minstrel_player_events_total{kind="track_started"}"#),
            1.0
        );
        assert_eq!(sample(&after, "minstrel_players_in_voice{}"), 1.0);
        assert_eq!(sample(&after, "minstrel_plugins_loaded{}"), 2.0);

        // The plugin's own log line, as JSON, names its guild and itself.
        let line = bot.logged("greeting Ada").await;
        let logged: Value = serde_json::from_str(&line).unwrap();
        let spans = logged["spans"].as_array().expect("spans");
        let span = |name: &str| spans.iter().find(|s| s["name"] == name).cloned();
        let event = span("event").unwrap_or_else(|| panic!("no event span: {line}"));
        assert_eq!(event["guild"], GUILD_ID, "{line}");
        let plugin = span("plugin").unwrap_or_else(|| panic!("no plugin span: {line}"));
        assert_eq!(plugin["plugin"], "hello", "{line}");
        assert_eq!(plugin["call"], "run", "{line}");

        // A plugin file that does not load makes the bot unhealthy, and says which.
        std::fs::write(plugins.join("broken.wasm"), b"not a component").unwrap();
        let unhealthy = wait_for(WAIT, async || get(addr, "/healthz", false).await.0 == 503).await;
        let (_, body) = get(addr, "/healthz", false).await;
        assert!(unhealthy, "still healthy: {body}");
        let health: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(health["plugins"]["failed"], serde_json::json!(["broken"]));
        assert_eq!(health["status"], "unhealthy");
        // What a container's health check runs says the same.
        let (code, said) = health_command(addr);
        assert_eq!(code, Some(1), "{said}");
        assert!(said.contains("\"broken\""), "{said}");

        // The status page, in a real browser (Debian's chromium, headless): the song
        // playing and the plugin that failed, read from the page as rendered.
        let (status, _) = get(addr, "/status", false).await;
        assert_eq!(status, 401, "the page needs the token too");
        let url = format!("http://{addr}/status?token={TOKEN}");
        let dom = chromium(&["--dump-dom", &url]);
        assert!(
            dom.contains("440 Hz tone"),
            "no song playing on the page: {dom}"
        );
        assert!(
            dom.contains(r#"<td>broken</td><td class="failed">failed</td>"#),
            "no failed plugin on the page: {dom}"
        );
        assert!(
            dom.contains(r#"<td>tone</td><td class="loaded">loaded</td>"#),
            "{dom}"
        );
        // A screenshot, kept as the test's artefact.
        let shot = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("status-page.png");
        let _ = std::fs::remove_file(&shot);
        chromium(&[
            &format!("--screenshot={}", shot.display()),
            "--window-size=1280,900",
            &url,
        ]);
        let png = std::fs::read(&shot).expect("chromium saved no screenshot");
        assert!(png.starts_with(b"\x89PNG"), "not a PNG");
    });
}
