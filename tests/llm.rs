//! The host's LLM client against the local OpenAI-compatible endpoint over loopback:
//! whole and streamed answers, the request shape the endpoint checks, and every way
//! an answer can fail, each with a clear error that never contains the key.

use std::time::Duration;

use minstrel::config::LlmConfig;
use minstrel::llm::{ChatMessage, ChatRequest, Role};
use minstrel::llm::{LlmClient, LlmError};
use minstrel::plugins::{HostServices, ServiceError};
use minstrel::services::Services;
use minstrel_local::llm::{LocalLlm, Script};

const KEY: &str = "sk-secret-test-key";

fn config(llm: &LocalLlm) -> LlmConfig {
    LlmConfig {
        base_url: Some(llm.base_url()),
        model: "local-model".into(),
        api_key: Some(KEY.into()),
        timeout_secs: 1,
        ..LlmConfig::default()
    }
}

fn client(config: &LlmConfig) -> LlmClient {
    LlmClient::from_config(config).unwrap().expect("configured")
}

fn request(question: &str) -> ChatRequest {
    ChatRequest {
        model: None,
        messages: vec![
            ChatMessage {
                role: Role::System,
                content: "Answer briefly.".into(),
            },
            ChatMessage {
                role: Role::User,
                content: question.into(),
            },
        ],
        max_tokens: Some(50),
        temperature: Some(0.5),
    }
}

async fn collect(
    client: &LlmClient,
    who: &str,
    request: ChatRequest,
) -> Result<Vec<String>, LlmError> {
    let mut stream = client.chat_stream(who, request).await?;
    let mut pieces = Vec::new();
    while let Some(piece) = stream.next().await? {
        pieces.push(piece);
    }
    Ok(pieces)
}

#[tokio::test]
async fn whole_and_streamed_answers_with_a_well_formed_request() {
    let llm = LocalLlm::start("local-model", Some(KEY)).await.unwrap();
    let client = client(&config(&llm));

    llm.script(Script::words("a whole answer", Duration::ZERO));
    assert_eq!(
        client.chat("u1", request("hi")).await.unwrap(),
        "a whole answer"
    );
    llm.script(Script::words("one two three", Duration::from_millis(10)));
    let pieces = collect(&client, "u1", request("count")).await.unwrap();
    assert_eq!(pieces, ["one ", "two ", "three"]);

    let requests = llm.requests();
    assert_eq!(requests.len(), 2);
    for (r, stream) in requests.iter().zip([false, true]) {
        assert_eq!(r.problem, None);
        assert_eq!(
            r.authorization.as_deref(),
            Some(format!("Bearer {KEY}").as_str())
        );
        assert_eq!(r.body["model"], "local-model");
        assert_eq!(r.body["stream"], stream);
        assert_eq!(r.body["max_tokens"], 50);
        assert_eq!(r.body["messages"][0]["role"], "system");
        assert_eq!(r.body["messages"][1]["role"], "user");
    }
    assert_eq!(requests[1].body["messages"][1]["content"], "count");
}

