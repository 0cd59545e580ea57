//! Reply drafts for a review or a thread (reviewpilot §2.3 `POST /ai/generate-response`, agent 5
//! then agent 6): the message is analysed locally, knowledge retrieved with BM25, then the model
//! is asked — unless the message is a greeting or thanks, no model is configured, the budget is
//! spent, the breaker is open or the input guardrail held the message back, in which cases the
//! offline composer answers and the answer says why. Every draft passes the output guardrail:
//! a model draft that fails is dropped (and reported), a composed one is offered with its
//! violations so a person sees them.

use std::time::Duration;

use sha2::{Digest, Sha256};
use tidings_connectors::ConnectorError;
use tidings_connectors::llm::ChatModel;
use tidings_core::{ConversationId, WorkspaceId};
use tidings_nlp::compose::{self, ComposeInput, SmallTalk, Template, Tone, Voice};
use tidings_nlp::entities::EntityKind;
use tidings_nlp::guardrail::ViolationKind;
use tidings_nlp::language::Language;
use tidings_nlp::pipeline::{self, Analysis, Input};
use tidings_nlp::retrieval::{self, Index};

use super::dto::{AnalysisOut, DraftOut, DroppedOut, GeneratedOut, KnowledgeHitOut, UsageOut};
use super::model::Budget;
use super::prompt::{self, ModelAnswer, PromptInput};
use super::service::{Replies, RepliesError};
use super::store::{self, KnowledgeKind, KnowledgeRow, SettingsRow, UsageDelta};
use crate::events::DomainEvent;
use crate::inbox::model::{ConversationKind, Direction};
use crate::inbox::store::{ConversationRow, MessageRow};

/// Passages retrieved per message.
const PASSAGES: usize = 3;
/// Characters per document passage.
const PASSAGE_CHARS: usize = 800;
/// Earlier messages given to the model.
const HISTORY: usize = 6;
/// How long calls pause after a 429 that named no wait.
const DEFAULT_RATE_LIMIT_PAUSE: Duration = Duration::from_secs(30);

/// The message a draft answers and everything known about it.
pub(super) struct Context {
    pub conversation: ConversationRow,
    pub message: MessageRow,
    pub input: Input,
    pub analysis: Analysis,
    pub settings: SettingsRow,
    pub history: Vec<(String, String)>,
    /// Customer messages since the business last wrote (§8.3 trigger 4).
    pub unresolved: u32,
    /// Every knowledge-base text, for the output guardrail's price and promise check.
    pub knowledge_texts: Vec<String>,
    /// Retrieved passages, best first, with the entry they come from and the score.
    pub hits: Vec<(String, KnowledgeRow, f64)>,
    pub templates: Vec<Template>,
}

impl Context {
    fn is_review(&self) -> bool {
        self.conversation.kind == ConversationKind::Review
    }

    fn language(&self) -> Language {
        self.analysis.understanding.language.language.unwrap_or(Language::En)
    }

    fn passages(&self) -> Vec<String> {
        self.hits.iter().map(|(p, _, _)| p.clone()).collect()
    }
}

/// A draft before the guardrail.
struct Candidate {
    tone: Tone,
    text: String,
    /// Its language, when the offline composer wrote it in its own words (not identified again).
    language: Option<Language>,
    confidence: f32,
    source: &'static str,
    template: Option<String>,
}

