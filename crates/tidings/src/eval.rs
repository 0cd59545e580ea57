//! `tidings eval sentiment|language FILE.jsonl`: measures the local analysers on a labelled
//! file and prints accuracy, per-class precision and recall, and the confusion matrix.

use std::path::Path;

use anyhow::Context;
use clap::ValueEnum;
use tidings_nlp::eval::{Task, evaluate};

/// What `tidings eval` measures.
#[derive(Clone, Copy, ValueEnum)]
pub enum EvalTask {
    /// Sentiment labels: positive, negative, neutral, mixed.
    Sentiment,
    /// ISO 639-1 language codes.
    Language,
}

pub fn run(task: EvalTask, file: &Path) -> anyhow::Result<()> {
    let jsonl = std::fs::read_to_string(file).with_context(|| format!("reading {}", file.display()))?;
    let task = match task {
        EvalTask::Sentiment => Task::Sentiment,
        EvalTask::Language => Task::Language,
    };
    let report = evaluate(task, &jsonl).with_context(|| format!("in {}", file.display()))?;
    print!("{report}");
    Ok(())
}
