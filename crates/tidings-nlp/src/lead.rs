//! Agent 4: intent and lead scoring with weighted rules (+30 for a pricing question, and the
//! others listed on [`LeadRules`]), kept as data ([`LeadRules`], serde, with defaults) so each
//! workspace can change them, and explained rule by rule.

use std::sync::{Arc, LazyLock};

use serde::{Deserialize, Serialize};

use crate::Signal;
use crate::sentiment::Sentiment;
use crate::text::{PhraseSet, normalised};
use crate::understanding::{Topic, Understanding};

/// HOT / WARM / COLD.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum LeadTag {
    /// Ready to buy: follow up now.
    Hot,
    /// Interested.
    Warm,
    /// Not (yet) interested.
    Cold,
}

/// What the sender wants, as far as rules can tell.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Intent {
    /// Asking about price, availability, a demo: weighing a purchase.
    PurchaseEvaluation,
    /// Asking about products or features.
    ProductInquiry,
    /// Needs help or complains.
    Support,
    /// Says they are not interested.
    NotInterested,
    /// Just says hello or thanks.
    Greeting,
    /// Anything else.
    Other,
}

/// A rule: points, and the phrases (any language, lower case) that trigger it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PhraseRule {
    /// Points added (negative to subtract).
    pub points: i32,
    /// Trigger phrases, matched as whole words.
    pub phrases: Vec<String>,
}

/// A rule triggered by a fact of the conversation rather than by words.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct FactRule {
    /// Points added (negative to subtract).
    pub points: i32,
}

/// The lead-scoring rules; [`Default`] holds the points written on each field.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct LeadRules {
    /// +30: mentions pricing / buying / purchasing.
    pub pricing: PhraseRule,
    /// +20: asks about availability.
    pub availability: PhraseRule,
    /// +15: requests a demo or trial.
    pub demo: PhraseRule,
    /// +10: repeat engagement (at least `repeat_messages` messages in the thread).
    pub repeat_engagement: FactRule,
    /// Messages from the sender that count as repeat engagement.
    pub repeat_messages: u32,
    /// +10: positive sentiment.
    pub positive_sentiment: FactRule,
    /// +15: urgency language ("need", "asap", "today").
    pub urgency: PhraseRule,
    /// +20: a question about a product (one from the knowledge base, or an inquiry).
    pub product_inquiry: FactRule,
    /// +15: asks about features.
    pub features: PhraseRule,
    /// +10: first message of the thread, showing interest.
    pub first_time_interest: FactRule,
    /// +10: follows or subscribes to the account.
    pub follows: FactRule,
    /// +10: generic greeting.
    pub greeting: PhraseRule,
    /// +5: a question that matched no other rule.
    pub unrelated_question: FactRule,
    /// −10: negative sentiment.
    pub negative_sentiment: FactRule,
    /// −20: explicitly not interested.
    pub not_interested: PhraseRule,
    /// Score from which a lead is HOT (seed: 70).
    pub hot_from: i32,
    /// Score from which a lead is WARM (seed: 40).
    pub warm_from: i32,
}

fn phrases(points: i32, list: &[&str]) -> PhraseRule {
    PhraseRule { points, phrases: list.iter().map(|s| (*s).to_string()).collect() }
}

