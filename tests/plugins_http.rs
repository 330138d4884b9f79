//! Plugin HTTP from the real `minstrel` binary and the real `http` source plugin: proxy
//! environment variables are ignored, so a request goes to the address that was checked
//! and nowhere else. The binary runs as a child process because the environment is
//! process-wide.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use minstrel_local::http::{LocalHttp, Route};
use minstrel_tests::component;

const PROXY_VARS: &[&str] = &[
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "ALL_PROXY",
    "http_proxy",
    "https_proxy",
    "all_proxy",
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plugin_http_ignores_proxy_environment_variables() {
    let server = LocalHttp::start().await.unwrap();
    server.route("/song.ogg", Route::ok(vec![0u8; 64]).typed("audio/ogg"));
    let song = server.url("/song.ogg");

    // A proxy that counts connections and answers none (a client waits for its answer,
    // so a connection is counted before the client can give up).
    let proxy = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let proxy_url = format!("http://{}", proxy.local_addr().unwrap());
    let connections = Arc::new(AtomicUsize::new(0));
    let counted = Arc::clone(&connections);
    let accepting = tokio::spawn(async move {
        while let Ok((socket, _)) = proxy.accept().await {
            counted.fetch_add(1, Ordering::SeqCst);
            drop(socket);
        }
    });

    let tmp = tempfile::tempdir().unwrap();
    let plugins = tmp.path().join("plugins");
    std::fs::create_dir_all(&plugins).unwrap();
    std::fs::copy(component("http"), plugins.join("http.wasm")).unwrap();
    let config = tmp.path().join("minstrel.toml");
    let grant = format!(
        "[plugins.grants.http]\ninterfaces = [\"http\"]\nhttp_hosts = [\"127.0.0.1\"]\n\
         http_ports = [{}]\nallow_private_addresses = true\n",
        server.port()
    );
    std::fs::write(&config, grant).unwrap();

    let mut command = minstrel_tests::minstrel(&tmp.path().join("data"));
    command
        .arg("--config")
        .arg(&config)
        .args(["source", "resolve", "http", &song, "--json"])
        .env("MINSTREL_PLUGINS__DIR", &plugins)
        .env_remove("NO_PROXY")
        .env_remove("no_proxy")
        // reqwest ignores HTTP_PROXY when this CGI variable is set.
        .env_remove("REQUEST_METHOD");
    for var in PROXY_VARS {
        command.env(var, &proxy_url);
    }
    let mut command = tokio::process::Command::from(command);
    command.kill_on_drop(true);
    let out = tokio::time::timeout(Duration::from_secs(120), command.output())
        .await
        .expect("`minstrel source resolve` did not finish within 120 s")
        .expect("spawn minstrel");

    assert_eq!(
        connections.load(Ordering::SeqCst),
        0,
        "the plugin's request went to the proxy; stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    minstrel_tests::check(&out);
    let tracks: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(tracks[0]["id"], song.as_str());
    assert!(server.hits("/song.ogg") > 0, "the server was not asked");
    accepting.abort();
}
