//! One item through the local agents: its text and what its thread says about it (how many
//! messages the sender wrote, their last few, how many are still unanswered) become
//! tidings-nlp's `Input`; agents 1–4 analyse it and agent 7 decides whether a person must take
//! over. Pure: no I/O, so a batch runs on a blocking thread.

use std::collections::HashMap;

use tidings_nlp::decision::{Action, Decision};
use tidings_nlp::language::Language;
use tidings_nlp::lead::LeadTag;
use tidings_nlp::pipeline::{self, Analysis, Config, Input, ReplyState};
use tidings_nlp::sentiment::SentimentAnalysis;

use super::store::{ContextRow, ItemRow, NewAnalysis};
use crate::inbox::analysis::{name, reason_text};
use crate::inbox::model::{ConversationKind, Direction};

/// Previous messages of the sender kept for the spam check (repeats).
const RECENT: usize = 5;

/// An item with its pipeline input.
#[derive(Debug, Clone)]
pub struct Prepared {
    pub item: ItemRow,
    pub input: Input,
    /// Customer messages since the business last wrote, this one included.
    pub unresolved: u32,
}

/// Builds each item's input from its row and its thread's newest messages (newest first).
pub fn prepare(items: Vec<ItemRow>, context: &[ContextRow]) -> Vec<Prepared> {
    let mut threads: HashMap<&str, Vec<&ContextRow>> = HashMap::new();
    for row in context {
        threads.entry(row.conversation_id.as_str()).or_default().push(row);
    }
    items
        .into_iter()
        .map(|item| {
            let thread = threads.get(item.conversation_id.as_str()).map(Vec::as_slice).unwrap_or_default();
            // The thread as it was when the item arrived: the item, then what came before it.
            let before: &[&ContextRow] = match thread.iter().position(|m| m.id == item.id) {
                Some(at) => &thread[at + 1..],
                None => &[],
            };
            let inbound_before = before.iter().filter(|m| m.direction == Direction::Inbound);
            let messages_from_sender = 1 + u32::try_from(inbound_before.clone().count()).unwrap_or(u32::MAX - 1);
            let recent_from_sender = inbound_before.take(RECENT).map(|m| m.body.clone()).collect();
            let unresolved =
                1 + u32::try_from(before.iter().take_while(|m| m.direction == Direction::Inbound).count()).unwrap_or(0);
            let text = match item.title.as_deref().map(str::trim).filter(|t| !t.is_empty()) {
                Some(title) => format!("{title}. {}", item.body),
                None => item.body.clone(),
            };
            let input = Input {
                text,
                recent_from_sender,
                messages_from_sender,
                follows: false,
                stars: item.rating.and_then(|r| u8::try_from(r).ok()).filter(|r| (1..=5).contains(r)),
                language_hint: item.language.as_deref().and_then(language_of_tag),
            };
            Prepared { item, input, unresolved }
        })
        .collect()
}

/// A platform's language tag (`en`, `en-US`, `pt_BR`) as one of the analysed languages.
fn language_of_tag(tag: &str) -> Option<Language> {
    Language::from_code(tag.split(['-', '_']).next().unwrap_or(tag))
}

/// What the pipeline concluded about one item.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub item: ItemRow,
    pub analysis: Analysis,
    pub decision: Decision,
    /// Whether the item is scored as a lead (messages, not reviews).
    pub lead: bool,
}

/// Runs the local agents over one item. Never fails: a step that fails falls back and is
/// flagged by tidings-nlp.
pub fn run(prepared: Prepared, config: &Config) -> Outcome {
    let analysis = pipeline::analyse(&prepared.input, config);
    // No reply exists yet: agent 7 can only find the triggers that need none (a request for a
    // person, legal wording, negative and critical, unanswered messages). The auto-reply
    // (pipeline/replies) decides again with its reply.
    let state = ReplyState { unresolved_messages: prepared.unresolved, ..ReplyState::default() };
    let decision = pipeline::decide(&prepared.input, &analysis, &state);
    let lead = prepared.item.conversation_kind == ConversationKind::Thread;
    Outcome { item: prepared.item, analysis, decision, lead }
}

impl Outcome {
    /// The sentiment the item is listed by: with the stars' prior for a rated review.
    pub fn sentiment(&self) -> &SentimentAnalysis {
        self.analysis.sentiment_with_stars.as_ref().unwrap_or(&self.analysis.sentiment)
    }

    /// The lead tag, for messages.
    pub fn lead_tag(&self) -> Option<LeadTag> {
        self.lead.then_some(self.analysis.lead.tag)
    }

    /// Why a person must take over, when they must.
    pub fn handoff_reason(&self) -> Option<String> {
        (self.decision.action == Action::Handoff)
            .then(|| self.decision.reasons.iter().map(reason_text).collect::<Vec<_>>().join("; "))
    }

    /// The language code, when one was identified.
    pub fn language(&self) -> Option<&'static str> {
        self.analysis.understanding.language.language.map(Language::code)
    }

    /// The stored form of the outcome: its columns and JSON.
    pub fn record(&self) -> Record {
        Record {
            sentiment: self.sentiment().sentiment.as_str(),
            sentiment_score: f64::from(self.sentiment().score),
            urgency: name(&self.analysis.sentiment.urgency.level),
            topic: name(&self.analysis.understanding.topic),
            lead_tag: self.lead_tag().map(|t| name(&t)),
            action: match self.decision.action {
                Action::Handoff => "handoff",
                Action::Draft => "draft",
                Action::AutoSend => "auto_send",
            },
            analysis: serde_json::to_string(&self.analysis).unwrap_or_else(|_| "{}".into()),
            decision: serde_json::to_string(&self.decision).unwrap_or_else(|_| "{}".into()),
            flags: serde_json::to_string(&self.analysis.flags).unwrap_or_else(|_| "[]".into()),
        }
    }
}

