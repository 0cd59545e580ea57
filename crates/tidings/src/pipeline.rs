//! `tidings pipeline replay`: analyses stored reviews and messages again (after lead rules
//! changed, or a new version of Tidings), with a progress bar, and reports what changed.

use std::time::Duration;

use clap::Subcommand;
use indicatif::{ProgressBar, ProgressStyle};
use tidings_core::{Config, WorkspaceId};
use tidings_server::app::prepare;
use tidings_server::pipeline::replay::{parse_since, replay};
use tidings_server::pipeline::{Pipeline, Report};

#[derive(Subcommand)]
pub enum PipelineCommand {
    /// Re-analyse the inbound items sent since a date and report what changed. Nothing is
    /// handed off or announced again; lead tags set by hand stay.
    Replay {
        /// The first day (`2026-11-01`, UTC) or time (RFC 3339) to re-analyse.
        #[arg(long, value_parser = parse_since)]
        since: i64,
        /// Only this workspace (`ws_…`); all of them when left out.
        #[arg(long)]
        workspace: Option<String>,
    },
}

pub async fn run(command: PipelineCommand, config: Config) -> anyhow::Result<()> {
    let PipelineCommand::Replay { since, workspace } = command;
    let workspace =
        workspace.map(|w| WorkspaceId::parse(&w)).transpose().map_err(|e| anyhow::anyhow!("--workspace: {e}"))?;
    let state = prepare(config).await?;
    let bar = ProgressBar::new(0);
    let style =
        ProgressStyle::with_template("  {spinner} re-analysing [{bar:30}] {pos}/{len} items, {per_sec}, {eta} left")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> ");
    bar.set_style(style);
    bar.enable_steady_tick(Duration::from_millis(120));
    let outcome = replay(&Pipeline::of(&state), workspace.as_ref(), since, |done, total| {
        bar.set_length(total);
        bar.set_position(done);
    })
    .await;
    bar.finish_and_clear();
    state.db.close().await;
    print(&outcome?);
    Ok(())
}

fn print(report: &Report) {
    println!("  {} item(s) re-analysed ({} step fallback(s) flagged).", report.analysed, report.flagged);
    println!("  Sentiment changed on {} item(s).", report.sentiment_changed);
    for (change, count) in &report.sentiment_transitions {
        println!("    {change:<22} {count}");
    }
    println!("  Lead tag changed on {} message(s).", report.lead_tag_changed);
    for (change, count) in &report.lead_tag_transitions {
        println!("    {change:<22} {count}");
    }
}