impl Default for LeadRules {
    fn default() -> Self {
        Self {
            pricing: phrases(
                30,
                &[
                    "price",
                    "prices",
                    "pricing",
                    "cost",
                    "costs",
                    "how much",
                    "buy",
                    "buying",
                    "purchase",
                    "purchasing",
                    "order",
                    "quote",
                    "subscribe",
                    "precio",
                    "cuánto cuesta",
                    "cuanto cuesta",
                    "comprar",
                    "prix",
                    "combien",
                    "acheter",
                    "tarif",
                    "preis",
                    "kostet",
                    "kaufen",
                    "prezzo",
                    "quanto costa",
                    "comprare",
                    "preço",
                    "quanto custa",
                    "prijs",
                    "kopen",
                    "wat kost",
                ],
            ),
            availability: phrases(
                20,
                &[
                    "available",
                    "availability",
                    "in stock",
                    "do you have",
                    "when can i get",
                    "disponible",
                    "disponibilidad",
                    "hay stock",
                    "en stock",
                    "verfügbar",
                    "lieferbar",
                    "disponibile",
                    "disponível",
                    "beschikbaar",
                    "op voorraad",
                ],
            ),
            demo: phrases(
                15,
                &[
                    "demo",
                    "trial",
                    "free trial",
                    "test drive",
                    "prueba",
                    "demostración",
                    "essai",
                    "démo",
                    "testen",
                    "probeversion",
                    "prova",
                    "teste",
                    "proefversie",
                ],
            ),
            repeat_engagement: FactRule { points: 10 },
            repeat_messages: 3,
            positive_sentiment: FactRule { points: 10 },
            urgency: phrases(
                15,
                &[
                    "need",
                    "asap",
                    "today",
                    "urgent",
                    "right away",
                    "necesito",
                    "hoy",
                    "urgente",
                    "besoin",
                    "aujourd'hui",
                    "brauche",
                    "heute",
                    "dringend",
                    "bisogno",
                    "oggi",
                    "preciso",
                    "hoje",
                    "nodig",
                    "vandaag",
                ],
            ),
            product_inquiry: FactRule { points: 20 },
            features: phrases(
                15,
                &[
                    "feature",
                    "features",
                    "does it support",
                    "does it have",
                    "integrate",
                    "integration",
                    "can it",
                    "funciones",
                    "características",
                    "fonctionnalités",
                    "funktionen",
                    "funzionalità",
                    "funcionalidades",
                    "functies",
                ],
            ),
            first_time_interest: FactRule { points: 10 },
            follows: FactRule { points: 10 },
            greeting: phrases(
                10,
                &[
                    "hi",
                    "hello",
                    "hey",
                    "good morning",
                    "good afternoon",
                    "hola",
                    "buenos días",
                    "bonjour",
                    "salut",
                    "hallo",
                    "guten tag",
                    "ciao",
                    "buongiorno",
                    "olá",
                    "ola",
                    "bom dia",
                    "hoi",
                    "goedemorgen",
                ],
            ),
            unrelated_question: FactRule { points: 5 },
            negative_sentiment: FactRule { points: -10 },
            not_interested: phrases(
                -20,
                &[
                    "not interested",
                    "no thanks",
                    "no thank you",
                    "unsubscribe",
                    "stop messaging",
                    "no me interesa",
                    "pas intéressé",
                    "pas intéressée",
                    "ça ne m'intéresse pas",
                    "kein interesse",
                    "non mi interessa",
                    "não tenho interesse",
                    "não me interessa",
                    "geen interesse",
                ],
            ),
            hot_from: 70,
            warm_from: 40,
        }
    }
}

/// The rules triggered by phrases, in the order their signals are listed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Trigger {
    Pricing,
    Availability,
    Demo,
    Features,
    Urgency,
    Greeting,
    NotInterested,
}

impl Trigger {
    const ALL: [Trigger; 7] = [
        Trigger::Pricing,
        Trigger::Availability,
        Trigger::Demo,
        Trigger::Features,
        Trigger::Urgency,
        Trigger::Greeting,
        Trigger::NotInterested,
    ];

    fn rule(self, rules: &LeadRules) -> &PhraseRule {
        match self {
            Trigger::Pricing => &rules.pricing,
            Trigger::Availability => &rules.availability,
            Trigger::Demo => &rules.demo,
            Trigger::Features => &rules.features,
            Trigger::Urgency => &rules.urgency,
            Trigger::Greeting => &rules.greeting,
            Trigger::NotInterested => &rules.not_interested,
        }
    }

    /// What the signal says when the rule fires.
    fn reason(self) -> &'static str {
        match self {
            Trigger::Pricing => "pricing question",
            Trigger::Availability => "asks about availability",
            Trigger::Demo => "asks for a demo or trial",
            Trigger::Features => "asks about features",
            Trigger::Urgency => "urgency language",
            Trigger::Greeting => "greeting",
            Trigger::NotInterested => "not interested",
        }
    }
}

/// [`LeadRules`] with each phrase list compiled into one automaton, so a message is matched in
/// one pass per rule rather than one search per phrase. Compiling costs far more than matching
/// one message: build it once per version of a workspace's rules (the server keeps it until
/// the rules are saved again). Cheap to clone; (de)serialised as its [`LeadRules`].
#[derive(Debug, Clone)]
pub struct CompiledLeadRules(Arc<Compiled>);

#[derive(Debug)]
struct Compiled {
    rules: LeadRules,
    /// One automaton per [`Trigger`], in [`Trigger::ALL`]'s order.
    phrases: Vec<PhraseSet>,
}

static DEFAULT_RULES: LazyLock<CompiledLeadRules> = LazyLock::new(|| CompiledLeadRules::new(LeadRules::default()));

