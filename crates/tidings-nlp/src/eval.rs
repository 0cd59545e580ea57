//! Measuring the analysers on labelled data: a JSON Lines file of `{"text": …, "label": …}`
//! in, accuracy, per-class precision and recall and a confusion matrix out
//! (`tidings eval sentiment|language FILE.jsonl`).

use std::collections::BTreeSet;
use std::fmt;

use serde::Deserialize;

use crate::language;
use crate::sentiment;

/// What is evaluated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Task {
    /// Labels `positive`, `negative`, `neutral`, `mixed`; the language is identified first.
    Sentiment,
    /// Labels are ISO 639-1 codes; `unknown` when nothing is identified.
    Language,
}

/// A line that is not a labelled sample.
#[derive(Debug, thiserror::Error)]
#[error("line {line}: {message}")]
pub struct EvalError {
    /// 1-based line number.
    pub line: usize,
    /// What is wrong with it.
    pub message: String,
}

#[derive(Deserialize)]
struct Sample {
    text: String,
    label: String,
}

/// Precision and recall of one class.
#[derive(Debug, Clone, PartialEq)]
pub struct ClassStats {
    /// The label.
    pub label: String,
    /// Correct predictions of this label / all predictions of it.
    pub precision: f64,
    /// Correct predictions of this label / samples with it.
    pub recall: f64,
    /// Samples with this label.
    pub support: usize,
}

/// The result of an evaluation.
#[derive(Debug, Clone, PartialEq)]
pub struct Report {
    /// Samples read.
    pub total: usize,
    /// Samples predicted right.
    pub correct: usize,
    /// Labels seen (expected or predicted), sorted; rows and columns of `confusion`.
    pub labels: Vec<String>,
    /// `confusion[expected][predicted]` counts.
    pub confusion: Vec<Vec<usize>>,
    /// Per-class figures, in `labels` order.
    pub classes: Vec<ClassStats>,
}

impl Report {
    /// Share of samples predicted right.
    pub fn accuracy(&self) -> f64 {
        if self.total == 0 { 0.0 } else { self.correct as f64 / self.total as f64 }
    }

    /// Builds the report from (expected, predicted) pairs.
    pub fn from_pairs(pairs: &[(String, String)]) -> Report {
        let labels: Vec<String> =
            pairs.iter().flat_map(|(e, p)| [e.clone(), p.clone()]).collect::<BTreeSet<_>>().into_iter().collect();
        let index = |l: &str| labels.iter().position(|x| x == l).expect("every label is listed");
        let mut confusion = vec![vec![0; labels.len()]; labels.len()];
        for (e, p) in pairs {
            confusion[index(e)][index(p)] += 1;
        }
        let classes = labels
            .iter()
            .enumerate()
            .map(|(i, label)| {
                let hit = confusion[i][i];
                let predicted: usize = confusion.iter().map(|row| row[i]).sum();
                let support: usize = confusion[i].iter().sum();
                ClassStats {
                    label: label.clone(),
                    precision: if predicted == 0 { 0.0 } else { hit as f64 / predicted as f64 },
                    recall: if support == 0 { 0.0 } else { hit as f64 / support as f64 },
                    support,
                }
            })
            .collect();
        let correct = pairs.iter().filter(|(e, p)| e == p).count();
        Report { total: pairs.len(), correct, labels, confusion, classes }
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "samples: {}  accuracy: {:.4} ({} correct)", self.total, self.accuracy(), self.correct)?;
        writeln!(f, "\n{:<10} {:>9} {:>9} {:>8}", "class", "precision", "recall", "support")?;
        for c in &self.classes {
            writeln!(f, "{:<10} {:>9.4} {:>9.4} {:>8}", c.label, c.precision, c.recall, c.support)?;
        }
        write!(f, "\nconfusion (rows: expected, columns: predicted)\n{:<10}", "")?;
        for l in &self.labels {
            write!(f, " {:>9}", l)?;
        }
        writeln!(f)?;
        for (label, row) in self.labels.iter().zip(&self.confusion) {
            write!(f, "{label:<10}")?;
            for n in row {
                write!(f, " {n:>9}")?;
            }
            writeln!(f)?;
        }
        Ok(())
    }
}

/// The label `task` predicts for `text`.
pub fn predict(task: Task, text: &str) -> String {
    let guess = language::detect(text);
    match task {
        Task::Language => guess.language.map_or_else(|| "unknown".to_string(), |l| l.code().to_string()),
        Task::Sentiment => {
            let language = guess.language.unwrap_or(language::Language::En);
            sentiment::analyse(text, language).sentiment.as_str().to_string()
        }
    }
}

/// Evaluates `task` on the JSON Lines in `jsonl` (blank lines are skipped).
pub fn evaluate(task: Task, jsonl: &str) -> Result<Report, EvalError> {
    let mut pairs = Vec::new();
    for (i, line) in jsonl.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let sample: Sample = serde_json::from_str(line)
            .map_err(|e| EvalError { line: i + 1, message: format!("expected {{\"text\":…,\"label\":…}}: {e}") })?;
        pairs.push((sample.label.trim().to_lowercase(), predict(task, &sample.text)));
    }
    if pairs.is_empty() {
        return Err(EvalError { line: 0, message: "no samples".into() });
    }
    Ok(Report::from_pairs(&pairs))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn precision_recall_and_confusion() {
        let pairs: Vec<(String, String)> = [("pos", "pos"), ("pos", "neg"), ("neg", "neg"), ("neg", "neg")]
            .iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect();
        let r = Report::from_pairs(&pairs);
        assert_eq!(r.accuracy(), 0.75);
        assert_eq!(r.labels, ["neg", "pos"]);
        assert_eq!(r.confusion, [[2, 0], [1, 1]]);
        assert_eq!((r.classes[0].precision, r.classes[0].recall), (2.0 / 3.0, 1.0));
        assert!(r.to_string().contains("accuracy: 0.7500"));
    }

    #[test]
    fn bad_lines_name_their_number() {
        let err = evaluate(Task::Language, "{\"text\":\"hello there\",\"label\":\"en\"}\nnot json")
            .expect_err("second line is bad");
        assert_eq!(err.line, 2);
    }
}
