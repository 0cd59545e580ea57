//! The offline composer: reply drafts built from templates, the analysis, the brand voice and the
//! retrieved knowledge, with no model and no network (replyforce §3.2 agent 5's fallback).
//!
//! It is used when no model is configured, when the model's circuit breaker is open, when the
//! budget is spent, when the model's answer is unusable, and for greetings and thanks (the seed's
//! short-circuit, §7.2). Every draft names the template it came from, so the API and the
//! dashboard can say it is a template. The same input always gives the same drafts.

mod phrases;

use serde::{Deserialize, Serialize};

use crate::language::Language;
use crate::sentiment::Sentiment;
use crate::understanding::Topic;
use phrases::{FILLER_WORDS, GREETING_WORDS, Phrases, THANKS_WORDS};

/// How a reply sounds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Tone {
    /// Formal and precise.
    Professional,
    /// Warm and personal.
    Friendly,
    /// Acknowledges feelings first.
    Empathetic,
    /// Short and relaxed.
    Casual,
}

impl Tone {
    /// Every tone, in the order drafts are offered.
    pub const ALL: [Tone; 4] = [Tone::Professional, Tone::Friendly, Tone::Empathetic, Tone::Casual];

    /// The stored and shown name.
    pub fn as_str(self) -> &'static str {
        match self {
            Tone::Professional => "professional",
            Tone::Friendly => "friendly",
            Tone::Empathetic => "empathetic",
            Tone::Casual => "casual",
        }
    }

    /// Parses a stored or submitted name.
    pub fn parse(value: &str) -> Option<Tone> {
        Tone::ALL.into_iter().find(|t| t.as_str() == value.trim().to_ascii_lowercase())
    }
}

/// A message that needs no model: a greeting or thanks alone (§7.2 short-circuit).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SmallTalk {
    /// "Hi", "Buenos días".
    Greeting,
    /// "Thanks a lot!", "Merci beaucoup".
    Thanks,
}

/// Whether `text` is only a greeting or thanks (at most eight words, nothing asked).
pub fn small_talk(text: &str) -> Option<SmallTalk> {
    let lower = text.to_lowercase();
    let words: Vec<&str> = lower.split(|c: char| !c.is_alphanumeric()).filter(|w| !w.is_empty()).collect();
    if words.is_empty() || words.len() > 8 || text.contains('?') {
        return None;
    }
    let known = |w: &&str| GREETING_WORDS.contains(w) || THANKS_WORDS.contains(w) || FILLER_WORDS.contains(w);
    if !words.iter().all(known) {
        return None;
    }
    if words.iter().any(|w| THANKS_WORDS.contains(w)) {
        Some(SmallTalk::Thanks)
    } else if words.iter().any(|w| GREETING_WORDS.contains(w)) {
        Some(SmallTalk::Greeting)
    } else {
        None
    }
}

/// The brand voice a reply follows.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Voice {
    /// The business's name, used in sign-offs.
    pub business_name: Option<String>,
    /// Whether replies may carry an emoji.
    pub emoji_allowed: bool,
    /// Longest reply, in characters.
    pub max_chars: usize,
}

/// A reply template a workspace wrote. Placeholders: `{{name}}` (the customer's first name),
/// `{{business}}`, `{{answer}}` (the best knowledge passage), `{{order}}` (an order number).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Template {
    /// Its name, reported with the drafts it produced.
    pub name: String,
    /// The tone it is written in; `None` fits any.
    pub tone: Option<Tone>,
    /// The topic it answers; `None` fits any.
    pub topic: Option<Topic>,
    /// Its language; `None` fits any.
    pub language: Option<Language>,
    /// The text with placeholders.
    pub body: String,
}

/// What a draft is built from.
#[derive(Debug, Clone)]
pub struct ComposeInput<'a> {
    /// The customer's language.
    pub language: Language,
    /// The message's topic.
    pub topic: Topic,
    /// Its sentiment (the star-rating prior applied for reviews).
    pub sentiment: Sentiment,
    /// Whether it asks something.
    pub is_question: bool,
    /// A review (thanked for the review) rather than a message.
    pub is_review: bool,
    /// A greeting or thanks alone.
    pub small_talk: Option<SmallTalk>,
    /// The customer's name as the platform shows it.
    pub customer_name: Option<&'a str>,
    /// An order number the customer gave.
    pub order_number: Option<&'a str>,
    /// Knowledge passages that answer the message, best first (already retrieved).
    pub knowledge: &'a [String],
    /// The workspace's own templates.
    pub templates: &'a [Template],
    /// The brand voice.
    pub voice: &'a Voice,
}

