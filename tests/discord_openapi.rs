//! The local Discord server must not drift from Discord: every REST call the real bot
//! makes in a session that touches every route (commands, replies, slash responses,
//! follow-ups, edits of a streamed mention, an upload, command registration) is checked
//! against Discord's published OpenAPI description: the bot's request bodies (for an
//! upload, its `payload_json` part) and the server's answers, which must be the success
//! the operation documents, with `$ref`s resolved inside the description.

use std::collections::HashMap;
use std::path::Path;
use std::time::Duration;

use minstrel::discord::BotOptions;
use minstrel::plugins::Grant;
use minstrel_local::discord::payloads::{ALICE, BOT_ID};
use minstrel_local::discord::{LocalDiscord, RestCall, World};
use minstrel_local::llm::{LocalLlm, Script};
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
        if !call.body.is_null() || !call.files.is_empty() {
            // An upload is multipart: its `payload_json` part is checked against the
            // form's schema.
            let (media, kind, body) = if call.files.is_empty() {
                ("application/json", "request", call.body.clone())
            } else {
                problems.extend(upload_problems(call));
                ("multipart/form-data", "upload", placeholder_ids(&call.body))
            };
            let schema = &op["requestBody"]["content"][media]["schema"];
            if schema.is_null() {
                problems.push(format!("sends {media} where none is described"));
            } else {
                let key = format!("{} {template} {media}", call.method);
                problems.extend(
                    self.check(&key, schema, &body)
                        .into_iter()
                        .map(|e| format!("{kind}: {e}")),
                );
            }
        }
        let status = call.status.to_string();
        let responses = &op["responses"];
        // Only the answers Discord gives when the operation succeeds: an error answer
        // matching Discord's error schema is still an error.
        let successes: Vec<&String> = responses
            .as_object()
            .into_iter()
            .flat_map(|r| r.keys())
            .filter(|s| s.starts_with('2'))
            .collect();
        let response = responses.get(&status).filter(|_| status.starts_with('2'));
        match response {
            None if call.status == 0 => problems.push("never answered".to_string()),
            None => problems.push(format!(
                "answered {status}; Discord's success answers are {successes:?}"
            )),
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
        if !call.files.is_empty() {
            problems.extend(uploaded_problems(call));
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

/// `payload` with its new attachments' ids as strings. A new attachment's id is the
/// index of its file part, which Discord's own upload example (and serenity) writes as
/// a number; the description only allows snowflake strings.
fn placeholder_ids(payload: &Value) -> Value {
    let mut payload = payload.clone();
    if let Some(attachments) = payload["attachments"].as_array_mut() {
        for attachment in attachments {
            if let Some(index) = attachment["id"].as_u64() {
                attachment["id"] = json!(index.to_string());
            }
        }
    }
    payload
}

/// What is wrong with an upload's parts: each file must be one the `payload_json` part
/// describes in its `attachments` (Discord matches them by position and file name).
fn upload_problems(call: &RestCall) -> Vec<String> {
    let described = call.body["attachments"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    call.files
        .iter()
        .enumerate()
        .filter(|(i, (name, _))| {
            !described.iter().any(|a| {
                a["filename"] == name.as_str()
                    && a["id"].to_string().trim_matches('"') == i.to_string()
            })
        })
        .map(|(i, (name, _))| {
            format!("upload: file {i} ({name}) is not in attachments {described:?}")
        })
        .collect()
}

/// What is wrong with the answer to an upload: the message Discord returns lists every
/// file uploaded, by name and size.
fn uploaded_problems(call: &RestCall) -> Vec<String> {
    let listed = call.response["attachments"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    call.files
        .iter()
        .filter(|(name, bytes)| {
            !listed
                .iter()
                .any(|a| a["filename"] == name.as_str() && a["size"] == bytes.len())
        })
        .map(|(name, bytes)| {
            format!(
                "response: {name} ({} bytes) is not among the attachments {listed:?}",
                bytes.len()
            )
        })
        .collect()
}

/// Whether every REST call recorded so far has been answered.
fn all_answered(world: &World) -> bool {
    world.calls().iter().all(|c| c.status != 0)
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
    install(&config, "chart", "chart");
    let server = LocalDiscord::start().await.unwrap();
    // `chart` (tables only) is asked before `ask` (everything else).
    let options = BotOptions {
        mention_order: vec!["chart".into(), "ask".into()],
        shards: minstrel::shards::ShardPlan::Single,
        ..bot_options(&server)
    };
    let host = start_bot(&server, &config, options, "hello").await;
    let world = server.world();

    let mut expect_replies = Vec::new();
    expect_replies.push(world.send_message(ALICE, "!ping", 1));
    expect_replies.push(world.send_message(ALICE, "!hello Ada", 1));
    expect_replies.push(world.send_message(ALICE, "!cache stats", 1));
    let streamed = "streamed words ".repeat(20).trim_end().to_string();
    llm.script(Script::words(&streamed, Duration::from_millis(100)));
    let stream = world.send_message(ALICE, &format!("<@{BOT_ID}> stream please"), 1);
    expect_replies.push(stream);
    // The chart comes back as an upload.
    let table = "| fruit | sold |\n|---|---|\n| apples | 12 |\n| pears | 7 |";
    let chart = world.send_message(ALICE, &format!("<@{BOT_ID}> bar chart\n{table}"), 1);
    expect_replies.push(chart);
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
    // The streamed mention's last edit, and the chart.
    assert!(
        world
            .wait_for(WAIT, |w| w.replies_to(stream)[0]["content"]
                == streamed.as_str())
            .await,
        "{:?}",
        world.replies_to(stream)
    );
    assert!(
        world
            .wait_for(WAIT, |w| !w.replies_to(chart).is_empty())
            .await,
        "the chart was never posted"
    );
    let uploaded = &world.replies_to(chart)[0]["attachments"];
    assert_eq!(uploaded[0]["filename"], "chart.png", "{uploaded}");
    assert!(
        world.wait_for(WAIT, all_answered).await,
        "calls left unanswered"
    );
    host.shutdown().await;
    // Calls the bot made while shutting down are answered too.
    world.wait_for(WAIT, all_answered).await;

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
    assert!(
        calls.iter().any(|c| !c.files.is_empty()),
        "no upload: {methods:?}"
    );
    let failures: Vec<String> = calls
        .iter()
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
