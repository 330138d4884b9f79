//! A local OpenAI-compatible chat endpoint on 127.0.0.1 for the tests and `minstrel dev`.
//! It answers `POST /v1/chat/completions` with scripted answers, whole or streamed as
//! server-sent events with configurable pacing, and it checks what real endpoints check
//! (the key, the model, the message roles and contents, the `stream` flag, no unknown
//! fields), answering a bad request the way OpenAI does. Every request is recorded.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde_json::{Value, json};

/// How the server answers one request.
#[derive(Debug, Clone)]
pub enum Script {
    /// The answer in these pieces, `delay` before each.
    Answer {
        pieces: Vec<String>,
        delay: Duration,
    },
    /// A non-2xx status with an OpenAI-style error body.
    Error { status: u16, message: String },
    /// A stream whose second event is not JSON.
    Malformed,
    /// A stream that sends one piece and then nothing, keeping the connection open.
    Stall,
    /// A stream that ends after one piece, without `[DONE]`.
    Truncated,
}

impl Script {
    /// `text` in word-sized pieces, `delay` before each.
    pub fn words(text: &str, delay: Duration) -> Self {
        Script::Answer {
            pieces: text.split_inclusive(' ').map(str::to_string).collect(),
            delay,
        }
    }
}

/// One request received, with what was wrong with it (if anything).
#[derive(Debug, Clone)]
pub struct LlmRequest {
    pub authorization: Option<String>,
    pub body: Value,
    /// Why the request was refused; `None` when it was well-formed.
    pub problem: Option<String>,
}

struct Shared {
    model: String,
    key: Option<String>,
    scripts: Mutex<VecDeque<Script>>,
    requests: Mutex<Vec<LlmRequest>>,
    /// Answers with no script queued: echo the last user message, paced like this.
    echo_delay: Duration,
}

/// A running endpoint; stops when dropped.
pub struct LocalLlm {
    addr: SocketAddr,
    shared: Arc<Shared>,
    task: tokio::task::JoinHandle<()>,
}

impl LocalLlm {
    /// Serves `model`, requiring `key` as a bearer token when given.
    pub async fn start(model: &str, key: Option<&str>) -> std::io::Result<Self> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared {
            model: model.to_string(),
            key: key.map(str::to_string),
            scripts: Mutex::default(),
            requests: Mutex::default(),
            echo_delay: Duration::from_millis(40),
        });
        let app = Router::new()
            .route("/v1/chat/completions", post(completions))
            .with_state(Arc::clone(&shared));
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(Self { addr, shared, task })
    }

    /// The `base_url` to configure.
    pub fn base_url(&self) -> String {
        format!("http://{}/v1", self.addr)
    }

    /// Queues the answer to a coming request (first queued, first used).
    pub fn script(&self, script: Script) {
        self.shared
            .scripts
            .lock()
            .expect("scripts")
            .push_back(script);
    }

    pub fn requests(&self) -> Vec<LlmRequest> {
        self.shared.requests.lock().expect("requests").clone()
    }
}

