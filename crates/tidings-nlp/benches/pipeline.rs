//! Local pipeline throughput: agents 1–4 (`analyse`), 6 (`check_reply`, on the offline
//! composer's reply) and 7 (`decide`) on the labelled fixtures (English reviews and short texts in 11 languages), one thread, and
//! the same corpus through the Python reference (vaderSentiment + langdetect + yake) in the
//! same run, then the cost of each step alone. `cargo bench -p tidings-nlp --bench pipeline`
//! (set `TIDINGS_BENCH_ROUNDS`).

use std::process::Command;
use std::time::Instant;

use tidings_nlp::compose::{self, ComposeInput, Composed, Tone, Voice};
use tidings_nlp::language::{self, Language};
use tidings_nlp::pipeline::{Config, Input, ReplyState, analyse, check_reply, decide};
use tidings_nlp::{entities, guardrail, keywords, sentiment, understanding};

const FIXTURES: [&str; 2] = ["tests/fixtures/sentiment_en_sample.jsonl", "tests/fixtures/language_short_sample.jsonl"];

fn corpus() -> Vec<String> {
    FIXTURES
        .iter()
        .flat_map(|f| {
            let path = format!("{}/{f}", env!("CARGO_MANIFEST_DIR"));
            let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
            text.lines()
                .filter(|l| !l.trim().is_empty())
                .map(|l| {
                    let v: serde_json::Value = serde_json::from_str(l).expect("fixture line is JSON");
                    v["text"].as_str().expect("text").to_string()
                })
                .collect::<Vec<_>>()
        })
        .collect()
}

fn main() {
    let rounds: usize = std::env::var("TIDINGS_BENCH_ROUNDS").ok().and_then(|r| r.parse().ok()).unwrap_or(20);
    let texts = corpus();
    let config = Config { products: vec!["Pro plan".into(), "Starter plan".into()], ..Config::default() };
    let knowledge = vec!["The Pro plan costs $49/month. Support: help@shop.example".to_string()];
    let state = ReplyState {
        confidence: Some(0.9),
        passed: true,
        auto_reply_on: true,
        auto_send_threshold: 0.8,
        ..ReplyState::default()
    };
    tidings_nlp::language::preload();
    // Warm-up: lazy lexicons and stop words load on first use.
    for t in texts.iter().take(50) {
        let input = Input { text: t.clone(), messages_from_sender: 1, ..Input::default() };
        std::hint::black_box(analyse(&input, &config));
    }
    // Agent 6 checks what agent 5 wrote: the offline composer's reply to each text, composed
    // here, outside the timing (agent 5 is not part of the local pipeline measured).
    let replies: Vec<Composed> = texts.iter().map(|t| composed_reply(t, &config)).collect();
    let mut latencies = Vec::with_capacity(rounds * texts.len());
    let start = Instant::now();
    let cpu_start = thread_cpu_seconds();
    for _ in 0..rounds {
        for (t, reply) in texts.iter().zip(&replies) {
            let t0 = Instant::now();
            let input = Input { text: t.clone(), messages_from_sender: 1, ..Input::default() };
            let analysis = analyse(&input, &config);
            let check = check_reply(&reply.text, reply.language, &input, &analysis, &knowledge, 500);
            let decision = decide(&input, &analysis, &ReplyState { passed: check.passed, ..state });
            std::hint::black_box((analysis, decision));
            latencies.push(t0.elapsed());
        }
    }
    let elapsed = start.elapsed();
    let cpu = thread_cpu_seconds() - cpu_start;
    latencies.sort();
    let rust_rate = latencies.len() as f64 / elapsed.as_secs_f64();
    let rust_cpu_rate = latencies.len() as f64 / cpu;
    let p99 = latencies[latencies.len() * 99 / 100];
    println!("corpus: {} texts x {rounds} rounds", texts.len());
    println!(
        "tidings-nlp (agents 1-4, 6, 7), 1 thread: {rust_rate:.0} items/s, {rust_cpu_rate:.0} items per CPU-second, p50 {:?}, p99 {p99:?}",
        latencies[latencies.len() / 2]
    );

    let script = format!("{}/benches/reference.py", env!("CARGO_MANIFEST_DIR"));
    let files: Vec<String> = FIXTURES.iter().map(|f| format!("{}/{f}", env!("CARGO_MANIFEST_DIR"))).collect();
    let python_rounds = (rounds / 10).max(1).to_string();
    match Command::new("python3").arg(&script).arg(&python_rounds).args(&files).output() {
        Ok(out) if out.status.success() => {
            let line = String::from_utf8_lossy(&out.stdout);
            let mut parts = line.split_whitespace();
            let rate: f64 = parts.next().and_then(|r| r.parse().ok()).unwrap_or(f64::NAN);
            let p99_ms = parts.next().unwrap_or("?");
            let cpu_rate: f64 = parts.next().and_then(|r| r.parse().ok()).unwrap_or(f64::NAN);
            println!(
                "python reference (vaderSentiment + langdetect + yake), 1 thread: {rate:.0} items/s, {cpu_rate:.0} items per CPU-second, p99 {p99_ms} ms"
            );
            println!("ratio: {:.0}x (wall time), {:.0}x (CPU time)", rust_rate / rate, rust_cpu_rate / cpu_rate);
        }
        Ok(out) => println!("python reference failed: {}", String::from_utf8_lossy(&out.stderr).trim()),
        Err(e) => println!("python reference not run: {e}"),
    }
    steps(&texts, rounds);
}

