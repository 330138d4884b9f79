//! One example plugin per world, called through the runtime's public API: the command
//! plugin (with kv kept across calls and reloads), the source plugin (streaming into a
//! sink, and the media service behind a grant), and the mention plugin (LLM stream into
//! the draft).

#[path = "plugins_support/mod.rs"]
mod support;

use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use minstrel::llm::ChatRequest;
use minstrel::media::{AudioWriter, Info};
use minstrel::plugins::types::{Message, Timer};
use minstrel::plugins::{
    CallError, ChatStream, Grant, HostServices, PluginHost, PluginsConfig, ServiceError, World,
};
use support::*;

/// Services that answer like a small LLM and a media extractor would.
struct Fake;

struct Pieces(Vec<String>);

#[async_trait]
impl ChatStream for Pieces {
    async fn next(&mut self) -> Result<Option<String>, ServiceError> {
        Ok(if self.0.is_empty() {
            None
        } else {
            Some(self.0.remove(0))
        })
    }
}

#[async_trait]
impl HostServices for Fake {
    async fn chat_stream(
        &self,
        plugin: &str,
        _user: Option<u64>,
        request: ChatRequest,
    ) -> Result<Box<dyn ChatStream>, ServiceError> {
        let question = &request
            .messages
            .last()
            .ok_or(ServiceError::Llm(minstrel::llm::LlmError::NoMessages))?
            .content;
        let answer = format!("{plugin} heard: {question}");
        let pieces = answer.split_inclusive(' ').map(str::to_string).collect();
        Ok(Box::new(Pieces(pieces)))
    }

    async fn probe(&self, _plugin: &str, url: String) -> Result<Info, ServiceError> {
        Ok(Info {
            title: "A song".into(),
            duration_ms: Some(3_000),
            artwork_url: None,
            page_url: url,
            entries: Vec::new(),
        })
    }

    async fn download_audio(
        &self,
        _plugin: &str,
        url: String,
        into: &mut dyn AudioWriter,
    ) -> Result<(), ServiceError> {
        into.write(format!("audio of {url}").as_bytes())
            .await
            .map_err(|e| ServiceError::Media(minstrel::media::MediaError::Sink(e)))
    }
}

#[derive(Clone, Default)]
struct Collect(Arc<Mutex<Vec<u8>>>);

#[async_trait]
impl AudioWriter for Collect {
    async fn write(&mut self, bytes: &[u8]) -> Result<(), String> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(())
    }
}

