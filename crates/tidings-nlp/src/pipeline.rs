//! Agents 1–4 in order, and the entry points for agents 6 and 7, as one call each.
//! No step may fail the pipeline: a step that panics is replaced by its fallback (the
//! seed's, e.g. neutral sentiment with medium urgency) and the analysis says so in `flags`.

use std::panic::{AssertUnwindSafe, catch_unwind};

use serde::{Deserialize, Serialize};

use crate::Signal;
use crate::decision::{self, Decision, DecisionInput};
use crate::guardrail::{self, InputCheck, ReplyCheck, ReplyContext, Subject};
use crate::language::{Language, LanguageGuess};
use crate::lead::{self, CompiledLeadRules, Intent, LeadContext, LeadScore, LeadTag};
use crate::sentiment::{self, Sentiment, SentimentAnalysis, Urgency, UrgencyLevel};
use crate::understanding::{self, Topic, Understanding};

/// One inbound review or message, with what the conversation knows about its sender.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Input {
    /// The text.
    pub text: String,
    /// The sender's previous messages in this conversation, newest first (spam repeats).
    pub recent_from_sender: Vec<String>,
    /// Messages the sender has sent in this conversation, this one included.
    pub messages_from_sender: u32,
    /// Whether the sender follows the account.
    pub follows: bool,
    /// A review's star rating (1–5), applied as a separate prior.
    pub stars: Option<u8>,
    /// The platform's language tag, used when the text has no letters.
    pub language_hint: Option<Language>,
}

/// Per-workspace settings of the local pipeline.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct Config {
    /// Product names from the knowledge base.
    pub products: Vec<String>,
    /// Lead-scoring rules, compiled.
    pub lead_rules: CompiledLeadRules,
    /// Key phrases kept per message.
    pub max_key_phrases: usize,
    /// Characters analysed; the rest of a longer text is cut (and flagged).
    pub max_chars: usize,
}

impl Default for Config {
    fn default() -> Self {
        Self { products: Vec::new(), lead_rules: CompiledLeadRules::default(), max_key_phrases: 5, max_chars: 5_000 }
    }
}

/// A step that fell back, or a limit that applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Flag {
    /// The text was longer than `max_chars`; only the start was analysed.
    Truncated,
    /// The input guardrail failed; passed by default (the seed's `moderation_skipped`).
    ModerationSkipped,
    /// Understanding failed; the raw text is the summary.
    UnderstandingFallback,
    /// Sentiment failed; neutral with medium urgency.
    SentimentFallback,
    /// Lead scoring failed; COLD with score 0.
    LeadFallback,
}

/// Everything the local pipeline says about one item.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Analysis {
    /// Agent 1.
    pub guardrail: InputCheck,
    /// Agent 2.
    pub understanding: Understanding,
    /// Agent 3, from the text alone.
    pub sentiment: SentimentAnalysis,
    /// Agent 3 with the star-rating prior, for reviews that have stars.
    pub sentiment_with_stars: Option<SentimentAnalysis>,
    /// Agent 4.
    pub lead: LeadScore,
    /// Steps that fell back and limits that applied.
    pub flags: Vec<Flag>,
}

fn step<T>(flags: &mut Vec<Flag>, flag: Flag, run: impl FnOnce() -> T, fallback: impl FnOnce() -> T) -> T {
    match catch_unwind(AssertUnwindSafe(run)) {
        Ok(value) => value,
        Err(_) => {
            flags.push(flag);
            fallback()
        }
    }
}

/// Runs agents 1–4 over `input`.
pub fn analyse(input: &Input, config: &Config) -> Analysis {
    let mut flags = Vec::new();
    let text = match input.text.char_indices().nth(config.max_chars) {
        Some((cut, _)) => {
            flags.push(Flag::Truncated);
            &input.text[..cut]
        }
        None => input.text.as_str(),
    };
    let guardrail = step(
        &mut flags,
        Flag::ModerationSkipped,
        || guardrail::check_input(&input.text, &input.recent_from_sender),
        || InputCheck {
            passed: true,
            flags: Vec::new(),
            risk_score: 0.0,
            signals: vec![Signal::new(0.0, "moderation skipped")],
        },
    );
    let understanding = step(
        &mut flags,
        Flag::UnderstandingFallback,
        || understanding::understand(text, &config.products, input.language_hint, config.max_key_phrases),
        || Understanding {
            language: LanguageGuess { language: input.language_hint, confidence: 0.0, signals: Vec::new() },
            entities: Vec::new(),
            topic: Topic::Other,
            topic_signals: Vec::new(),
            is_question: text.contains('?'),
            summary: text.chars().take(understanding::SUMMARY_CHARS).collect(),
            key_phrases: Vec::new(),
        },
    );
    let language = understanding.language.language.unwrap_or(Language::En);
    let sentiment = step(
        &mut flags,
        Flag::SentimentFallback,
        || sentiment::analyse(text, language),
        || SentimentAnalysis {
            sentiment: Sentiment::Neutral,
            score: 0.0,
            signals: vec![Signal::new(0.0, "sentiment unavailable")],
            urgency: Urgency { score: 0.5, level: UrgencyLevel::Medium, signals: Vec::new() },
            emotions: Vec::new(),
        },
    );
    let sentiment_with_stars = input.stars.map(|stars| sentiment::apply_star_prior(&sentiment, stars));
    let lead_context = LeadContext { messages_from_sender: input.messages_from_sender, follows: input.follows };
    let lead = step(
        &mut flags,
        Flag::LeadFallback,
        || lead::score(text, &understanding, sentiment.sentiment, &lead_context, &config.lead_rules),
        || LeadScore {
            intent: Intent::Other,
            confidence: 0.0,
            score: 0,
            tag: LeadTag::Cold,
            signals: vec![Signal::new(0.0, "lead scoring unavailable")],
            recommended_action: "Review by hand.".into(),
        },
    );
    Analysis { guardrail, understanding, sentiment, sentiment_with_stars, lead, flags }
}