/// The offline composer's professional reply to `text`, as agent 5 writes it with no model and
/// no knowledge passage retrieved.
fn composed_reply(text: &str, config: &Config) -> Composed {
    let input = Input { text: text.to_string(), messages_from_sender: 1, ..Input::default() };
    let analysis = analyse(&input, config);
    let u = &analysis.understanding;
    let voice = Voice { business_name: Some("Harbour & Vine".into()), emoji_allowed: false, max_chars: 500 };
    let compose_input = ComposeInput {
        language: u.language.language.unwrap_or(Language::En),
        topic: u.topic,
        sentiment: analysis.sentiment.sentiment,
        is_question: u.is_question,
        is_review: false,
        small_talk: compose::small_talk(text),
        customer_name: None,
        order_number: None,
        knowledge: &[],
        templates: &[],
        voice: &voice,
    };
    compose::compose(&compose_input, &[Tone::Professional]).remove(0)
}

/// CPU time this thread has run, from the scheduler's own count (`/proc/thread-self/schedstat`,
/// nanoseconds): on a machine shared with other builds, wall time also counts the time the
/// thread waited for a core, CPU time does not.
fn thread_cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/thread-self/schedstat").unwrap_or_default();
    stat.split_whitespace().next().and_then(|ns| ns.parse::<f64>().ok()).map_or(f64::NAN, |ns| ns / 1e9)
}

/// Mean µs per text of each step alone, over `rounds` rounds of the corpus (the language each
/// text was identified in given to the steps that need one).
fn steps(texts: &[String], rounds: usize) {
    let languages: Vec<Language> = texts.iter().map(|t| language::detect(t).language.unwrap_or(Language::En)).collect();
    let time = |name: &str, step: &dyn Fn(&str, Language)| {
        let start = thread_cpu_seconds();
        for _ in 0..rounds {
            for (text, language) in texts.iter().zip(&languages) {
                step(text, *language);
            }
        }
        let micros = (thread_cpu_seconds() - start) * 1e6 / (rounds * texts.len()) as f64;
        println!("  {name}: {micros:.1} µs of CPU per text");
    };
    println!("steps alone:");
    time("language identification", &|t, _| {
        std::hint::black_box(language::detect(t));
    });
    time("key phrases (YAKE)", &|t, l| {
        std::hint::black_box(keywords::extract(t, l, 5));
    });
    time("sentiment, urgency, emotions", &|t, l| {
        std::hint::black_box(sentiment::analyse(t, l));
    });
    time("input guardrail", &|t, _| {
        std::hint::black_box(guardrail::check_input(t, &[]));
    });
    time("entities", &|t, _| {
        std::hint::black_box(entities::extract(t, &[]));
    });
    time("topic", &|t, _| {
        std::hint::black_box(understanding::topic(t));
    });
}