#[tokio::test]
async fn failures_are_clear_and_never_show_the_key() {
    let llm = LocalLlm::start("local-model", Some(KEY)).await.unwrap();
    let good = config(&llm);
    let client = client(&good);
    let mut errors = Vec::new();

    // The endpoint's own message for a wrong key, a missing model, a server error.
    let wrong_key = LlmClient::from_config(&LlmConfig {
        api_key: Some("sk-wrong".into()),
        ..good.clone()
    })
    .unwrap()
    .unwrap();
    let error = wrong_key.chat("u", request("hi")).await.unwrap_err();
    assert!(
        matches!(error, LlmError::Status { status: 401, .. }),
        "{error}"
    );
    assert!(error.to_string().contains("Incorrect API key"), "{error}");
    errors.push(error);

    let mut other_model = request("hi");
    other_model.model = Some("no-such-model".into());
    let error = client.chat("u", other_model).await.unwrap_err();
    assert!(
        error.to_string().contains("404") && error.to_string().contains("does not exist"),
        "{error}"
    );
    errors.push(error);

    llm.script(Script::Error {
        status: 503,
        message: "overloaded, try later".into(),
    });
    let error = collect(&client, "u", request("hi")).await.unwrap_err();
    assert_eq!(
        error.to_string(),
        "the LLM endpoint answered 503: overloaded, try later"
    );
    errors.push(error);

    // Broken streams.
    llm.script(Script::Malformed);
    let error = collect(&client, "u", request("hi")).await.unwrap_err();
    assert!(matches!(error, LlmError::Malformed(_)), "{error}");
    errors.push(error);
    llm.script(Script::Truncated);
    let error = collect(&client, "u", request("hi")).await.unwrap_err();
    assert!(error.to_string().contains("ended before [DONE]"), "{error}");
    errors.push(error);
    llm.script(Script::Stall);
    let error = collect(&client, "u", request("hi")).await.unwrap_err();
    assert!(matches!(error, LlmError::Timeout(_)), "{error}");
    errors.push(error);

    // Nothing listening.
    let gone = LlmClient::from_config(&LlmConfig {
        base_url: Some("http://127.0.0.1:9/v1".into()),
        ..good.clone()
    })
    .unwrap()
    .unwrap();
    let error = gone.chat("u", request("hi")).await.unwrap_err();
    assert!(matches!(error, LlmError::Connect(_)), "{error}");
    errors.push(error);

    for error in errors {
        assert!(!error.to_string().contains(KEY), "{error}");
    }
    // A key named by an unset variable is a configuration error at start.
    let error = LlmClient::from_config(&LlmConfig {
        api_key: None,
        api_key_env: Some("MINSTREL_TEST_NO_SUCH_VARIABLE".into()),
        ..good
    })
    .err()
    .expect("refused");
    assert!(
        error.to_string().contains("MINSTREL_TEST_NO_SUCH_VARIABLE"),
        "{error}"
    );
}

#[tokio::test]
async fn requests_are_limited_per_user_and_trimmed_to_the_context_limits() {
    let llm = LocalLlm::start("local-model", Some(KEY)).await.unwrap();
    let services = Services::new(
        Some(client(&LlmConfig {
            requests_per_minute: 2,
            max_context_messages: 2,
            max_context_chars: 40,
            ..config(&llm)
        })),
        None,
    );
    let mut long = request("the newest question");
    for i in 0..5 {
        long.messages.insert(
            1,
            ChatMessage {
                role: if i % 2 == 0 {
                    Role::User
                } else {
                    Role::Assistant
                },
                content: format!("older message {i}"),
            },
        );
    }
    services.chat("ask", Some(1), long).await.unwrap();
    services
        .chat("ask", Some(1), request("again"))
        .await
        .unwrap();
    let refused = services
        .chat("ask", Some(1), request("more"))
        .await
        .unwrap_err()
        .to_string();
    assert!(
        matches!(
            services.chat("ask", Some(1), request("more")).await,
            Err(ServiceError::Llm(LlmError::RateLimited { .. }))
        ),
        "a refusal the caller can tell apart"
    );
    assert!(
        refused.contains("at most 2 LLM requests per minute"),
        "{refused}"
    );
    // Another user, and calls serving no user, have their own allowance.
    services.chat("ask", Some(2), request("hi")).await.unwrap();
    services.chat("ask", None, request("hi")).await.unwrap();

    let requests = llm.requests();
    assert_eq!(requests.len(), 4, "the refused request never left the host");
    // System prompt (15 chars) + the newest message (19) fit in 40; nothing older does.
    let sent: Vec<&str> = requests[0].body["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["content"].as_str().unwrap())
        .collect();
    assert_eq!(sent, ["Answer briefly.", "the newest question"]);

    let unconfigured = Services::default();
    let error = unconfigured
        .chat("ask", Some(1), request("hi"))
        .await
        .unwrap_err();
    assert!(matches!(error, ServiceError::NoLlm), "{error:?}");
    assert_eq!(
        error.to_string(),
        "no LLM endpoint is configured on this bot"
    );
}