impl Replies {
    /// Everything a draft for `conversation`'s latest customer message is built from.
    pub(super) async fn context(&self, workspace: &WorkspaceId, conversation: &str) -> Result<Context, RepliesError> {
        let id = ConversationId::parse(conversation).map_err(|_| RepliesError::NotFound("conversation"))?;
        let conversation = self.inbox.conversation(workspace, &id).await?;
        let messages = crate::inbox::store::messages(&self.db, workspace, &id).await?;
        let inbound: Vec<&MessageRow> = messages.iter().filter(|m| m.direction == Direction::Inbound).collect();
        let Some(message) = inbound.last().map(|m| (*m).clone()) else {
            return Err(RepliesError::Validation {
                field: "conversationId",
                message: "has no customer message to answer".into(),
            });
        };
        let text = match &message.title {
            Some(title) if !title.trim().is_empty() => format!("{title}. {}", message.body),
            _ => message.body.clone(),
        };
        let input = Input {
            text: text.clone(),
            recent_from_sender: inbound.iter().rev().skip(1).take(5).map(|m| m.body.clone()).collect(),
            messages_from_sender: inbound.len() as u32,
            follows: false,
            stars: message.rating.or(conversation.rating).and_then(|r| u8::try_from(r).ok()),
            language_hint: message.language.as_deref().and_then(Language::from_code),
        };
        let analysis = pipeline::analyse(&input, &pipeline::Config::default());
        let settings = store::settings(&self.db, workspace).await?;
        let knowledge = store::knowledge(&self.db, workspace).await?;
        let templates = store::templates(&self.db, workspace).await?;
        let earlier: Vec<&MessageRow> = messages.iter().filter(|m| m.id != message.id).collect();
        let history = earlier[earlier.len().saturating_sub(HISTORY)..]
            .iter()
            .map(|m| {
                let who = if m.direction == Direction::Inbound { "Customer" } else { "Business" };
                (who.to_owned(), m.body.clone())
            })
            .collect();
        let unresolved = messages.iter().rev().take_while(|m| m.direction == Direction::Inbound).count() as u32;
        Ok(Context {
            unresolved,
            hits: retrieve(&knowledge, &text),
            knowledge_texts: knowledge.iter().flat_map(|k| [k.title.clone(), k.body.clone()]).collect(),
            templates: templates
                .into_iter()
                .map(|t| Template {
                    name: t.name,
                    tone: t.tone.as_deref().and_then(Tone::parse),
                    topic: t.topic.as_deref().and_then(|t| serde_json::from_value(serde_json::json!(t)).ok()),
                    language: t.language.as_deref().and_then(Language::from_code),
                    body: t.body,
                })
                .collect(),
            conversation,
            message,
            input,
            analysis,
            settings,
            history,
        })
    }

    /// Drafts for a review or thread in `tones`.
    pub async fn generate(
        &self,
        workspace: &WorkspaceId,
        conversation: &str,
        tones: &[Tone],
        custom_instructions: Option<&str>,
    ) -> Result<GeneratedOut, RepliesError> {
        let context = self.context(workspace, conversation).await?;
        self.draft(workspace, &context, tones, custom_instructions).await
    }