impl Drop for LocalLlm {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn openai_error(status: u16, message: &str, kind: &str) -> Response {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST);
    let body = json!({"error": {"message": message, "type": kind, "param": null, "code": null}});
    (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response()
}

/// What a real endpoint would refuse in this request.
fn check(shared: &Shared, headers: &HeaderMap, body: &[u8]) -> Result<Value, (u16, String)> {
    let authorization = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    if let Some(key) = &shared.key
        && authorization != Some(format!("Bearer {key}").as_str())
    {
        return Err((401, "Incorrect API key provided.".into()));
    }
    let json_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if !json_type {
        return Err((400, "Content-Type must be application/json".into()));
    }
    let body: Value =
        serde_json::from_slice(body).map_err(|e| (400, format!("invalid JSON body: {e}")))?;
    let Some(fields) = body.as_object() else {
        return Err((400, "the body must be a JSON object".into()));
    };
    for name in fields.keys() {
        if !["model", "messages", "stream", "max_tokens", "temperature"].contains(&name.as_str()) {
            return Err((
                400,
                format!("Unrecognized request argument supplied: {name}"),
            ));
        }
    }
    if body["model"] != shared.model.as_str() {
        return Err((
            404,
            format!("The model `{}` does not exist.", body["model"]),
        ));
    }
    let messages = body["messages"].as_array().filter(|m| !m.is_empty());
    let Some(messages) = messages else {
        return Err((400, "messages: must be a non-empty array".into()));
    };
    for (i, m) in messages.iter().enumerate() {
        if !matches!(m["role"].as_str(), Some("system" | "user" | "assistant")) {
            return Err((400, format!("messages[{i}].role: invalid {}", m["role"])));
        }
        if !m["content"].is_string() {
            return Err((400, format!("messages[{i}].content: expected a string")));
        }
        if m.as_object().is_some_and(|o| o.len() != 2) {
            return Err((400, format!("messages[{i}]: unexpected fields")));
        }
    }
    if !body["stream"].is_boolean() {
        return Err((400, "stream: expected a boolean".into()));
    }
    if let Some(n) = body.get("max_tokens")
        && n.as_u64().is_none_or(|n| n == 0)
    {
        return Err((400, "max_tokens: expected a positive integer".into()));
    }
    if let Some(t) = body.get("temperature")
        && t.as_f64().is_none_or(|t| !(0.0..=2.0).contains(&t))
    {
        return Err((400, "temperature: expected a number from 0 to 2".into()));
    }
    Ok(body)
}

async fn completions(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let checked = check(&shared, &headers, &body);
    let recorded = LlmRequest {
        authorization: headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string),
        body: serde_json::from_slice(&body).unwrap_or(Value::Null),
        problem: checked.as_ref().err().map(|(_, m)| m.clone()),
    };
    shared.requests.lock().expect("requests").push(recorded);
    let body = match checked {
        Ok(body) => body,
        Err((status, message)) => {
            let kind = if status == 401 {
                "invalid_api_key"
            } else {
                "invalid_request_error"
            };
            return openai_error(status, &message, kind);
        }
    };
    let script = shared.scripts.lock().expect("scripts").pop_front();
    let script = script.unwrap_or_else(|| {
        let last = body["messages"]
            .as_array()
            .and_then(|m| m.last())
            .and_then(|m| m["content"].as_str())
            .unwrap_or_default();
        Script::words(&format!("You said: {last}"), shared.echo_delay)
    });
    let model = shared.model.clone();
    let stream = body["stream"] == true;
    match script {
        Script::Error { status, message } => openai_error(status, &message, "server_error"),
        Script::Answer { pieces, delay } if !stream => {
            tokio::time::sleep(delay * pieces.len() as u32).await;
            let answer = json!({
                "id": "chatcmpl-local", "object": "chat.completion", "created": 0, "model": model,
                "choices": [{"index": 0, "finish_reason": "stop",
                             "message": {"role": "assistant", "content": pieces.concat()}}],
                "usage": {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0},
            });
            (
                [(header::CONTENT_TYPE, "application/json")],
                answer.to_string(),
            )
                .into_response()
        }
        Script::Answer { .. } | Script::Malformed | Script::Stall | Script::Truncated
            if !stream =>
        {
            openai_error(500, "this script only streams", "server_error")
        }
        script => event_stream(script, model),
    }
}

fn chunk(model: &str, delta: Value, finish: Option<&str>) -> String {
    let event = json!({
        "id": "chatcmpl-local", "object": "chat.completion.chunk", "created": 0, "model": model,
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
    });
    format!("data: {event}\n\n")
}

/// The SSE body for a streaming script: (delay, text) frames, then maybe a stall.
fn event_stream(script: Script, model: String) -> Response {
    let first = chunk(&model, json!({"role": "assistant", "content": ""}), None);
    let mut frames: Vec<(Duration, String)> = vec![(Duration::ZERO, first)];
    let mut stall = false;
    match script {
        Script::Answer { pieces, delay } => {
            for piece in pieces {
                frames.push((delay, chunk(&model, json!({"content": piece}), None)));
            }
            frames.push((Duration::ZERO, chunk(&model, json!({}), Some("stop"))));
            frames.push((Duration::ZERO, "data: [DONE]\n\n".into()));
        }
        Script::Malformed => {
            frames.push((
                Duration::ZERO,
                chunk(&model, json!({"content": "Hel"}), None),
            ));
            frames.push((Duration::ZERO, "data: {not json\n\n".into()));
        }
        Script::Stall => {
            frames.push((
                Duration::ZERO,
                chunk(&model, json!({"content": "Hel"}), None),
            ));
            stall = true;
        }
        Script::Truncated => {
            frames.push((
                Duration::ZERO,
                chunk(&model, json!({"content": "Hel"}), None),
            ));
        }
        Script::Error { .. } => unreachable!("answered before streaming"),
    }
    let frames = futures::stream::unfold(
        (frames.into_iter(), stall),
        |(mut frames, stall)| async move {
            match frames.next() {
                Some((delay, text)) => {
                    tokio::time::sleep(delay).await;
                    Some((Ok::<_, std::io::Error>(Bytes::from(text)), (frames, stall)))
                }
                None if stall => {
                    tokio::time::sleep(Duration::from_secs(3600)).await;
                    None
                }
                None => None,
            }
        },
    );
    Response::builder()
        .header(header::CONTENT_TYPE, "text/event-stream")
        .header(header::CACHE_CONTROL, "no-cache")
        .body(Body::from_stream(frames))
        .expect("static response")
}