impl CompiledLeadRules {
    /// Compiles `rules`.
    pub fn new(rules: LeadRules) -> Self {
        let phrases = Trigger::ALL
            .iter()
            .map(|trigger| {
                // Normalised as the text will be, so "Wat kost" or "in-stock" match as written.
                let phrases: Vec<String> =
                    trigger.rule(&rules).phrases.iter().map(|p| normalised(p).trim().to_string()).collect();
                PhraseSet::new(phrases.iter().map(String::as_str))
            })
            .collect();
        Self(Arc::new(Compiled { rules, phrases }))
    }

    /// The rules as written.
    pub fn rules(&self) -> &LeadRules {
        &self.0.rules
    }

    /// The first of `trigger`'s phrases (in the rule's order) in the normalised text.
    fn first_match(&self, trigger: Trigger, normalised: &str) -> Option<&str> {
        let first = *self.0.phrases.get(trigger as usize)?.matches(normalised).first()?;
        trigger.rule(&self.0.rules).phrases.get(first).map(String::as_str)
    }
}

impl Default for CompiledLeadRules {
    /// The seed's rules, compiled once per process.
    fn default() -> Self {
        DEFAULT_RULES.clone()
    }
}

impl PartialEq for CompiledLeadRules {
    fn eq(&self, other: &Self) -> bool {
        self.rules() == other.rules()
    }
}

impl Serialize for CompiledLeadRules {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.rules().serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for CompiledLeadRules {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        LeadRules::deserialize(deserializer).map(Self::new)
    }
}

/// Facts about the conversation the text does not hold.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct LeadContext {
    /// Messages the sender has sent in this thread, this one included.
    pub messages_from_sender: u32,
    /// Whether the sender follows or subscribes to the account.
    pub follows: bool,
}

/// Agent 4's output: intent, confidence, lead score and tag, the signals behind them, and the
/// recommended action.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LeadScore {
    /// The sender's intent.
    pub intent: Intent,
    /// 0..1: how much evidence the intent rests on.
    pub confidence: f32,
    /// 0..100.
    pub score: u8,
    /// HOT / WARM / COLD from the thresholds.
    pub tag: LeadTag,
    /// Every rule that fired, with its points.
    pub signals: Vec<Signal>,
    /// What the team should do next.
    pub recommended_action: String,
}