/// One draft.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Composed {
    /// Its tone.
    pub tone: Tone,
    /// The reply.
    pub text: String,
    /// How sure the composer is that this answers the message, 0–1.
    pub confidence: f32,
    /// The template it came from: `builtin:<tone>` or `workspace:<name>`.
    pub template: String,
    /// Whether it quotes the knowledge base.
    pub uses_knowledge: bool,
    /// The language its words are in, when the composer knows: its own sentences in the
    /// customer's language, quoting no passage. `None` for a workspace template, a quoted passage
    /// (a Spanish reply may quote an English FAQ) or a language the composer has no sentences in;
    /// the output guardrail identifies those.
    pub language: Option<Language>,
}

/// One draft per tone, in the order of `tones`.
pub fn compose(input: &ComposeInput<'_>, tones: &[Tone]) -> Vec<Composed> {
    let (phrases, native) = phrases::for_language(input.language);
    tones
        .iter()
        .map(|&tone| {
            let answer = answer_from(input.knowledge);
            let own = input.templates.iter().find(|t| {
                t.tone.is_none_or(|x| x == tone)
                    && t.topic.is_none_or(|x| x == input.topic)
                    && t.language.is_none_or(|x| x == input.language)
            });
            let (text, template) = match own {
                Some(own) => (render(&own.body, input, answer.as_deref()), format!("workspace:{}", own.name)),
                None => (builtin(input, tone, phrases, answer.as_deref()), format!("builtin:{}", tone.as_str())),
            };
            let text = fit(&text, input.voice.max_chars);
            let mut confidence = confidence(input, tone, answer.is_some());
            if !native {
                confidence -= 0.2;
            }
            let own_words = own.is_none() && native && answer.is_none();
            Composed {
                tone,
                text,
                confidence: (confidence.clamp(0.05, 0.95) * 100.0).round() / 100.0,
                template,
                uses_knowledge: answer.is_some(),
                language: own_words.then_some(input.language),
            }
        })
        .collect()
}

/// How sure a template can be: it answers small talk and praise well, a question only when the
/// knowledge base holds the answer, a complaint only as a holding reply.
fn confidence(input: &ComposeInput<'_>, tone: Tone, has_answer: bool) -> f32 {
    let base = if input.small_talk.is_some() {
        0.9
    } else if input.is_question || matches!(input.topic, Topic::Pricing | Topic::Inquiry | Topic::Support) {
        if has_answer { 0.72 } else { 0.35 }
    } else if input.sentiment == Sentiment::Negative || input.topic == Topic::Complaint {
        0.5
    } else if input.sentiment == Sentiment::Positive {
        0.85
    } else {
        0.6
    };
    let negative = input.sentiment == Sentiment::Negative || input.topic == Topic::Complaint;
    base + match (tone, negative) {
        (Tone::Empathetic, true) => 0.05,
        (Tone::Casual, true) => -0.1,
        (Tone::Empathetic, false) if input.sentiment == Sentiment::Positive => -0.05,
        _ => 0.0,
    }
}

/// The part of the best passage worth quoting: without Markdown headings or an FAQ's question,
/// at most two sentences.
fn answer_from(knowledge: &[String]) -> Option<String> {
    let passage = knowledge.first()?;
    let body: Vec<&str> = passage
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|l| l.trim_start_matches(['-', '*', ' ']))
        .collect();
    let text = body.join(" ");
    let mut out = String::new();
    for sentence in text.split_inclusive(['.', '!']).map(str::trim).filter(|s| !s.is_empty()).take(2) {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(sentence);
    }
    (!out.trim().is_empty()).then(|| out.trim().to_owned())
}

fn first_name(name: Option<&str>) -> Option<&str> {
    name.and_then(|n| n.split_whitespace().next()).filter(|n| n.chars().any(char::is_alphabetic))
}

fn render(body: &str, input: &ComposeInput<'_>, answer: Option<&str>) -> String {
    body.replace("{{name}}", first_name(input.customer_name).unwrap_or(""))
        .replace("{{business}}", input.voice.business_name.as_deref().unwrap_or(""))
        .replace("{{answer}}", answer.unwrap_or(""))
        .replace("{{order}}", input.order_number.unwrap_or(""))
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .replace(" ,", ",")
        .replace(" .", ".")
}

