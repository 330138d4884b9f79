//! The local Discord server must not drift from Discord: every REST call the real bot
//! makes in a session that touches every route (commands, replies, slash responses,
//! follow-ups, edits of a streamed mention, command registration) is checked against
//! Discord's published OpenAPI description: the bot's request bodies and the server's
//! answers, with `$ref`s resolved inside the description.

use std::collections::HashMap;
use std::path::Path;
use std::time::Duration;

use minstrel::local::payloads::{ALICE, BOT_ID};
use minstrel::local::{LocalDiscord, RestCall};
use minstrel::localllm::{LocalLlm, Script};
use minstrel::plugins::Grant;
use minstrel_tests::bot::*;
use serde_json::{Value, json};

/// Discord's published OpenAPI description (v10, MIT licence, see
/// `reference/discord-openapi.LICENSE`); `DISCORD_OPENAPI` names a newer copy.
fn spec_path() -> std::path::PathBuf {
    std::env::var_os("DISCORD_OPENAPI")
        .map(Into::into)
        .unwrap_or_else(|| {
            Path::new(env!("CARGO_MANIFEST_DIR")).join("reference/discord-openapi.json")
        })
}

/// Validators built from the description, one per schema location.
struct Spec {
    doc: Value,
    validators: HashMap<String, jsonschema::Validator>,
}

