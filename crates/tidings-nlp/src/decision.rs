//! Agent 7: send the reply automatically, keep it as a draft, or hand the conversation to a
//! person — on the human-takeover triggers (low confidence in the reply, the customer asking for
//! a person, negative sentiment with critical urgency, repeated unresolved messages, legal or
//! compliance words, the model's circuit breaker open), each named in the decision.

use std::sync::LazyLock;

use serde::{Deserialize, Serialize};

use crate::sentiment::{Sentiment, UrgencyLevel};
use crate::text::{PhraseList, normalised};

/// What happens to the conversation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// Send the reply without review.
    AutoSend,
    /// Keep the reply as a draft for a person to pick, edit and send.
    Draft,
    /// Set the conversation to `needs_human` (and send the holding message where configured).
    Handoff,
}

/// Why the conversation goes to a person (§8.3), or why a reply is only a draft.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "trigger")]
pub enum Reason {
    /// 1. The reply's confidence is under the handoff floor (0.4).
    LowConfidence {
        /// The reply's confidence.
        confidence: f32,
    },
    /// 2. The customer asks for a person.
    AsksForHuman {
        /// The words that asked.
        phrase: String,
    },
    /// 3. Negative sentiment with critical urgency.
    NegativeAndCritical,
    /// 4. Three or more customer messages in a row without resolution.
    Unresolved {
        /// How many.
        messages: u32,
    },
    /// 5. Legal or compliance wording.
    LegalKeyword {
        /// The word seen.
        phrase: String,
    },
    /// 6. The model's circuit breaker is open.
    BreakerOpen,
    /// The output guardrail held the reply back.
    GuardrailFailed,
    /// Auto-reply is off for this connection or outside business hours.
    AutoReplyOff,
    /// The reply's confidence is under the connection's auto-send threshold.
    BelowThreshold {
        /// The reply's confidence.
        confidence: f32,
        /// The threshold.
        threshold: f32,
    },
    /// No reply was produced.
    NoReply,
}

/// The inputs of the decision.
#[derive(Debug, Clone, Default)]
pub struct DecisionInput<'a> {
    /// The customer's message.
    pub text: &'a str,
    /// Its sentiment.
    pub sentiment: Option<Sentiment>,
    /// Its urgency.
    pub urgency: Option<UrgencyLevel>,
    /// Customer messages since the last answer that resolved anything.
    pub unresolved_messages: u32,
    /// The reply's confidence, if a reply was produced.
    pub reply_confidence: Option<f32>,
    /// Whether the output guardrail passed the reply.
    pub reply_passed: bool,
    /// Whether the model's circuit breaker is open.
    pub breaker_open: bool,
    /// Auto-reply is enabled on the connection and it is within business hours.
    pub auto_reply_on: bool,
    /// Confidence needed to send without review.
    pub auto_send_threshold: f32,
}

/// The decision with every reason behind it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Decision {
    /// What to do.
    pub action: Action,
    /// Why (empty for an automatic send).
    pub reasons: Vec<Reason>,
}

/// Confidence under which a person takes over (§8.3 trigger 1).
pub const HANDOFF_CONFIDENCE: f32 = 0.4;
/// Unresolved messages from which a person takes over (§8.3 trigger 4).
pub const UNRESOLVED_LIMIT: u32 = 3;

const HUMAN: &[&str] = &[
    "human",
    "real person",
    "a person",
    "an agent",
    "a real agent",
    "customer service agent",
    "speak to someone",
    "talk to someone",
    "representative",
    "operator",
    "manager",
    "persona real",
    "un humano",
    "hablar con alguien",
    "un agente",
    "une personne",
    "un humain",
    "un conseiller",
    "un agent",
    "einen menschen",
    "mitarbeiter",
    "echte person",
    "una persona",
    "un operatore",
    "um humano",
    "uma pessoa",
    "atendente",
    "een mens",
    "een medewerker",
    "echt persoon",
];
const LEGAL: &[&str] = &[
    "lawyer",
    "attorney",
    "solicitor",
    "sue",
    "suing",
    "lawsuit",
    "legal action",
    "court",
    "small claims",
    "chargeback",
    "gdpr",
    "data protection",
    "ombudsman",
    "trading standards",
    "abogado",
    "demanda",
    "denuncia",
    "tribunal",
    "avocat",
    "poursuite",
    "plainte",
    "rgpd",
    "anwalt",
    "klage",
    "gericht",
    "dsgvo",
    "verbraucherzentrale",
    "avvocato",
    "querela",
    "advogado",
    "processo",
    "procon",
    "advocaat",
    "rechtszaak",
    "juridische stappen",
    "avg",
];

static HUMAN_PHRASES: LazyLock<PhraseList> = LazyLock::new(|| PhraseList::new(HUMAN));
static LEGAL_PHRASES: LazyLock<PhraseList> = LazyLock::new(|| PhraseList::new(LEGAL));