/// The owned strings behind a [`NewAnalysis`].
pub struct Record {
    pub sentiment: &'static str,
    pub sentiment_score: f64,
    pub urgency: String,
    pub topic: String,
    pub lead_tag: Option<String>,
    pub action: &'static str,
    pub analysis: String,
    pub decision: String,
    pub flags: String,
}

impl Record {
    /// The row to store for `outcome`.
    pub fn row<'a>(&'a self, outcome: &'a Outcome) -> NewAnalysis<'a> {
        let understanding = &outcome.analysis.understanding;
        NewAnalysis {
            message_id: outcome.item.id.as_str(),
            conversation_id: outcome.item.conversation_id.as_str(),
            sent_at: outcome.item.sent_at,
            language: outcome.language(),
            sentiment: self.sentiment,
            sentiment_score: self.sentiment_score,
            urgency: &self.urgency,
            topic: &self.topic,
            is_question: understanding.is_question,
            summary: &understanding.summary,
            lead_score: outcome.lead.then_some(i64::from(outcome.analysis.lead.score)),
            lead_tag: self.lead_tag.as_deref(),
            action: self.action,
            analysis: &self.analysis,
            decision: &self.decision,
            flags: &self.flags,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A valid id named by a short test name (`m5`, `cnv_1`), the same for the same name.
    fn id<T: std::str::FromStr<Err: std::fmt::Debug>>(prefix: &str, name: &str) -> T {
        let digits = name.bytes().fold(0u128, |n, b| n * 256 + u128::from(b));
        format!("{prefix}_{digits:032x}").parse().expect("a valid id")
    }

    fn item(name: &str, conversation: &str, kind: &str, body: &str, sent_at: i64) -> ItemRow {
        ItemRow {
            id: id("msg", name),
            conversation_id: id("cnv", conversation),
            conversation_kind: kind.parse().expect("a conversation kind"),
            connection_id: None,
            title: None,
            body: body.into(),
            rating: None,
            language: None,
            sent_at,
            analysed: false,
            previous_sentiment: None,
            previous_lead_tag: None,
        }
    }

    fn context(name: &str, direction: &str, body: &str, sent_at: i64) -> ContextRow {
        ContextRow {
            conversation_id: id("cnv", "cnv_1"),
            id: id("msg", name),
            direction: direction.parse().expect("a direction"),
            body: body.into(),
            sent_at,
        }
    }

    #[test]
    fn the_thread_before_an_item_gives_its_counts() {
        // Newest first, as the store reads them.
        let thread = [
            context("m5", "inbound", "hello??", 5),
            context("m4", "inbound", "anyone there?", 4),
            context("m3", "inbound", "what's the price?", 3),
            context("m2", "outbound", "Hi! How can we help?", 2),
            context("m1", "inbound", "hi", 1),
        ];
        let prepared = prepare(vec![item("m5", "cnv_1", "thread", "hello??", 5)], &thread);
        let p = &prepared[0];
        assert_eq!(p.input.messages_from_sender, 4);
        assert_eq!(p.unresolved, 3);
        assert_eq!(p.input.recent_from_sender, ["anyone there?", "what's the price?", "hi"]);
    }

    #[test]
    fn a_pricing_question_is_a_hot_lead_and_a_request_for_a_person_a_handoff() {
        let text = "Hi! What's the price of the Pro plan, and is it available today? I need it asap.";
        let pricing = prepare(vec![item("m1", "cnv_1", "thread", text, 1)], &[context("m1", "inbound", text, 1)]);
        let outcome = run(pricing[0].clone(), &Config::default());
        assert_eq!(outcome.lead_tag(), Some(LeadTag::Hot), "{:?}", outcome.analysis.lead.signals);
        assert!(outcome.analysis.lead.signals.iter().any(|s| s.to_string() == "+30 pricing question ('price')"));
        assert_eq!(outcome.handoff_reason(), None);
        let human = prepare(vec![item("m2", "cnv_2", "thread", "Can I talk to a real person please?", 1)], &[]);
        let outcome = run(human[0].clone(), &Config::default());
        assert_eq!(outcome.handoff_reason().as_deref(), Some("asks for a person ('real person')"));
    }

    #[test]
    fn reviews_are_not_leads_and_their_stars_weigh_on_the_listed_sentiment() {
        let mut review = item("m1", "cnv_1", "review", "The food was okay.", 1);
        review.rating = Some(1);
        review.title = Some("Dinner".into());
        review.language = Some("en-GB".into());
        let prepared = prepare(vec![review], &[]);
        assert_eq!(prepared[0].input.text, "Dinner. The food was okay.");
        assert_eq!(prepared[0].input.language_hint, Some(Language::En));
        let outcome = run(prepared[0].clone(), &Config::default());
        assert_eq!(outcome.lead_tag(), None);
        assert!(outcome.sentiment().score < outcome.analysis.sentiment.score);
        assert_eq!(outcome.record().lead_tag, None);
    }
}
