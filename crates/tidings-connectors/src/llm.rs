//! A chat model behind any OpenAI-compatible `POST {base_url}/chat/completions` endpoint (OpenAI,
//! Azure-style gateways, vLLM, llama.cpp's server, Ollama's `/v1`): the reply-generation agent's
//! model (replyforce §3.2, agent 5).
//!
//! The client asks for JSON output (`response_format: {"type": "json_object"}`) when told to,
//! reads the token usage the server reports (estimating it when the server sends none), and maps
//! failures onto [`ConnectorError`] like every other client: 429 → `RateLimited` with the
//! `Retry-After` wait, 5xx, connection errors and timeouts → `Unavailable`, an answer without a
//! message → `Malformed`. Whether the answer's JSON has the shape the caller wants is the
//! caller's business: it falls back to the offline composer when it does not.

use std::time::Duration;

use async_trait::async_trait;
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};

use crate::ConnectorError;
use crate::http::send_json;

/// The name failures of model calls carry.
pub const PROVIDER: &str = "model";

/// Who says a chat message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ChatRole {
    /// Instructions.
    System,
    /// The question.
    User,
    /// The model's earlier answers.
    Assistant,
}

/// One message of a chat.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChatMessage {
    /// Who says it.
    pub role: ChatRole,
    /// What is said.
    pub content: String,
}

impl ChatMessage {
    /// A system message.
    pub fn system(content: impl Into<String>) -> Self {
        Self { role: ChatRole::System, content: content.into() }
    }

    /// A user message.
    pub fn user(content: impl Into<String>) -> Self {
        Self { role: ChatRole::User, content: content.into() }
    }
}

/// What to ask the model.
#[derive(Debug, Clone, PartialEq)]
pub struct ChatRequest {
    /// The conversation, system prompt first.
    pub messages: Vec<ChatMessage>,
    /// Ask for a JSON object as the answer (JSON output mode).
    pub json: bool,
    /// Longest answer, in tokens.
    pub max_tokens: Option<u32>,
    /// Sampling temperature.
    pub temperature: Option<f32>,
}

/// The model's answer and what it cost in tokens.
#[derive(Debug, Clone, PartialEq)]
pub struct ChatCompletion {
    /// The answer's text (a JSON document in JSON mode, if the model obeyed).
    pub content: String,
    /// The model that answered, as the server names it.
    pub model: String,
    /// Tokens of the prompt.
    pub prompt_tokens: u64,
    /// Tokens of the answer.
    pub completion_tokens: u64,
    /// True when the server reported no usage and the counts are estimates.
    pub estimated_usage: bool,
}

/// A chat model: one completion per call.
#[async_trait]
pub trait ChatModel: Send + Sync {
    /// The configured model name (prices are looked up by it).
    fn model(&self) -> &str;

    /// Where the model is served; the circuit breaker is kept per endpoint.
    fn endpoint(&self) -> &str;

    /// Asks for one completion.
    async fn complete(&self, request: &ChatRequest) -> Result<ChatCompletion, ConnectorError>;
}

/// How to reach an OpenAI-compatible server.
#[derive(Debug, Clone)]
pub struct ModelSettings {
    /// Base URL up to and including the version, e.g. `https://api.openai.com/v1`.
    pub base_url: String,
    /// The model to ask for, e.g. `gpt-4o-mini`.
    pub model: String,
    /// Sent as `Authorization: Bearer …` when set (local servers often need none).
    pub api_key: Option<SecretString>,
    /// Longest wait for one answer.
    pub timeout: Duration,
}

/// The OpenAI-compatible chat-completions client.
#[derive(Debug, Clone)]
pub struct OpenAiCompatible {
    http: reqwest::Client,
    settings: ModelSettings,
}

impl OpenAiCompatible {
    /// A client over the shared HTTP client.
    pub fn new(http: reqwest::Client, settings: ModelSettings) -> Self {
        Self { http, settings }
    }