async fn loaded(grants: &[(&str, &[&str])]) -> (tempfile::TempDir, PluginHost, PluginsConfig) {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("plugins");
    install(&dir, "hello_command", "hello");
    install(&dir, "echo_source", "echo");
    install(&dir, "ask_mention", "ask");
    let mut config = config(&dir);
    for (name, interfaces) in grants {
        config.grants.insert(
            name.to_string(),
            Grant {
                interfaces: interfaces.iter().map(|s| s.to_string()).collect(),
                ..Grant::default()
            },
        );
    }
    let host = host_with(config.clone(), &tmp.path().join("data"), Arc::new(Fake));
    for (path, result) in host.load_dir().await {
        result.unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    }
    (tmp, host, config)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn command_plugin_declares_runs_and_keeps_kv_across_reloads() {
    let (tmp, host, _) = loaded(&[("hello", &["kv"])]).await;
    assert_eq!(host.names(World::Command), vec!["hello".to_string()]);
    let specs = host.commands("hello").await.unwrap();
    let names: Vec<&str> = specs.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["hello", "count"]);
    assert_eq!(specs[0].options[0].name, "who");

    let reply = host
        .run_command("hello", &invocation("hello", &[]))
        .await
        .unwrap();
    assert_eq!(reply.content, "Hello, ada!");
    assert!(!reply.ephemeral);

    for expected in 1..=3 {
        let reply = host
            .run_command("hello", &invocation("count", &[]))
            .await
            .unwrap();
        assert_eq!(reply.content, expected.to_string());
    }
    // Reloading the file keeps the plugin's kv.
    host.load_file(&tmp.path().join("plugins/hello.wasm"))
        .await
        .unwrap();
    let reply = host
        .run_command("hello", &invocation("count", &[]))
        .await
        .unwrap();
    assert_eq!(reply.content, "4");

    let error = host
        .run_command("hello", &invocation("nope", &[]))
        .await
        .unwrap_err();
    assert_eq!(error, CallError::Plugin("unknown command nope".into()));
    let suggestions = host
        .autocomplete("hello", "hello", "who", "a", &context())
        .await
        .unwrap();
    assert!(suggestions.is_empty());
    let status = host.status("hello").unwrap();
    // Each of the two loads asked for the commands once; the rest are the calls above.
    assert_eq!(status.counters.calls, 9);
    assert_eq!(status.counters.failures, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn source_plugin_claims_resolves_and_streams_into_the_sink() {
    let (_tmp, host, _) = loaded(&[("echo", &["media"])]).await;
    assert!(host.claims("echo", "echo://hi").await.unwrap());
    assert!(!host.claims("echo", "https://example.org/").await.unwrap());
    let tracks = host.resolve("echo", "echo://hi").await.unwrap();
    assert_eq!(tracks.len(), 1);
    assert_eq!(tracks[0].id, "echo:hi");

    let sink = Collect::default();
    let (result, writer) = host.fetch("echo", "echo:hi", Box::new(sink.clone())).await;
    assert_eq!(result.unwrap(), 4 * 256 * 2);
    assert!(writer.is_some(), "the writer is handed back");
    assert_eq!(sink.0.lock().unwrap().len(), 2048);

    // Through the host's media service (granted here).
    let tracks = host
        .resolve("echo", "media:https://video.example/x")
        .await
        .unwrap();
    assert_eq!(tracks[0].title, "A song");
    let sink = Collect::default();
    let (result, _) = host
        .fetch("echo", &tracks[0].id, Box::new(sink.clone()))
        .await;
    result.unwrap();
    assert_eq!(
        &sink.0.lock().unwrap()[..],
        b"audio of https://video.example/x"
    );

    // The wrong world is a clear error, not a trap.
    let error = host
        .run_command("echo", &invocation("x", &[]))
        .await
        .unwrap_err();
    assert_eq!(error.kind(), "wrong-kind");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn media_is_denied_without_a_grant() {
    let (_tmp, host, _) = loaded(&[]).await;
    let error = host
        .resolve("echo", "media:https://video.example/x")
        .await
        .unwrap_err();
    assert_eq!(
        error,
        CallError::Denied {
            plugin: "echo".into(),
            capability: "media".into()
        }
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mention_plugin_streams_an_llm_answer_into_the_draft() {
    let (_tmp, host, _) = loaded(&[("ask", &["llm", "draft"])]).await;
    let message = Message {
        id: 9,
        content: "what is a minstrel?".into(),
        context: context(),
        attachments: vec![],
        reply_chain: Vec::new(),
    };
    let (reply, draft) = host.handle_mention("ask", &message).await;
    let reply = reply.unwrap();
    assert_eq!(reply.content, "ask heard: what is a minstrel?");
    assert_eq!(draft, reply.content);

    // Without the draft grant the stream still comes, but showing it is denied.
    let (_tmp, host, _) = loaded(&[("ask", &["llm"])]).await;
    let (reply, draft) = host.handle_mention("ask", &message).await;
    assert_eq!(reply.unwrap_err().kind(), "denied");
    assert!(draft.is_empty());
}

/// Every host interface with an effect refuses a plugin that was not granted it. The
/// list is checked against the runtime's own list, so a new interface without a test
/// here fails.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_host_interface_is_gated() {
    use minstrel::config::plugins::INTERFACES;

    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("plugins");
    install(&dir, "hello_command", "hello");
    install(&dir, "echo_source", "echo");
    install(&dir, "ask_mention", "ask");
    install(&dir, "hostile", "hostile");
    install(&dir, "hostile_v2", "hostile2");
    install(&dir, "probe_v2", "probe");
    let mut config = config(&dir);
    // Nothing by default, not even log; `ask` gets llm only so that it reaches draft.
    config.defaults = Grant::default();
    config.grants.insert(
        "ask".into(),
        Grant {
            interfaces: vec!["llm".into()],
            ..Grant::default()
        },
    );
    let host = host_with(config, &tmp.path().join("data"), Arc::new(Fake));
    for (path, result) in host.load_dir().await {
        result.unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    }
    let hostile = |command: &'static str, url: Option<&'static str>| {
        let host = host.clone();
        async move {
            let options: Vec<(&str, &str)> = url.map(|u| ("url", u)).into_iter().collect();
            host.run_command("hostile", &invocation(command, &options))
                .await
                .unwrap_err()
        }
    };
    let message = Message {
        id: 1,
        content: "hi".into(),
        context: context(),
        attachments: vec![],
        reply_chain: Vec::new(),
    };
    let denied: Vec<(&str, CallError)> = vec![
        (
            "log",
            host.run_command("hello", &invocation("hello", &[]))
                .await
                .unwrap_err(),
        ),
        ("kv", hostile("kv", None).await),
        (
            "http",
            hostile("http", Some("https://api.example.org/")).await,
        ),
        ("llm", hostile("llm", None).await),
        ("player", hostile("player", None).await),
        (
            "media",
            host.resolve("echo", "media:https://video.example/x")
                .await
                .unwrap_err(),
        ),
        (
            "draft",
            host.handle_mention("ask", &message).await.0.unwrap_err(),
        ),
        (
            "timers",
            host.run_command("hostile2", &invocation("bomb", &[]))
                .await
                .unwrap_err(),
        ),
        (
            "messages",
            host.timer(
                "probe",
                &Timer {
                    id: 1,
                    payload: b"4000|hi".to_vec(),
                    guild_id: Some(2000),
                },
            )
            .await
            .unwrap_err(),
        ),
    ];
    for (interface, error) in &denied {
        assert!(
            matches!(error, CallError::Denied { capability, .. } if capability == interface),
            "{interface}: {error:?}"
        );
    }
    let mut tested: Vec<&str> = denied.iter().map(|(i, _)| *i).collect();
    // Player events are a grant, not an import: ungranted, no plugin is told of any.
    assert!(host.listeners().is_empty(), "{:?}", host.listeners());
    tested.push("player-events");
    let mut all = INTERFACES.to_vec();
    tested.sort();
    all.sort();
    assert_eq!(tested, all);
}
