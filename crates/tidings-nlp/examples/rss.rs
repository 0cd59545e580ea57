//! Resident memory of the models: prints VmRSS after each kind is loaded, so
//! docs/EVALUATION.md can state what they cost. Linux only.
//! `cargo run --release -p tidings-nlp --example rss`

use tidings_nlp::language::{self, Language};
use tidings_nlp::pipeline::{Config, Input, analyse};
use tidings_nlp::sentiment;

/// A `/proc/self/status` field in KiB.
fn status_kib(field: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

fn rss_kib() -> u64 {
    status_kib("VmRSS:")
}

fn main() {
    let texts = [
        "Where is my order? It has been two weeks.",
        "¿Cuánto cuesta el plan Pro?",
        "Le colis est arrivé cassé, je suis déçu.",
        "Wann wird meine Bestellung geliefert?",
        "Il servizio è stato ottimo, grazie!",
        "Quero cancelar minha assinatura hoje.",
        "Mijn bestelling is nog steeds niet aangekomen.",
        "Dziękuję za szybką dostawę!",
        "Jag vill avbryta min prenumeration.",
        "Siparişim nerede, hâlâ gelmedi.",
        "Где мой заказ? Уже две недели жду.",
    ];
    let mut last = rss_kib();
    println!("rss at start: {last} KiB");
    let mut stage = |name: &str| {
        let now = rss_kib();
        let (anon, file) = (status_kib("RssAnon:"), status_kib("RssFile:"));
        println!("{name}: {now} KiB (+{} KiB; anonymous {anon} KiB, file-backed {file} KiB)", now - last);
        last = now;
    };
    language::preload();
    for t in texts {
        std::hint::black_box(language::detect(t));
    }
    stage("language models, all 11 languages used");
    for l in Language::ALL {
        std::hint::black_box(sentiment::analyse("good bueno bon gut buono bom goed", l));
    }
    stage("sentiment lexicons, all languages");
    for t in texts {
        std::hint::black_box(analyse(&Input { text: t.into(), ..Input::default() }, &Config::default()));
    }
    stage("whole pipeline (stop words, regexes, YAKE)");
}
