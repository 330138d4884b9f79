//! The sandbox limits and capability denials, proven on real components built from
//! plugins/ (scripts/build-plugins.sh). Each attack costs one failed call with a clear
//! error; the plugin, the host and the other plugins carry on.

#[path = "plugins_support/mod.rs"]
mod support;

use std::time::{Duration, Instant};

use minstrel::plugins::{CallError, Grant, PluginHost};
use support::*;

async fn hostile_host(grant: Option<Grant>) -> (tempfile::TempDir, PluginHost) {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("plugins");
    install(&dir, "hostile", "hostile");
    install(&dir, "hello_command", "hello");
    let mut config = config(&dir);
    if let Some(grant) = grant {
        config.grants.insert("hostile".into(), grant);
    }
    let host = host(config, &tmp.path().join("data"));
    for (path, result) in host.load_dir().await {
        result.unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    }
    (tmp, host)
}

async fn attack(
    host: &PluginHost,
    name: &str,
    options: &[(&str, &str)],
) -> Result<String, CallError> {
    host.run_command("hostile", &invocation(name, options))
        .await
        .map(|reply| reply.content)
}

/// After any attack, the same plugin and another plugin still answer.
async fn still_serving(host: &PluginHost) {
    assert_eq!(attack(host, "ok", &[]).await.unwrap(), "still fine");
    let reply = host
        .run_command("hello", &invocation("hello", &[("who", "Bob")]))
        .await
        .unwrap();
    assert_eq!(reply.content, "Hello, Bob!");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn infinite_loop_hits_the_deadline() {
    let (_tmp, host) = hostile_host(None).await;
    let started = Instant::now();
    let error = attack(&host, "spin", &[]).await.unwrap_err();
    let took = started.elapsed();
    assert!(
        matches!(error, CallError::Timeout { limit, .. } if limit == Duration::from_millis(400)),
        "{error:?}"
    );
    assert!(error.to_string().contains("ran out of time"), "{error}");
    // Not cut short (how soon after the limit it stops: the plugins benchmark).
    assert!(took >= Duration::from_millis(350), "{took:?}");
    still_serving(&host).await;
    let status = host.status("hostile").unwrap();
    assert_eq!(status.counters.timeouts, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn per_plugin_timeout_override_applies() {
    let grant = Grant {
        call_timeout_ms: Some(100),
        ..Grant::default()
    };
    let (_tmp, host) = hostile_host(Some(grant)).await;
    let error = attack(&host, "spin", &[]).await.unwrap_err();
    assert!(
        matches!(error, CallError::Timeout { limit, .. } if limit == Duration::from_millis(100)),
        "{error:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memory_bomb_hits_the_cap() {
    let (_tmp, host) = hostile_host(None).await;
    let error = attack(&host, "bomb", &[]).await.unwrap_err();
    assert!(
        matches!(error, CallError::MemoryCap { limit, .. } if limit == 32 << 20),
        "{error:?}"
    );
    still_serving(&host).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn per_plugin_memory_override_applies() {
    let grant = Grant {
        memory_bytes: Some(16 << 20),
        ..Grant::default()
    };
    let (_tmp, host) = hostile_host(Some(grant)).await;
    let error = attack(&host, "bomb", &[]).await.unwrap_err();
    assert!(
        matches!(error, CallError::MemoryCap { limit, .. } if limit == 16 << 20),
        "{error:?}"
    );
    assert_eq!(
        host.status("hostile").unwrap().granted.memory_bytes,
        16 << 20
    );
    assert_eq!(host.status("hello").unwrap().granted.memory_bytes, 32 << 20);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deep_recursion_overflows_cleanly() {
    let (_tmp, host) = hostile_host(None).await;
    let error = attack(&host, "recurse", &[]).await.unwrap_err();
    assert!(
        matches!(error, CallError::StackOverflow { .. }),
        "{error:?}"
    );
    still_serving(&host).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn panic_is_one_failed_call_with_its_message() {
    let (_tmp, host) = hostile_host(None).await;
    let error = attack(&host, "panic", &[]).await.unwrap_err();
    let CallError::Trap { detail, .. } = &error else {
        panic!("{error:?}");
    };
    assert!(
        detail.contains("hostile plugin panicked on purpose"),
        "{detail}"
    );
    still_serving(&host).await;
    // A fresh instance per call: the trapped one is never entered again, so a second
    // panic is reported the same way.
    let again = attack(&host, "panic", &[]).await.unwrap_err();
    assert_eq!(again.kind(), "trap");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_call_sees_what_an_earlier_call_left_in_memory() {
    // Memory is zeroed in place between calls (`keep_resident_bytes`), not handed back
    // to the kernel: each call must still start from a clean instance.
    let (_tmp, host) = hostile_host(None).await;
    for _ in 0..20 {
        let answer = attack(&host, "snoop", &[]).await.unwrap();
        assert_eq!(answer, "0 bytes left behind, 1048576 written");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_files_and_no_environment() {
    let (_tmp, host) = hostile_host(None).await;
    for path in ["/etc/hostname", "/etc/passwd", "plugins/hostile.wasm", "."] {
        let error = attack(&host, "read-file", &[("path", path)])
            .await
            .unwrap_err();
        let CallError::Plugin(text) = &error else {
            panic!("{error:?}");
        };
        assert!(text.starts_with("read failed"), "{path}: {text}");
    }
    assert_eq!(attack(&host, "env", &[]).await.unwrap(), "0");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn flooding_a_host_call_exhausts_the_budget() {
    let grant = Grant {
        interfaces: vec!["log".into()],
        ..Grant::default()
    };
    let (_tmp, host) = hostile_host(Some(grant)).await;
    let error = attack(&host, "flood", &[]).await.unwrap_err();
    assert!(
        matches!(error, CallError::HostCallBudget { limit: 1_000, .. }),
        "{error:?}"
    );
    still_serving(&host).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_capability_is_denied_unless_granted() {
    // Only `log` (the default grant). kv, http, llm and player are imported by the
    // hostile plugin and each call that uses one fails, naming it.
    let (_tmp, host) = hostile_host(None).await;
    for (command, capability) in [
        ("kv", "kv"),
        ("http", "http"),
        ("llm", "llm"),
        ("player", "player"),
    ] {
        let options: &[(&str, &str)] = if command == "http" {
            &[("url", "http://api.example.org/")]
        } else {
            &[]
        };
        let error = attack(&host, command, options).await.unwrap_err();
        assert_eq!(
            error,
            CallError::Denied {
                plugin: "hostile".into(),
                capability: capability.into()
            },
            "{command}"
        );
    }
    let status = host.status("hostile").unwrap();
    assert_eq!(status.counters.denials, 4);
    assert!(status.asks.iter().any(|a| a == "http"));
    assert_eq!(
        status.http_hosts_not_granted,
        vec!["api.example.org".to_string()]
    );
    still_serving(&host).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn granted_capabilities_work() {
    let grant = Grant {
        interfaces: vec!["kv".into(), "llm".into(), "player".into()],
        ..Grant::default()
    };
    let (_tmp, host) = hostile_host(Some(grant)).await;
    assert_eq!(attack(&host, "kv", &[]).await.unwrap(), "stored");
    // Granted, but no LLM or player is configured: the service's error reaches the
    // plugin as its own error, not as a denial.
    let error = attack(&host, "llm", &[]).await.unwrap_err();
    assert!(
        matches!(&error, CallError::Plugin(text) if text.contains("no LLM")),
        "{error:?}"
    );
    let error = attack(&host, "player", &[]).await.unwrap_err();
    assert!(
        matches!(&error, CallError::Plugin(text) if text.contains("no player")),
        "{error:?}"
    );
}

/// A one-shot HTTP server on 127.0.0.1 answering `body`.
async fn local_server(body: &'static str) -> (std::net::SocketAddr, tokio::task::JoinHandle<()>) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let task = tokio::spawn(async move {
        for _ in 0..4 {
            let Ok((mut socket, _)) = listener.accept().await else {
                return;
            };
            let mut buf = [0u8; 4096];
            let _ = socket.read(&mut buf).await;
            let response = format!(
                "HTTP/1.1 200 OK\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = socket.write_all(response.as_bytes()).await;
        }
    });
    (addr, task)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_only_to_granted_public_hosts_unless_private_is_allowed() {
    let (addr, server) = local_server("hello from loopback").await;
    let url = format!("http://127.0.0.1:{}/", addr.port());

    // http granted, but not this host.
    let grant = Grant {
        interfaces: vec!["http".into()],
        http_hosts: vec!["api.example.org".into()],
        ..Grant::default()
    };
    let (_tmp, host) = hostile_host(Some(grant)).await;
    let error = attack(&host, "http", &[("url", &url)]).await.unwrap_err();
    assert!(
        matches!(&error, CallError::Plugin(t) if t.contains("host `127.0.0.1` is not granted")),
        "{error:?}"
    );

    // The host and port granted, but it is loopback.
    let grant = Grant {
        interfaces: vec!["http".into()],
        http_hosts: vec!["127.0.0.1".into(), "localhost".into()],
        http_ports: vec![addr.port()],
        ..Grant::default()
    };
    let (_tmp, host) = hostile_host(Some(grant.clone())).await;
    for url in [url.clone(), format!("http://localhost:{}/", addr.port())] {
        let error = attack(&host, "http", &[("url", &url)]).await.unwrap_err();
        assert!(
            matches!(&error, CallError::Plugin(t) if t.contains("non-public address")),
            "{url}: {error:?}"
        );
    }

    // The operator allows private addresses for this plugin: the request goes through.
    let grant = Grant {
        allow_private_addresses: true,
        ..grant
    };
    let (_tmp, host) = hostile_host(Some(grant)).await;
    assert_eq!(
        attack(&host, "http", &[("url", &url)]).await.unwrap(),
        "hello from loopback"
    );
    server.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn attacks_in_parallel_do_not_disturb_a_well_behaved_plugin() {
    let (_tmp, host) = hostile_host(None).await;
    let mut attacks = Vec::new();
    for name in ["spin", "bomb", "recurse", "panic", "spin"] {
        let host = host.clone();
        attacks.push(tokio::spawn(async move { attack(&host, name, &[]).await }));
    }
    // Meanwhile the good plugin answers every call (how promptly: the plugins
    // benchmark).
    for i in 0..20 {
        let reply = host
            .run_command("hello", &invocation("hello", &[("who", &i.to_string())]))
            .await
            .unwrap();
        assert_eq!(reply.content, format!("Hello, {i}!"));
    }
    for task in attacks {
        assert!(task.await.unwrap().is_err());
    }
    assert_eq!(host.status("hostile").unwrap().counters.failures, 5);
}
