//! Resident memory of the language models: prints VmRSS before and after loading them (and
//! after the lexicons), so docs/EVALUATION.md can state what they cost. Linux only.
//! `cargo run --release -p tidings-nlp --example rss`

fn rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

fn main() {
    let before = rss_kib();
    tidings_nlp::language::preload();
    let models = rss_kib();
    let input = tidings_nlp::pipeline::Input {
        text: "Hola, ¿cuánto cuesta el plan Pro? Me encanta.".into(),
        ..Default::default()
    };
    for language in tidings_nlp::language::Language::ALL {
        std::hint::black_box(tidings_nlp::sentiment::analyse("good bueno bon gut buono bom goed", language));
    }
    std::hint::black_box(tidings_nlp::pipeline::analyse(&input, &Default::default()));
    let all = rss_kib();
    println!("rss at start: {before} KiB");
    println!("after language models: {models} KiB (+{} KiB)", models - before);
    println!("after lexicons, stop words, regexes: {all} KiB (+{} KiB)", all - models);
}
