//! The reply agent's prompt (replyforce §3.2, agent 5: brand voice, rules, retrieved knowledge,
//! history, the analysis) and the JSON answer it asks for. Pure: no I/O.

use serde::{Deserialize, Serialize};
use tidings_connectors::llm::{ChatMessage, ChatRequest};
use tidings_nlp::compose::Tone;
use tidings_nlp::pipeline::Analysis;

use super::store::SettingsRow;

/// What the prompt is built from.
pub struct PromptInput<'a> {
    pub settings: &'a SettingsRow,
    pub analysis: &'a Analysis,
    /// The customer's message being answered.
    pub message: &'a str,
    /// Earlier messages, oldest first, as `(who, text)`.
    pub history: &'a [(String, String)],
    /// Retrieved knowledge passages, best first.
    pub knowledge: &'a [String],
    pub tones: &'a [Tone],
    pub custom_instructions: Option<&'a str>,
    pub is_review: bool,
}

/// The chat request for `input`, in JSON output mode.
pub fn request(input: &PromptInput<'_>) -> ChatRequest {
    let s = input.settings;
    let business = s.business_name.as_deref().unwrap_or("the business");
    let max_chars = s.max_length.max(1);
    let tones: Vec<&str> = input.tones.iter().map(|t| t.as_str()).collect();
    let knowledge = if input.knowledge.is_empty() {
        "(nothing relevant found)".to_owned()
    } else {
        input.knowledge.iter().enumerate().map(|(i, k)| format!("[{}] {k}", i + 1)).collect::<Vec<_>>().join("\n")
    };
    let mut system = format!(
        "You are a customer service assistant for {business}.\n\
         Brand voice: {style}\nDefault tone: {tone}\nGuidelines: {guidelines}\n\n\
         RULES:\n\
         1. Never state a price, discount, refund or guarantee unless the knowledge base below states it.\n\
         2. Never share internal information or anyone's personal data.\n\
         3. If unsure, acknowledge and offer to connect the customer with a person; set requires_human to true.\n\
         4. Keep each reply under {max_chars} characters.\n\
         5. Reply in the customer's language ({language}).\n\
         6. {emoji}\n\
         7. For complaints, empathise first.\n\n\
         KNOWLEDGE BASE:\n{knowledge}\n\n\
         Answer with one JSON object only: {{\"replies\": [{{\"tone\": one of {tones:?}, \"text\": the reply, \
         \"confidence\": 0 to 1}}], \"requires_human\": true or false}}, one reply per tone in this order: {tones:?}.",
        style = if s.style.trim().is_empty() { "clear, helpful and polite" } else { s.style.trim() },
        tone = s.tone,
        guidelines = if s.guidelines.trim().is_empty() { "none" } else { s.guidelines.trim() },
        language = input.analysis.understanding.language.language.map_or("same as the customer", |l| l.code()),
        emoji = if s.emoji_allowed { "Emojis are allowed, sparingly." } else { "Do not use emojis." },
    );
    if let Some(extra) = input.custom_instructions.filter(|e| !e.trim().is_empty()) {
        system.push_str(&format!("\n\nExtra instructions for this reply: {}", extra.trim()));
    }
    let understanding = &input.analysis.understanding;
    let history = input.history.iter().map(|(who, text)| format!("{who}: {text}")).collect::<Vec<_>>().join("\n");
    let user = format!(
        "CONVERSATION HISTORY:\n{history}\n\nCURRENT MESSAGE ANALYSIS:\n- Kind: {kind}\n- Topic: {topic:?}\n- Sentiment: {sentiment}\n\
         - Intent: {intent:?}\n- Lead: {lead:?}\n- Question: {question}\n\nCUSTOMER MESSAGE:\n{message}",
        history = if history.is_empty() { "(none)".into() } else { history },
        kind = if input.is_review { "public review" } else { "private message" },
        topic = understanding.topic,
        sentiment = input.analysis.sentiment.sentiment.as_str(),
        intent = input.analysis.lead.intent,
        lead = input.analysis.lead.tag,
        question = understanding.is_question,
        message = input.message,
    );
    ChatRequest {
        messages: vec![ChatMessage::system(system), ChatMessage::user(user)],
        json: true,
        max_tokens: Some(((max_chars as u32) / 3).clamp(200, 1200) * input.tones.len().max(1) as u32),
        temperature: Some(0.4),
    }
}

/// One reply in the model's answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelReply {
    /// The tone it claims.
    #[serde(default)]
    pub tone: Option<String>,
    /// The reply.
    pub text: String,
    /// Its confidence; 0.7 when the model gave none.
    #[serde(default)]
    pub confidence: Option<f32>,
}

/// The model's answer, as asked for.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelAnswer {
    pub replies: Vec<ModelReply>,
    #[serde(default)]
    pub requires_human: bool,
}

/// Reads the model's answer; `None` when it is not the JSON asked for or holds no usable reply.
/// A JSON object wrapped in a Markdown code fence is accepted (small models add one).
pub fn parse(content: &str) -> Option<ModelAnswer> {
    let trimmed = content.trim();
    let json = trimmed
        .strip_prefix("```json")
        .or_else(|| trimmed.strip_prefix("```"))
        .and_then(|rest| rest.strip_suffix("```"))
        .unwrap_or(trimmed);
    let mut answer: ModelAnswer = serde_json::from_str(json.trim()).ok()?;
    answer.replies.retain(|r| !r.text.trim().is_empty());
    (!answer.replies.is_empty()).then_some(answer)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_are_read_with_or_without_a_code_fence_and_refused_otherwise() {
        let plain = r#"{"replies": [{"tone": "friendly", "text": "Hi!", "confidence": 0.8}], "requires_human": false}"#;
        let answer = parse(plain).expect("parsed");
        assert_eq!(answer.replies[0].text, "Hi!");
        assert!(parse(&format!("```json\n{plain}\n```")).is_some());
        assert!(parse("Sure! Here is a reply: Hi!").is_none());
        assert!(parse(r#"{"replies": []}"#).is_none());
        assert!(parse(r#"{"replies": [{"text": "  "}]}"#).is_none());
        assert!(parse(r#"{"answer": "Hi"}"#).is_none());
    }

    #[test]
    fn the_prompt_carries_the_voice_the_rules_and_the_knowledge() {
        let settings = SettingsRow {
            business_name: Some("Harbour & Vine".into()),
            style: "warm, concise".into(),
            max_length: 400,
            ..SettingsRow::default()
        };
        let analysis = tidings_nlp::pipeline::analyse(
            &tidings_nlp::pipeline::Input { text: "What does the Pro plan cost?".into(), ..Default::default() },
            &tidings_nlp::pipeline::Config::default(),
        );
        let knowledge = ["The Pro plan costs $49 per month.".to_owned()];
        let request = request(&PromptInput {
            settings: &settings,
            analysis: &analysis,
            message: "What does the Pro plan cost?",
            history: &[],
            knowledge: &knowledge,
            tones: &[Tone::Professional, Tone::Friendly],
            custom_instructions: Some("Mention the free trial"),
            is_review: false,
        });
        let system = &request.messages[0].content;
        assert!(system.contains("customer service assistant for Harbour & Vine"));
        assert!(system.contains("Brand voice: warm, concise"));
        assert!(system.contains("under 400 characters"));
        assert!(system.contains("[1] The Pro plan costs $49 per month."));
        assert!(system.contains("Do not use emojis."));
        assert!(system.contains("Mention the free trial"));
        assert!(system.contains(r#"["professional", "friendly"]"#));
        assert!(request.messages[1].content.contains("Topic: Pricing"));
        assert!(request.json);
    }
}