/// Agent 6: checks a reply to `input` against the knowledge base it may draw on and against what
/// the message is about. `written_in` is the reply's language when its author knows it (see
/// [`crate::compose::Composed::language`]); otherwise the reply's language is identified.
pub fn check_reply(
    reply: &str,
    written_in: Option<Language>,
    input: &Input,
    analysis: &Analysis,
    knowledge: &[String],
    max_chars: usize,
) -> ReplyCheck {
    let understanding = &analysis.understanding;
    let sentiment = analysis.sentiment_with_stars.as_ref().unwrap_or(&analysis.sentiment);
    let context = ReplyContext {
        customer_language: understanding.language.language,
        customer_text: &input.text,
        knowledge,
        max_chars,
        reply_language: written_in,
        subject: Some(Subject {
            topic: understanding.topic,
            is_question: understanding.is_question,
            negative: sentiment.sentiment == Sentiment::Negative,
            key_phrases: &understanding.key_phrases,
            entities: &understanding.entities,
            language: understanding.language.language.unwrap_or(Language::En),
        }),
    };
    guardrail::check_reply(reply, &context)
}

/// A reply as agent 5 produced it, and the conversation's state.
#[derive(Debug, Clone, Copy, Default)]
pub struct ReplyState {
    /// The reply's confidence, if there is a reply.
    pub confidence: Option<f32>,
    /// Whether [`check_reply`] passed it.
    pub passed: bool,
    /// Customer messages since the last resolution.
    pub unresolved_messages: u32,
    /// Whether the model's circuit breaker is open.
    pub breaker_open: bool,
    /// Auto-reply on for the connection and within business hours.
    pub auto_reply_on: bool,
    /// Confidence needed to send without review.
    pub auto_send_threshold: f32,
}

/// Agent 7: auto-send, draft or hand off.
pub fn decide(input: &Input, analysis: &Analysis, reply: &ReplyState) -> Decision {
    decision::decide(&DecisionInput {
        text: &input.text,
        sentiment: Some(analysis.sentiment.sentiment),
        urgency: Some(analysis.sentiment.urgency.level),
        unresolved_messages: reply.unresolved_messages,
        reply_confidence: reply.confidence,
        reply_passed: reply.passed,
        breaker_open: reply.breaker_open,
        auto_reply_on: reply.auto_reply_on,
        auto_send_threshold: reply.auto_send_threshold,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decision::{Action, Reason};

    fn config() -> Config {
        Config { products: vec!["Pro plan".into()], ..Config::default() }
    }

    #[test]
    fn the_seeds_message_end_to_end() {
        let input = Input {
            text: "Hi, what's the price of your Pro plan?".into(),
            messages_from_sender: 1,
            ..Input::default()
        };
        let a = analyse(&input, &config());
        assert!(a.guardrail.passed);
        assert_eq!(a.understanding.language.language, Some(Language::En));
        assert_eq!(a.understanding.topic, Topic::Pricing);
        assert_eq!(a.lead.tag, LeadTag::Hot);
        assert!(a.flags.is_empty());
        let knowledge = ["The Pro plan costs $49/month.".to_string()];
        let reply = "Hi! The Pro plan costs $49/month. Would you like a trial?";
        let check = check_reply(reply, None, &input, &a, &knowledge, 500);
        assert!(check.passed, "{check:?}");
        let state = ReplyState {
            confidence: Some(0.9),
            passed: true,
            auto_reply_on: true,
            auto_send_threshold: 0.8,
            ..ReplyState::default()
        };
        assert_eq!(decide(&input, &a, &state).action, Action::AutoSend);
    }

    #[test]
    fn an_angry_french_review_with_stars_and_a_human_request() {
        let input = Input {
            text: "Livraison en retard et colis abîmé, je suis très déçu. Je veux parler à une personne !".into(),
            stars: Some(1),
            ..Input::default()
        };
        let a = analyse(&input, &Config::default());
        assert_eq!(a.understanding.language.language, Some(Language::Fr));
        assert_eq!(a.sentiment.sentiment, Sentiment::Negative);
        assert!(a.sentiment_with_stars.as_ref().is_some_and(|s| s.score < a.sentiment.score));
        let d = decide(
            &input,
            &a,
            &ReplyState {
                confidence: Some(0.9),
                passed: true,
                auto_reply_on: true,
                auto_send_threshold: 0.5,
                ..ReplyState::default()
            },
        );
        assert_eq!(d.action, Action::Handoff);
        assert!(d.reasons.contains(&Reason::AsksForHuman { phrase: "une personne".into() }));
    }

    #[test]
    fn long_texts_are_cut_and_flagged_empty_texts_still_analysed() {
        let input = Input { text: "great ".repeat(2_000), ..Input::default() };
        let a = analyse(&input, &Config::default());
        assert_eq!(a.flags, [Flag::Truncated]);
        let empty = analyse(&Input::default(), &Config::default());
        assert_eq!(empty.sentiment.sentiment, Sentiment::Neutral);
        assert_eq!(empty.lead.tag, LeadTag::Cold);
    }

    #[test]
    fn a_failing_step_falls_back_and_flags() {
        let mut flags = Vec::new();
        let value = step(&mut flags, Flag::SentimentFallback, || -> u8 { panic!("model broke") }, || 7);
        assert_eq!((value, flags), (7, vec![Flag::SentimentFallback]));
    }
}