    /// Drafts for a prepared context.
    pub(super) async fn draft(
        &self,
        workspace: &WorkspaceId,
        context: &Context,
        tones: &[Tone],
        custom_instructions: Option<&str>,
    ) -> Result<GeneratedOut, RepliesError> {
        let budget = self.models.budget(&self.db, workspace, &context.settings).await?;
        let small_talk = compose::small_talk(&context.input.text);
        let mut delta = UsageDelta::default();
        let mut usage = UsageOut::default();
        let mut requires_human = false;
        let mut candidates = Vec::new();
        let (mut source, mut fallback) = ("template", None);
        if small_talk.is_some() {
            source = "short_circuit";
            delta.short_circuits = 1;
        } else if !context.analysis.guardrail.passed {
            fallback = Some("input_guardrail");
        } else {
            match self.models.resolve(workspace, &context.settings).await? {
                None => fallback = Some("no_model"),
                Some(_) if budget.stops_calls() => fallback = Some("budget_exhausted"),
                Some(model) if self.models.breakers().check(model.endpoint()).is_err() => {
                    fallback = Some("breaker_open");
                }
                Some(model) => {
                    let asked = self
                        .ask(workspace, context, model.as_ref(), tones, custom_instructions, &mut delta, &mut usage)
                        .await?;
                    match asked {
                        Ok((answer, from_cache)) => {
                            requires_human = answer.requires_human;
                            source = if from_cache { "cache" } else { "model" };
                            candidates = from_answer(&answer, tones, source);
                        }
                        Err(reason) => fallback = Some(reason),
                    }
                }
            }
        }
        let (mut drafts, mut dropped) = (Vec::new(), Vec::new());
        for candidate in candidates {
            let out = self.checked(context, candidate);
            if out.passed { drafts.push(out) } else { dropped.push(out) }
        }
        if drafts.is_empty() && source != "short_circuit" && (source == "model" || source == "cache") {
            fallback = Some("guardrail_rejected");
        }
        if drafts.is_empty() {
            if source != "short_circuit" {
                source = "template";
                delta.offline_drafts = 1;
            }
            for candidate in composed(context, tones, small_talk) {
                drafts.push(self.checked(context, candidate));
            }
        }
        for (i, draft) in drafts.iter_mut().enumerate() {
            draft.id = format!("ai_resp_{}", i + 1);
        }
        if delta != UsageDelta::default() {
            store::record_usage(&self.db, workspace, &super::model::today().0, &delta).await?;
        }
        let budget_before = budget;
        let budget = self.models.budget(&self.db, workspace, &context.settings).await?;
        self.announce_budget(workspace, &budget_before, &budget).await?;
        let understanding = &context.analysis.understanding;
        Ok(GeneratedOut {
            responses: drafts,
            dropped: dropped
                .into_iter()
                .map(|d| DroppedOut { tone: d.tone, text: d.text, violations: d.violations })
                .collect(),
            source: source.into(),
            fallback_reason: fallback.map(str::to_owned),
            requires_human,
            usage,
            budget: (&budget).into(),
            analysis: AnalysisOut {
                message_id: context.message.id.to_string(),
                language: understanding.language.language.map(|l| l.code().to_owned()),
                topic: serde_json::to_value(understanding.topic)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_owned))
                    .unwrap_or_default(),
                sentiment: context.analysis.sentiment.sentiment.as_str().to_owned(),
                is_question: understanding.is_question,
            },
            knowledge: context
                .hits
                .iter()
                .map(|(_, row, score)| KnowledgeHitOut {
                    id: row.id.to_string(),
                    title: row.title.clone(),
                    score: (score * 1000.0).round() / 1000.0,
                })
                .collect(),
        })
    }

    /// Announces each budget threshold this generation crossed (see [`Budget::crossed`]); the
    /// automation event's key (period and threshold) makes concurrent crossings fire once.
    async fn announce_budget(
        &self,
        workspace: &WorkspaceId,
        before: &Budget,
        after: &Budget,
    ) -> Result<(), RepliesError> {
        let (day, month) = super::model::today();
        let events: Vec<DomainEvent> = before
            .crossed(after)
            .into_iter()
            .map(|(period, percent, used, limit)| DomainEvent::BudgetReached {
                period: period.to_owned(),
                period_key: if period == "day" { day.clone() } else { month.clone() },
                percent,
                used,
                limit,
            })
            .collect();
        if events.is_empty() {
            return Ok(());
        }
        let mut tx = self.db.begin_for_tenant(workspace).await?;
        self.events.publish_in(&mut tx, workspace, &events).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Asks the model (or the cache): `Ok(Err(reason))` when the offline composer must answer.
    #[allow(clippy::too_many_arguments)]
    async fn ask(
        &self,
        workspace: &WorkspaceId,
        context: &Context,
        model: &dyn ChatModel,
        tones: &[Tone],
        custom_instructions: Option<&str>,
        delta: &mut UsageDelta,
        usage: &mut UsageOut,
    ) -> Result<Result<(ModelAnswer, bool), &'static str>, RepliesError> {
        let ttl = self.config.ai.cache_ttl_secs;
        let cacheable = ttl > 0 && context.history.is_empty();
        let key = cache_key(context, model.model(), tones, custom_instructions);
        if cacheable {
            let not_before = tidings_core::time::now_millis() - (ttl as i64) * 1000;
            if let Some((_, answer)) = store::cached(&self.db, workspace, &key, not_before).await?
                && let Ok(answer) = serde_json::from_str::<ModelAnswer>(&answer)
            {
                delta.cache_hits = 1;
                return Ok(Ok((answer, true)));
            }
        }
        let passages = context.passages();
        let request = prompt::request(&PromptInput {
            settings: &context.settings,
            analysis: &context.analysis,
            message: &context.input.text,
            history: &context.history,
            knowledge: &passages,
            tones,
            custom_instructions,
            is_review: context.is_review(),
        });
        let breakers = self.models.breakers();
        delta.model = model.model().to_owned();
        let completion = match model.complete(&request).await {
            Ok(completion) => completion,
            Err(ConnectorError::RateLimited { retry_after, .. }) => {
                breakers.pause(model.endpoint(), retry_after.unwrap_or(DEFAULT_RATE_LIMIT_PAUSE));
                delta.failures = 1;
                return Ok(Err("rate_limited"));
            }
            Err(error) => {
                tracing::warn!(%workspace, model = model.model(), %error, "model call failed; composing offline");
                delta.failures = 1;
                if error.is_transient() {
                    breakers.record_failure(model.endpoint());
                    return Ok(Err("model_unavailable"));
                }
                return Ok(Err("model_error"));
            }
        };
        breakers.record_success(model.endpoint());
        let cost = self.models.cost_nano_usd(&completion.model, completion.prompt_tokens, completion.completion_tokens);
        let cost = cost.or_else(|| {
            self.models.cost_nano_usd(model.model(), completion.prompt_tokens, completion.completion_tokens)
        });
        *usage = UsageOut {
            model: Some(completion.model.clone()),
            prompt_tokens: completion.prompt_tokens,
            completion_tokens: completion.completion_tokens,
            tokens: completion.prompt_tokens + completion.completion_tokens,
            cost: cost.unwrap_or(0) as f64 / 1e9,
            priced: cost.is_some(),
        };
        delta.calls = 1;
        delta.prompt_tokens = completion.prompt_tokens as i64;
        delta.completion_tokens = completion.completion_tokens as i64;
        delta.cost_nano_usd = cost.unwrap_or(0);
        let Some(answer) = prompt::parse(&completion.content) else {
            tracing::warn!(%workspace, model = model.model(), "the model's answer is not the JSON asked for; composing offline");
            return Ok(Err("malformed_answer"));
        };
        if cacheable {
            let json = serde_json::to_string(&answer).map_err(tidings_store::StoreError::corrupt)?;
            store::cache(&self.db, workspace, &key, model.model(), &json).await?;
        }
        Ok(Ok((answer, false)))
    }

    /// Runs the output guardrail over a candidate, shortening one that is only too long.
    fn checked(&self, context: &Context, candidate: Candidate) -> DraftOut {
        let max = context.settings.max_length.max(1) as usize;
        let check = |text: &str| {
            let knowledge = &context.knowledge_texts;
            pipeline::check_reply(text, candidate.language, &context.input, &context.analysis, knowledge, max)
        };
        let mut text = candidate.text.trim().to_owned();
        let mut result = check(&text);
        let mut shortened = false;
        if !result.passed && result.violations.iter().all(|v| v.kind == ViolationKind::TooLong) {
            text = compose::fit(&text, max);
            shortened = true;
            result = check(&text);
        }
        DraftOut {
            id: String::new(),
            text,
            tone: candidate.tone.as_str().to_owned(),
            confidence: candidate.confidence,
            source: candidate.source.to_owned(),
            template: candidate.template,
            passed: result.passed,
            violations: result.violations,
            shortened,
        }
    }
}