    fn url(&self) -> String {
        format!("{}/chat/completions", self.settings.base_url.trim_end_matches('/'))
    }
}

#[derive(Serialize)]
struct WireRequest<'a> {
    model: &'a str,
    messages: &'a [ChatMessage],
    #[serde(skip_serializing_if = "Option::is_none")]
    response_format: Option<ResponseFormat>,
    #[serde(skip_serializing_if = "Option::is_none")]
    max_tokens: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    temperature: Option<f32>,
}

#[derive(Serialize)]
struct ResponseFormat {
    #[serde(rename = "type")]
    kind: &'static str,
}

#[derive(Deserialize)]
struct WireResponse {
    #[serde(default)]
    model: Option<String>,
    #[serde(default)]
    choices: Vec<WireChoice>,
    #[serde(default)]
    usage: Option<WireUsage>,
}

#[derive(Deserialize)]
struct WireChoice {
    message: WireMessage,
}

#[derive(Deserialize)]
struct WireMessage {
    #[serde(default)]
    content: Option<String>,
}

#[derive(Deserialize)]
struct WireUsage {
    #[serde(default)]
    prompt_tokens: u64,
    #[serde(default)]
    completion_tokens: u64,
}

#[async_trait]
impl ChatModel for OpenAiCompatible {
    fn model(&self) -> &str {
        &self.settings.model
    }

    fn endpoint(&self) -> &str {
        &self.settings.base_url
    }

    async fn complete(&self, request: &ChatRequest) -> Result<ChatCompletion, ConnectorError> {
        let body = WireRequest {
            model: &self.settings.model,
            messages: &request.messages,
            response_format: request.json.then_some(ResponseFormat { kind: "json_object" }),
            max_tokens: request.max_tokens,
            temperature: request.temperature,
        };
        let mut call = self.http.post(self.url()).timeout(self.settings.timeout).json(&body);
        if let Some(key) = &self.settings.api_key {
            call = call.bearer_auth(key.expose_secret());
        }
        let answer: WireResponse = send_json(PROVIDER, call).await?;
        let content = answer.choices.into_iter().next().and_then(|choice| choice.message.content).ok_or_else(|| {
            ConnectorError::Malformed { platform: PROVIDER, message: "no message in the answer".into() }
        })?;
        let (prompt_tokens, completion_tokens, estimated_usage) = match answer.usage {
            Some(usage) if usage.prompt_tokens + usage.completion_tokens > 0 => {
                (usage.prompt_tokens, usage.completion_tokens, false)
            }
            _ => {
                let prompt: u64 = request.messages.iter().map(|m| estimate_tokens(&m.content)).sum();
                (prompt, estimate_tokens(&content), true)
            }
        };
        Ok(ChatCompletion {
            content,
            model: answer.model.unwrap_or_else(|| self.settings.model.clone()),
            prompt_tokens,
            completion_tokens,
            estimated_usage,
        })
    }
}

/// Tokens a text costs, estimated the way OpenAI's guidance does (about four characters of
/// English per token, at least one token per word-like run), for servers that report no usage
/// and for budgeting a prompt before sending it.
pub fn estimate_tokens(text: &str) -> u64 {
    let chars = text.chars().count() as u64;
    let words = text.split_whitespace().count() as u64;
    chars.div_ceil(4).max(words)
}

#[cfg(test)]
mod tests {
    use wiremock::matchers::{body_partial_json, header, method, path};
    use wiremock::{Mock, MockServer, ResponseTemplate};

    use super::*;

    fn client(server: &MockServer, timeout: Duration) -> OpenAiCompatible {
        OpenAiCompatible::new(
            reqwest::Client::new(),
            ModelSettings {
                base_url: format!("{}/v1/", server.uri()),
                model: "gpt-4o-mini".into(),
                api_key: Some(SecretString::from("sk-test")),
                timeout,
            },
        )
    }