/// Scores a message with `rules`.
pub fn score(
    text: &str,
    understanding: &Understanding,
    sentiment: Sentiment,
    context: &LeadContext,
    compiled: &CompiledLeadRules,
) -> LeadScore {
    let rules = compiled.rules();
    let lower = normalised(text);
    let mut signals = Vec::new();
    let mut fired = [false; Trigger::ALL.len()];
    for (trigger, hit) in Trigger::ALL.into_iter().zip(&mut fired) {
        if let Some(phrase) = compiled.first_match(trigger, &lower) {
            signals.push(Signal::new(trigger.rule(rules).points as f32, format!("{} ('{phrase}')", trigger.reason())));
            *hit = true;
        }
    }
    let [pricing, availability, demo, features, _urgency, greeting, not_interested] = fired;
    let fact = |rule: FactRule, reason: String, signals: &mut Vec<Signal>| {
        signals.push(Signal::new(rule.points as f32, reason));
    };
    let mentions_product = understanding.entities.iter().any(|e| e.kind == crate::entities::EntityKind::Product);
    let product_inquiry =
        understanding.is_question && (mentions_product || features || understanding.topic == Topic::Inquiry);
    if product_inquiry {
        let what = understanding
            .entities
            .iter()
            .find(|e| e.kind == crate::entities::EntityKind::Product)
            .map_or_else(|| "product inquiry".to_string(), |p| format!("product inquiry ('{}')", p.value));
        fact(rules.product_inquiry, what, &mut signals);
    }
    let interest = pricing || availability || demo || features || product_inquiry;
    if context.messages_from_sender >= rules.repeat_messages {
        fact(
            rules.repeat_engagement,
            format!("repeat engagement ({} messages)", context.messages_from_sender),
            &mut signals,
        );
    } else if context.messages_from_sender <= 1 && interest {
        fact(rules.first_time_interest, "first message, showing interest".into(), &mut signals);
    }
    if context.follows {
        fact(rules.follows, "follows the account".into(), &mut signals);
    }
    match sentiment {
        Sentiment::Positive => fact(rules.positive_sentiment, "positive sentiment".into(), &mut signals),
        Sentiment::Negative => fact(rules.negative_sentiment, "negative sentiment".into(), &mut signals),
        Sentiment::Neutral | Sentiment::Mixed => {}
    }
    if understanding.is_question && !interest {
        fact(rules.unrelated_question, "question unrelated to buying".into(), &mut signals);
    }
    let total: f32 = signals.iter().map(|s| s.weight).sum();
    let score = total.clamp(0.0, 100.0) as u8;
    let tag = if i32::from(score) >= rules.hot_from {
        LeadTag::Hot
    } else if i32::from(score) >= rules.warm_from {
        LeadTag::Warm
    } else {
        LeadTag::Cold
    };
    let intent = if not_interested {
        Intent::NotInterested
    } else if pricing || availability || demo {
        Intent::PurchaseEvaluation
    } else if features || product_inquiry {
        Intent::ProductInquiry
    } else if matches!(understanding.topic, Topic::Support | Topic::Complaint) {
        Intent::Support
    } else if greeting || understanding.topic == Topic::Feedback {
        Intent::Greeting
    } else {
        Intent::Other
    };
    let confidence = (0.35 + 0.15 * signals.len() as f32).min(0.95);
    let recommended_action = match (tag, intent) {
        (_, Intent::NotInterested) => "Stop outreach; thank them and close.",
        (LeadTag::Hot, _) => "Answer now and offer a call, a demo or a checkout link.",
        (LeadTag::Warm, _) => "Answer the question and share product details; follow up in a few days.",
        (LeadTag::Cold, Intent::Support) => "Resolve the issue; no sales follow-up.",
        (LeadTag::Cold, _) => "Reply politely; no follow-up needed.",
    }
    .to_string();
    LeadScore { intent, confidence, score, tag, signals, recommended_action }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::understanding::understand;

    fn lead(text: &str, products: &[&str], sentiment: Sentiment, messages: u32) -> LeadScore {
        let products: Vec<String> = products.iter().map(|s| (*s).to_string()).collect();
        let u = understand(text, &products, None, 5);
        score(
            text,
            &u,
            sentiment,
            &LeadContext { messages_from_sender: messages, follows: false },
            &CompiledLeadRules::default(),
        )
    }

    #[test]
    fn the_seeds_pro_plan_pricing_question_is_hot_with_its_explanation() {
        let l = lead("Hi, what's the price of your Pro plan?", &["Pro plan"], Sentiment::Neutral, 1);
        assert_eq!(l.tag, LeadTag::Hot);
        assert_eq!(l.intent, Intent::PurchaseEvaluation);
        let explained: Vec<String> = l.signals.iter().map(ToString::to_string).collect();
        assert_eq!(
            explained,
            [
                "+30 pricing question ('price')",
                "+10 greeting ('hi')",
                "+20 product inquiry ('Pro plan')",
                "+10 first message, showing interest",
            ]
        );
        assert_eq!(l.score, 70);
    }

    #[test]
    fn warm_cold_and_not_interested() {
        let warm = lead("Does it have an integration with Shopify?", &[], Sentiment::Neutral, 1);
        assert_eq!(warm.tag, LeadTag::Warm, "{:?}", warm.signals);
        let cold = lead("Hello!", &[], Sentiment::Neutral, 1);
        assert_eq!((cold.tag, cold.score, cold.intent), (LeadTag::Cold, 10, Intent::Greeting));
        let no = lead("No thanks, not interested.", &[], Sentiment::Negative, 1);
        assert_eq!((no.score, no.intent), (0, Intent::NotInterested));
    }

    #[test]
    fn other_languages_and_repeat_engagement() {
        let es = lead("Hola, ¿cuánto cuesta el Plan Pro? Lo necesito hoy", &["Plan Pro"], Sentiment::Neutral, 3);
        assert_eq!(es.tag, LeadTag::Hot);
        assert!(es.signals.iter().any(|s| s.reason.starts_with("repeat engagement")));
        assert!(es.signals.iter().any(|s| s.reason.starts_with("urgency language")));
    }

    #[test]
    fn rules_are_data_a_workspace_can_change() {
        let json = r#"{"pricing":{"points":50,"phrases":["tarifs"]},"hot_from":60}"#;
        let rules: LeadRules = serde_json::from_str(json).expect("partial rules parse over the defaults");
        assert_eq!(rules.pricing.points, 50);
        assert_eq!(rules.warm_from, 40);
        let u = understand("Vos tarifs ?", &[], None, 5);
        let l = score("Vos tarifs ?", &u, Sentiment::Neutral, &LeadContext::default(), &CompiledLeadRules::new(rules));
        assert_eq!(l.signals[0].to_string(), "+50 pricing question ('tarifs')");
    }
}