impl Spec {
    fn load() -> Self {
        let path = spec_path();
        let text = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("{}: {e} (set DISCORD_OPENAPI)", path.display()));
        Self {
            doc: serde_json::from_str(&text).unwrap(),
            validators: HashMap::new(),
        }
    }

    /// The description's path template and operation for a recorded call.
    fn operation(&self, method: &str, path: &str) -> Option<(String, &Value)> {
        let path = path.strip_prefix("/api/v10")?;
        let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
        let paths = self.doc["paths"].as_object()?;
        // Literal segments beat parameters (`/@original` vs `/{message_id}`).
        let mut best: Option<(usize, &String)> = None;
        for template in paths.keys() {
            let parts: Vec<&str> = template.trim_matches('/').split('/').collect();
            if parts.len() != segments.len() {
                continue;
            }
            let mut literal = 0;
            let matches = parts.iter().zip(&segments).all(|(p, s)| {
                if p.starts_with('{') {
                    true
                } else {
                    literal += 1;
                    p == s
                }
            });
            if matches && best.is_none_or(|(l, _)| literal > l) {
                best = Some((literal, template));
            }
        }
        let template = best?.1;
        let op = paths[template].get(method.to_lowercase())?;
        Some((template.clone(), op))
    }

    /// Errors of `instance` against `schema` (a schema object from the description).
    fn check(&mut self, key: &str, schema: &Value, instance: &Value) -> Vec<String> {
        let doc = &self.doc;
        let validator = self.validators.entry(key.to_string()).or_insert_with(|| {
            let root = json!({"components": doc["components"], "allOf": [schema]});
            jsonschema::options()
                .with_draft(jsonschema::Draft::Draft202012)
                .build(&root)
                .unwrap_or_else(|e| panic!("schema for {key}: {e}"))
        });
        validator
            .iter_errors(instance)
            .map(|e| format!("{} at {}", e, e.instance_path()))
            .collect()
    }

    fn validate(&mut self, call: &RestCall) -> Result<(), String> {
        let Some((template, op)) = self.operation(&call.method, &call.path) else {
            return Err(format!(
                "{} {}: no such operation in Discord's API",
                call.method, call.path
            ));
        };
        let op = op.clone();
        let mut problems = Vec::new();
        if !call.body.is_null() {
            let content = &op["requestBody"]["content"];
            let schema = if call.files.is_empty() {
                &content["application/json"]["schema"]
            } else {
                // Multipart: `payload_json` holds the JSON part.
                &content["application/json"]["schema"]
            };
            if schema.is_null() {
                problems.push("sends a body where none is described".to_string());
            } else {
                let key = format!("{} {template} request", call.method);
                problems.extend(
                    self.check(&key, schema, &call.body)
                        .into_iter()
                        .map(|e| format!("request: {e}")),
                );
            }
        }
        let status = call.status.to_string();
        let responses = &op["responses"];
        let response = responses
            .get(&status)
            .or_else(|| responses.get(format!("{}XX", &status[..1])))
            .or_else(|| responses.get("default"));
        match response {
            None => problems.push(format!("status {status} is not described")),
            Some(response) => {
                let schema = &response["content"]["application/json"]["schema"];
                match (schema.is_null(), call.response.is_null()) {
                    (true, true) => {}
                    (true, false) => {
                        problems.push(format!("status {status} has no body in the description"))
                    }
                    (false, true) => problems.push(format!("status {status} should have a body")),
                    (false, false) => {
                        let key = format!("{} {template} {status}", call.method);
                        problems.extend(
                            self.check(&key, schema, &call.response)
                                .into_iter()
                                .map(|e| format!("response: {e}")),
                        );
                    }
                }
            }
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(format!(
                "{} {} ({status}):\n  {}",
                call.method,
                call.path,
                problems.join("\n  ")
            ))
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_rest_call_matches_discords_openapi_description() {
    let mut spec = Spec::load();
    let dir = tempfile::tempdir().unwrap();
    let llm = LocalLlm::start("local-model", None).await.unwrap();
    let mut config = host_config(dir.path());
    config.llm.base_url = Some(llm.base_url());
    config.llm.model = "local-model".into();
    config.plugins.grants.insert(
        "ask".into(),
        Grant {
            interfaces: vec!["llm".into(), "draft".into()],
            ..Grant::default()
        },
    );
    install(&config, "hello_command", "hello");
    install(&config, "ask_mention", "ask");
    let server = LocalDiscord::start().await.unwrap();
    let host = start_bot(&server, &config, bot_options(&server), "hello").await;
    let world = server.world();

    let mut expect_replies = Vec::new();
    expect_replies.push(world.send_message(ALICE, "!ping", 1));
    expect_replies.push(world.send_message(ALICE, "!hello Ada", 1));
    expect_replies.push(world.send_message(ALICE, "!cache stats", 1));
    llm.script(Script::words(
        &"streamed words ".repeat(20),
        Duration::from_millis(100),
    ));
    expect_replies.push(world.send_message(ALICE, &format!("<@{BOT_ID}> stream please"), 1));
    let tokens = [
        world.slash(ALICE, "ping", json!([]), 1),
        world.slash(
            ALICE,
            "hello",
            json!([{"name": "who", "type": 3, "value": "x"}]),
            1,
        ),
        world.slash(ALICE, "help", json!([]), 1),
        world.autocomplete(
            ALICE,
            "hello",
            json!([{"name": "who", "type": 3, "value": "a", "focused": true}]),
        ),
    ];
    for id in &expect_replies {
        assert!(
            world
                .wait_for(WAIT, |w| !w.replies_to(*id).is_empty())
                .await,
            "no reply to {id}"
        );
    }
    for token in &tokens {
        assert!(
            world
                .wait_for(WAIT, |w| !w.interaction_calls(token).is_empty())
                .await
        );
    }
    // Let the streamed mention finish its edits.
    assert!(
        world
            .wait_for(WAIT, |w| w.replies_to(expect_replies[3])[0]["content"]
                .as_str()
                .is_some_and(|c| c.ends_with("words")))
            .await
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    host.shutdown().await;

    let calls = world.calls();
    let methods: Vec<String> = calls
        .iter()
        .map(|c| format!("{} {}", c.method, c.path))
        .collect();
    assert!(
        methods
            .iter()
            .any(|m| m.starts_with("PATCH /api/v10/channels/")),
        "{methods:?}"
    );
    let failures: Vec<String> = calls
        .iter()
        .filter(|c| c.status != 0)
        .filter_map(|c| spec.validate(c).err())
        .collect();
    assert!(
        failures.is_empty(),
        "{} of {} calls do not match:\n{}",
        failures.len(),
        calls.len(),
        failures.join("\n")
    );
}