fn builtin(input: &ComposeInput<'_>, tone: Tone, p: &Phrases, answer: Option<&str>) -> String {
    let name = first_name(input.customer_name);
    let greeting = match (tone, name) {
        (Tone::Casual | Tone::Friendly, Some(n)) => format!("{} {n}!", p.hey),
        (Tone::Casual | Tone::Friendly, None) => format!("{}!", p.hey),
        (_, Some(n)) => format!("{} {n},", p.hello),
        (_, None) => format!("{},", p.hello),
    };
    let negative = input.sentiment == Sentiment::Negative || input.topic == Topic::Complaint;
    let mut body: Vec<String> = Vec::new();
    match input.small_talk {
        Some(SmallTalk::Thanks) => body.push(p.thanks_reply.into()),
        Some(SmallTalk::Greeting) => body.push(p.greeting_reply.into()),
        None => {
            if tone == Tone::Empathetic && negative {
                body.push(p.sorry_warm.into());
            } else {
                body.push(if input.is_review { p.thanks_review } else { p.thanks_message }.into());
                if negative {
                    body.push(p.sorry.into());
                } else if input.sentiment == Sentiment::Positive && !input.is_question {
                    body.push(p.glad.into());
                }
            }
            if let Some(order) = input.order_number {
                body.push(p.order.replace("{order}", order));
            }
            match answer {
                Some(answer) if tone == Tone::Casual => body.push(answer.into()),
                Some(answer) => body.push(format!("{} {answer}", p.answer)),
                None if input.is_question || negative => body.push(p.follow_up.into()),
                None => {}
            }
            if negative && input.is_review {
                body.push(p.make_right.into());
            } else if input.is_review {
                body.push(p.welcome_back.into());
            } else if tone != Tone::Casual {
                body.push(p.help_more.into());
            }
        }
    }
    let mut text = format!("{greeting} {}", body.join(" "));
    if input.voice.emoji_allowed && matches!(tone, Tone::Friendly | Tone::Casual) && !negative {
        text.push_str(" 😊");
    }
    if tone == Tone::Professional {
        let signer = input.voice.business_name.as_deref().unwrap_or(p.team);
        text.push_str(&format!("\n\n{},\n{signer}", p.regards));
    }
    text
}