/// The phrase with which the customer asks for a person, if any.
pub fn asks_for_human(text: &str) -> Option<&'static str> {
    HUMAN_PHRASES.first(&normalised(text))
}

/// The legal or compliance word in the text, if any.
pub fn legal_keyword(text: &str) -> Option<&'static str> {
    LEGAL_PHRASES.first(&normalised(text))
}

/// Decides what happens to a reply.
pub fn decide(input: &DecisionInput<'_>) -> Decision {
    let mut handoff = Vec::new();
    if let Some(confidence) = input.reply_confidence.filter(|c| *c < HANDOFF_CONFIDENCE) {
        handoff.push(Reason::LowConfidence { confidence });
    }
    let lower = normalised(input.text);
    if let Some(phrase) = HUMAN_PHRASES.first(&lower) {
        handoff.push(Reason::AsksForHuman { phrase: phrase.into() });
    }
    if input.sentiment == Some(Sentiment::Negative) && input.urgency == Some(UrgencyLevel::Critical) {
        handoff.push(Reason::NegativeAndCritical);
    }
    if input.unresolved_messages >= UNRESOLVED_LIMIT {
        handoff.push(Reason::Unresolved { messages: input.unresolved_messages });
    }
    if let Some(phrase) = LEGAL_PHRASES.first(&lower) {
        handoff.push(Reason::LegalKeyword { phrase: phrase.into() });
    }
    if input.breaker_open {
        handoff.push(Reason::BreakerOpen);
    }
    if !handoff.is_empty() {
        return Decision { action: Action::Handoff, reasons: handoff };
    }
    let mut draft = Vec::new();
    match input.reply_confidence {
        None => draft.push(Reason::NoReply),
        Some(confidence) if confidence < input.auto_send_threshold => {
            draft.push(Reason::BelowThreshold { confidence, threshold: input.auto_send_threshold });
        }
        Some(_) => {}
    }
    if input.reply_confidence.is_some() && !input.reply_passed {
        draft.push(Reason::GuardrailFailed);
    }
    if !input.auto_reply_on {
        draft.push(Reason::AutoReplyOff);
    }
    if draft.is_empty() {
        Decision { action: Action::AutoSend, reasons: Vec::new() }
    } else {
        Decision { action: Action::Draft, reasons: draft }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn confident(text: &str) -> DecisionInput<'_> {
        DecisionInput {
            text,
            sentiment: Some(Sentiment::Neutral),
            urgency: Some(UrgencyLevel::Low),
            reply_confidence: Some(0.9),
            reply_passed: true,
            auto_reply_on: true,
            auto_send_threshold: 0.8,
            ..DecisionInput::default()
        }
    }

    #[test]
    fn confident_safe_replies_go_out() {
        assert_eq!(decide(&confident("What time do you open?")).action, Action::AutoSend);
    }

    #[test]
    fn each_handoff_trigger_of_the_seed() {
        let mut low = confident("What time do you open?");
        low.reply_confidence = Some(0.3);
        assert_eq!(decide(&low).reasons, [Reason::LowConfidence { confidence: 0.3 }]);
        assert_eq!(
            decide(&confident("Can I talk to a real person please")).reasons,
            [Reason::AsksForHuman { phrase: "real person".into() }]
        );
        assert!(decide(&confident("Quiero hablar con un humano")).action == Action::Handoff);
        let mut angry = confident("This is a disaster, fix it NOW");
        angry.sentiment = Some(Sentiment::Negative);
        angry.urgency = Some(UrgencyLevel::Critical);
        assert_eq!(decide(&angry).reasons, [Reason::NegativeAndCritical]);
        let mut stuck = confident("Still nothing?");
        stuck.unresolved_messages = 3;
        assert_eq!(decide(&stuck).reasons, [Reason::Unresolved { messages: 3 }]);
        assert_eq!(
            decide(&confident("Ich werde meinen Anwalt einschalten")).reasons,
            [Reason::LegalKeyword { phrase: "anwalt".into() }]
        );
        let mut open = confident("What time do you open?");
        open.breaker_open = true;
        assert_eq!(decide(&open).reasons, [Reason::BreakerOpen]);
    }

    #[test]
    fn drafts_when_auto_reply_cannot_send() {
        let mut off = confident("What time do you open?");
        off.auto_reply_on = false;
        assert_eq!(decide(&off), Decision { action: Action::Draft, reasons: vec![Reason::AutoReplyOff] });
        let mut unsure = confident("What time do you open?");
        unsure.reply_confidence = Some(0.6);
        unsure.reply_passed = false;
        assert_eq!(
            decide(&unsure).reasons,
            [Reason::BelowThreshold { confidence: 0.6, threshold: 0.8 }, Reason::GuardrailFailed]
        );
    }
}