/// The best passages for `text`: FAQ answers, product descriptions and document passages, each
/// indexed with its title.
fn retrieve(knowledge: &[KnowledgeRow], text: &str) -> Vec<(String, KnowledgeRow, f64)> {
    let mut quotes: Vec<(String, &KnowledgeRow)> = Vec::new();
    let mut indexed: Vec<String> = Vec::new();
    for row in knowledge {
        if matches!(row.kind, KnowledgeKind::Faq | KnowledgeKind::Product) {
            quotes.push((row.body.clone(), row));
            indexed.push(format!("{}\n{}", row.title, row.body));
        } else {
            for passage in retrieval::passages(&row.body, PASSAGE_CHARS) {
                indexed.push(format!("{}\n{passage}", row.title));
                quotes.push((passage, row));
            }
        }
    }
    let index = Index::build(&indexed);
    index
        .search(text, PASSAGES)
        .into_iter()
        .filter(|hit| hit.is_relevant())
        .map(|hit| {
            let (quote, row) = &quotes[hit.index];
            (quote.clone(), (*row).clone(), hit.score)
        })
        .collect()
}

/// The model's replies in the order of `tones`: matched by tone name, else the next reply whose
/// tone is none of those asked for.
fn from_answer(answer: &ModelAnswer, tones: &[Tone], source: &'static str) -> Vec<Candidate> {
    let tone_of = |reply: &prompt::ModelReply| reply.tone.as_deref().and_then(Tone::parse);
    let mut unclaimed = answer
        .replies
        .iter()
        .filter(|r| tone_of(r).is_none_or(|t| !tones.contains(&t)))
        .collect::<Vec<_>>()
        .into_iter();
    tones
        .iter()
        .filter_map(|tone| {
            let reply = answer.replies.iter().find(|r| tone_of(r) == Some(*tone)).or_else(|| unclaimed.next())?;
            let mut confidence = reply.confidence.unwrap_or(0.7).clamp(0.0, 1.0);
            if answer.requires_human {
                confidence = confidence.min(0.35);
            }
            Some(Candidate {
                tone: *tone,
                text: reply.text.clone(),
                language: None,
                confidence,
                source,
                template: None,
            })
        })
        .collect()
}

