//! `tidings eval` on the labelled samples kept as fixtures (sources in docs/EVALUATION.md).

use std::process::Command;

fn eval(task: &str, file: &str) -> (bool, String, String) {
    let path = format!("{}/../tidings-nlp/tests/fixtures/{file}", env!("CARGO_MANIFEST_DIR"));
    let output =
        Command::new(env!("CARGO_BIN_EXE_tidings")).args(["eval", task, &path]).output().expect("tidings runs");
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

fn accuracy(report: &str) -> f64 {
    let after = report.split("accuracy: ").nth(1).expect("the report states the accuracy");
    after.split_whitespace().next().and_then(|a| a.parse().ok()).expect("accuracy is a number")
}

#[test]
fn eval_sentiment_prints_accuracy_per_class_figures_and_the_confusion_matrix() {
    let (ok, out, err) = eval("sentiment", "sentiment_en_sample.jsonl");
    assert!(ok, "{err}");
    assert!(out.contains("samples: 200"), "{out}");
    for part in ["precision", "recall", "positive", "negative", "confusion (rows: expected, columns: predicted)"] {
        assert!(out.contains(part), "{part} missing from:\n{out}");
    }
    assert!(accuracy(&out) >= 0.70, "{out}");
}

#[test]
fn eval_language_on_short_texts_of_eleven_languages() {
    let (ok, out, err) = eval("language", "language_short_sample.jsonl");
    assert!(ok, "{err}");
    assert!(accuracy(&out) >= 0.95, "{out}");
}

#[test]
fn a_malformed_file_is_a_clear_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("bad.jsonl");
    std::fs::write(&file, "{\"text\":\"fine\",\"label\":\"neutral\"}\n{\"text\": 3}\n").expect("write");
    let output = Command::new(env!("CARGO_BIN_EXE_tidings"))
        .args(["eval", "sentiment", file.to_str().expect("utf-8 path")])
        .output()
        .expect("tidings runs");
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("line 2"));
}