    fn request() -> ChatRequest {
        ChatRequest {
            messages: vec![ChatMessage::system("You answer customers."), ChatMessage::user("What does Pro cost?")],
            json: true,
            max_tokens: Some(300),
            temperature: Some(0.4),
        }
    }

    #[tokio::test]
    async fn a_completion_is_read_with_its_usage() -> anyhow::Result<()> {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .and(path("/v1/chat/completions"))
            .and(header("authorization", "Bearer sk-test"))
            .and(body_partial_json(serde_json::json!({
                "model": "gpt-4o-mini",
                "response_format": {"type": "json_object"},
                "max_tokens": 300,
                "messages": [{"role": "system", "content": "You answer customers."}, {"role": "user", "content": "What does Pro cost?"}]
            })))
            .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!({
                "id": "chatcmpl-1", "object": "chat.completion", "model": "gpt-4o-mini-2024-07-18",
                "choices": [{"index": 0, "finish_reason": "stop",
                             "message": {"role": "assistant", "content": "{\"replies\": []}"}}],
                "usage": {"prompt_tokens": 57, "completion_tokens": 12, "total_tokens": 69}
            })))
            .expect(1)
            .mount(&server)
            .await;
        let answer = client(&server, Duration::from_secs(5)).complete(&request()).await?;
        assert_eq!(answer.content, "{\"replies\": []}");
        assert_eq!(answer.model, "gpt-4o-mini-2024-07-18");
        assert_eq!((answer.prompt_tokens, answer.completion_tokens, answer.estimated_usage), (57, 12, false));
        Ok(())
    }

    #[tokio::test]
    async fn usage_is_estimated_when_the_server_reports_none() -> anyhow::Result<()> {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!({
                "choices": [{"message": {"role": "assistant", "content": "Twelve characters"}}]
            })))
            .mount(&server)
            .await;
        let answer = client(&server, Duration::from_secs(5)).complete(&request()).await?;
        assert!(answer.estimated_usage);
        assert_eq!(answer.completion_tokens, 5);
        assert!(answer.prompt_tokens >= 8);
        assert_eq!(answer.model, "gpt-4o-mini");
        Ok(())
    }

    #[tokio::test]
    async fn rate_limits_carry_the_retry_after_wait() {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .respond_with(ResponseTemplate::new(429).insert_header("retry-after", "17").set_body_string("slow down"))
            .mount(&server)
            .await;
        let error = client(&server, Duration::from_secs(5)).complete(&request()).await.expect_err("429");
        assert!(
            matches!(error, ConnectorError::RateLimited { retry_after: Some(wait), .. } if wait == Duration::from_secs(17)),
            "{error:?}"
        );
    }

    #[tokio::test]
    async fn a_slow_server_times_out_as_unavailable() {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .respond_with(ResponseTemplate::new(200).set_delay(Duration::from_secs(3)))
            .mount(&server)
            .await;
        let error = client(&server, Duration::from_millis(200)).complete(&request()).await.expect_err("timeout");
        assert!(matches!(error, ConnectorError::Unavailable { .. }), "{error:?}");
        assert!(error.is_transient());
    }

    #[tokio::test]
    async fn answers_that_are_not_completions_are_malformed() {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .respond_with(ResponseTemplate::new(200).set_body_string("<html>gateway</html>"))
            .up_to_n_times(1)
            .mount(&server)
            .await;
        Mock::given(method("POST"))
            .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!({"choices": []})))
            .mount(&server)
            .await;
        let model = client(&server, Duration::from_secs(5));
        for _ in 0..2 {
            let error = model.complete(&request()).await.expect_err("malformed");
            assert!(matches!(error, ConnectorError::Malformed { .. }), "{error:?}");
        }
    }

    #[test]
    fn token_estimates_grow_with_the_text() {
        assert_eq!(estimate_tokens(""), 0);
        assert_eq!(estimate_tokens("a b c d e"), 5);
        assert_eq!(estimate_tokens(&"x".repeat(400)), 100);
    }
}