/// The offline composer's drafts.
fn composed(context: &Context, tones: &[Tone], small_talk: Option<SmallTalk>) -> Vec<Candidate> {
    let understanding = &context.analysis.understanding;
    let sentiment = context.analysis.sentiment_with_stars.as_ref().unwrap_or(&context.analysis.sentiment).sentiment;
    let order = understanding.entities.iter().find(|e| e.kind == EntityKind::OrderNumber).map(|e| e.value.as_str());
    let voice = Voice {
        business_name: context.settings.business_name.clone(),
        emoji_allowed: context.settings.emoji_allowed,
        max_chars: context.settings.max_length.max(1) as usize,
    };
    let passages = context.passages();
    let input = ComposeInput {
        language: context.language(),
        topic: understanding.topic,
        sentiment,
        is_question: understanding.is_question,
        is_review: context.is_review(),
        small_talk,
        customer_name: context.conversation.contact_name.as_deref().or(context.message.author_name.as_deref()),
        order_number: order,
        knowledge: &passages,
        templates: &context.templates,
        voice: &voice,
    };
    compose::compose(&input, tones)
        .into_iter()
        .map(|c| Candidate {
            tone: c.tone,
            text: c.text,
            language: c.language,
            confidence: c.confidence,
            source: "template",
            template: Some(c.template),
        })
        .collect()
}

/// The cache key of a question: the same words (case and spacing aside) asked of the same model
/// in the same tones, language and kind of conversation.
fn cache_key(context: &Context, model: &str, tones: &[Tone], custom_instructions: Option<&str>) -> String {
    let normalised = context.input.text.to_lowercase().split_whitespace().collect::<Vec<_>>().join(" ");
    let tones: Vec<&str> = tones.iter().map(|t| t.as_str()).collect();
    let parts = [
        model,
        context.language().code(),
        if context.is_review() { "review" } else { "message" },
        &tones.join(","),
        custom_instructions.unwrap_or(""),
        &normalised,
    ];
    hex::encode(Sha256::digest(parts.join("\u{1f}").as_bytes()))
}