/// Cuts `text` to `max_chars` at the last sentence end that fits (at a word otherwise).
pub fn fit(text: &str, max_chars: usize) -> String {
    if max_chars == 0 || text.chars().count() <= max_chars {
        return text.to_owned();
    }
    let cut: String = text.chars().take(max_chars).collect();
    if let Some(end) = cut.rfind(['.', '!', '?']).filter(|&end| end > max_chars / 3) {
        return cut[..=end].trim_end().to_owned();
    }
    match cut.rfind(char::is_whitespace) {
        Some(space) if space > 0 => cut[..space].trim_end().to_owned(),
        _ => cut,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn voice() -> Voice {
        Voice { business_name: Some("Harbour & Vine".into()), emoji_allowed: false, max_chars: 600 }
    }

    fn input<'a>(voice: &'a Voice, knowledge: &'a [String]) -> ComposeInput<'a> {
        ComposeInput {
            language: Language::En,
            topic: Topic::Pricing,
            sentiment: Sentiment::Neutral,
            is_question: true,
            is_review: false,
            small_talk: None,
            customer_name: Some("Maria Lopez"),
            order_number: None,
            knowledge,
            templates: &[],
            voice,
        }
    }

    #[test]
    fn a_pricing_question_is_answered_from_the_knowledge_base_in_every_tone() {
        let voice = voice();
        let knowledge =
            ["## Pro plan\nThe Pro plan costs $49 per month. It includes 5 seats. Extra seats are $9.".into()];
        let drafts = compose(&input(&voice, &knowledge), &Tone::ALL);
        assert_eq!(drafts.len(), 4);
        for draft in &drafts {
            assert!(draft.text.contains("The Pro plan costs $49 per month. It includes 5 seats."), "{draft:?}");
            assert!(!draft.text.contains("Extra seats"), "two sentences at most");
            assert!(draft.uses_knowledge);
            assert_eq!(draft.language, None, "a quoted passage may be in another language");
            assert!(draft.confidence >= 0.6, "{draft:?}");
            assert!(draft.template.starts_with("builtin:"));
        }
        assert!(drafts[0].text.starts_with("Hello Maria,"));
        assert!(drafts[0].text.ends_with("Kind regards,\nHarbour & Vine"));
        assert!(drafts[1].text.starts_with("Hi Maria!"));
        assert_eq!(compose(&input(&voice, &knowledge), &Tone::ALL), drafts, "deterministic");
    }

    #[test]
    fn a_question_without_an_answer_promises_a_person_with_low_confidence() {
        let voice = voice();
        let drafts = compose(&input(&voice, &[]), &[Tone::Professional]);
        assert!(drafts[0].text.contains("A member of our team will get back to you"));
        assert!(drafts[0].confidence < 0.4, "under the handoff floor: {drafts:?}");
    }

    #[test]
    fn a_negative_spanish_review_gets_an_apology_in_spanish() {
        let voice = voice();
        let mut i = input(&voice, &[]);
        i.language = Language::Es;
        i.topic = Topic::Complaint;
        i.sentiment = Sentiment::Negative;
        i.is_question = false;
        i.is_review = true;
        i.order_number = Some("A-1234");
        let drafts = compose(&i, &[Tone::Empathetic, Tone::Casual]);
        assert!(drafts[0].text.contains("Sentimos de verdad"), "{}", drafts[0].text);
        assert!(drafts[0].text.contains("pedido A-1234"));
        assert!(drafts[0].text.contains("mensaje privado"));
        assert!(drafts[0].confidence > drafts[1].confidence, "empathy fits a complaint better");
        let language = crate::language::detect(&drafts[0].text).language;
        assert_eq!(language, Some(Language::Es));
        assert_eq!(drafts[0].language, Some(Language::Es), "its own Spanish sentences: no need to identify them");
    }

    #[test]
    fn emoji_only_when_the_voice_allows_and_never_on_complaints() {
        let mut voice = voice();
        voice.emoji_allowed = true;
        let mut i = input(&voice, &[]);
        i.small_talk = Some(SmallTalk::Thanks);
        i.sentiment = Sentiment::Positive;
        let drafts = compose(&i, &[Tone::Friendly, Tone::Professional]);
        assert!(drafts[0].text.ends_with('😊'));
        assert!(!drafts[1].text.contains('😊'));
        assert!(drafts[0].text.contains("You are welcome"));
        i.sentiment = Sentiment::Negative;
        assert!(!compose(&i, &[Tone::Friendly])[0].text.contains('😊'));
    }

    #[test]
    fn workspace_templates_win_and_fill_their_placeholders() {
        let voice = voice();
        let knowledge = ["The Pro plan costs $49 per month.".into()];
        let templates = [Template {
            name: "pricing".into(),
            tone: Some(Tone::Friendly),
            topic: Some(Topic::Pricing),
            language: None,
            body: "Hey {{name}}, good question! {{answer}} Cheers, {{business}}".into(),
        }];
        let mut i = input(&voice, &knowledge);
        i.templates = &templates;
        let drafts = compose(&i, &[Tone::Friendly, Tone::Professional]);
        assert_eq!(
            drafts[0].text,
            "Hey Maria, good question! The Pro plan costs $49 per month. Cheers, Harbour & Vine"
        );
        assert_eq!(drafts[0].template, "workspace:pricing");
        assert_eq!(drafts[1].template, "builtin:professional", "the template is for the friendly tone only");
    }

    #[test]
    fn replies_fit_the_maximum_length_at_a_sentence_end() {
        let text = "First sentence is here. Second sentence is a little longer. Third.";
        assert_eq!(fit(text, 40), "First sentence is here.");
        assert_eq!(fit("no sentence ends in this long text at all", 20), "no sentence ends in");
        assert_eq!(fit(text, 0), text);
        let mut voice = voice();
        voice.max_chars = 80;
        let knowledge = ["The Pro plan costs $49 per month.".into()];
        for draft in compose(&input(&voice, &knowledge), &Tone::ALL) {
            assert!(draft.text.chars().count() <= 80, "{draft:?}");
        }
    }

    #[test]
    fn greetings_and_thanks_are_recognised_in_several_languages() {
        for text in
            ["Hi!", "hello there 👋", "Buenos días", "Bonjour", "Guten Morgen", "Thanks a lot!", "thank you so much"]
        {
            assert!(small_talk(text).is_some(), "{text}");
        }
        assert_eq!(small_talk("Merci beaucoup !"), Some(SmallTalk::Thanks));
        assert_eq!(small_talk("Muchas gracias"), Some(SmallTalk::Thanks));
        assert_eq!(small_talk("Hola"), Some(SmallTalk::Greeting));
        for text in ["Hi, what does the Pro plan cost?", "Thanks, but my order never arrived", "hello?", "", "great"] {
            assert_eq!(small_talk(text), None, "{text}");
        }
    }

    #[test]
    fn tones_parse_by_name() {
        assert_eq!(Tone::parse(" Friendly "), Some(Tone::Friendly));
        assert_eq!(Tone::parse("rude"), None);
    }
}