/// The tones of a request: `tones` as given, or `tone` (else the brand voice's) first and the
/// others after it, `variants` in all.
pub fn tones_for(
    tones: Option<&[String]>,
    tone: Option<&str>,
    variants: Option<u8>,
    brand: &str,
) -> Result<Vec<Tone>, (&'static str, String)> {
    let unknown = |t: &str| ("tones", format!("`{t}` is not professional, friendly, empathetic or casual"));
    if let Some(tones) = tones {
        if tones.is_empty() || tones.len() > 4 {
            return Err(("tones", "between 1 and 4 tones".into()));
        }
        let mut parsed = Vec::new();
        for t in tones {
            let tone = Tone::parse(t).ok_or_else(|| unknown(t))?;
            if !parsed.contains(&tone) {
                parsed.push(tone);
            }
        }
        return Ok(parsed);
    }
    let variants = usize::from(variants.unwrap_or(3));
    if !(1..=4).contains(&variants) {
        return Err(("variants", "must be between 1 and 4".into()));
    }
    let first = match tone {
        Some(t) => Tone::parse(t)
            .ok_or_else(|| ("tone", format!("`{t}` is not professional, friendly, empathetic or casual")))?,
        None => Tone::parse(brand).unwrap_or(Tone::Professional),
    };
    let mut out = vec![first];
    out.extend(Tone::ALL.into_iter().filter(|t| *t != first));
    out.truncate(variants);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tones_follow_the_request_then_the_brand_voice() {
        let brand = "friendly";
        assert_eq!(tones_for(None, None, None, brand), Ok(vec![Tone::Friendly, Tone::Professional, Tone::Empathetic]));
        assert_eq!(tones_for(None, Some("casual"), Some(2), brand), Ok(vec![Tone::Casual, Tone::Professional]));
        let asked = ["empathetic".to_owned(), "empathetic".to_owned()];
        assert_eq!(tones_for(Some(&asked), None, None, brand), Ok(vec![Tone::Empathetic]));
        assert_eq!(tones_for(None, None, Some(5), brand).map_err(|e| e.0), Err("variants"));
        assert_eq!(tones_for(Some(&["rude".to_owned()]), None, None, brand).map_err(|e| e.0), Err("tones"));
        assert_eq!(tones_for(None, Some("rude"), None, brand).map_err(|e| e.0), Err("tone"));
    }

    #[test]
    fn faq_answers_and_document_passages_are_retrieved_with_their_entry() {
        let row = |kind: KnowledgeKind, title: &str, body: &str| KnowledgeRow {
            id: tidings_core::KnowledgeId::generate(),
            kind,
            title: title.into(),
            body: body.into(),
            created_at: 0,
            updated_at: 0,
        };
        let knowledge = [
            row(KnowledgeKind::Faq, "What does the Pro plan cost?", "The Pro plan costs $49 per month."),
            row(
                KnowledgeKind::Document,
                "Opening hours",
                "# Hours\n\nWe are open Monday to Saturday, 9 to 18.\n\n# Parking\n\nFree parking behind the shop.",
            ),
        ];
        let hits = retrieve(&knowledge, "How much is the Pro plan?");
        assert_eq!(hits[0].0, "The Pro plan costs $49 per month.");
        let hits = retrieve(&knowledge, "Is there parking near the shop?");
        assert_eq!(hits[0].0, "# Parking\n\nFree parking behind the shop.");
        assert_eq!(hits[0].1.title, "Opening hours");
        assert!(retrieve(&knowledge, "Do you sell bicycles?").is_empty());
    }

    #[test]
    fn model_replies_are_matched_to_tones_and_a_human_request_caps_confidence() {
        let answer = prompt::parse(
            r#"{"replies": [{"tone": "friendly", "text": "Hi!", "confidence": 0.9}, {"text": "Hello.", "confidence": 2}],
                "requires_human": true}"#,
        )
        .expect("parsed");
        let candidates = from_answer(&answer, &[Tone::Professional, Tone::Friendly], "model");
        assert_eq!(candidates[0].text, "Hello.", "no professional reply: the second by position");
        assert_eq!(candidates[1].text, "Hi!");
        assert!(candidates.iter().all(|c| c.confidence <= 0.35));
    }

    #[test]
    fn topics_and_languages_of_templates_parse_from_their_names() {
        let topic: Option<tidings_nlp::understanding::Topic> =
            serde_json::from_value(serde_json::json!("pricing")).ok();
        assert_eq!(topic, Some(tidings_nlp::understanding::Topic::Pricing));
    }
}
