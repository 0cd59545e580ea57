//! `tidings admin …`: the queue's depths and dead letters, straight from the database.

use clap::Subcommand;
use tidings_core::time::to_rfc3339;
use tidings_core::{Config, JobId};
use tidings_store::Db;
use tidings_store::queue::{JobState, Queue, standard_queues};

#[derive(Subcommand)]
pub enum AdminCommand {
    /// Show the depth of every queue.
    Queues,
    /// List, inspect, retry or discard dead letters.
    DeadLetters {
        #[command(subcommand)]
        command: DeadLetterCommand,
    },
}

#[derive(Subcommand)]
pub enum DeadLetterCommand {
    /// List dead letters, newest first.
    List {
        /// Only this queue.
        #[arg(long)]
        queue: Option<String>,
        /// How many to show.
        #[arg(long, default_value_t = 50)]
        limit: i64,
    },
    /// Show one dead letter with its payload and last error.
    Show { id: JobId },
    /// Put one dead letter (or all, with --all) back on its queue.
    Retry {
        /// The dead letter.
        #[arg(required_unless_present = "all")]
        id: Option<JobId>,
        /// Every dead letter (of --queue, when given).
        #[arg(long, conflicts_with = "id")]
        all: bool,
        /// With --all: only this queue.
        #[arg(long, requires = "all")]
        queue: Option<String>,
    },
    /// Delete a dead letter.
    Discard { id: JobId },
}

pub async fn run(command: AdminCommand, config: &Config) -> anyhow::Result<()> {
    let db = Db::connect(&config.database_url(), &config.database).await?;
    let queue = Queue::new(db.clone(), standard_queues());
    let outcome = execute(command, &queue).await;
    db.close().await;
    outcome
}

async fn execute(command: AdminCommand, queue: &Queue) -> anyhow::Result<()> {
    match command {
        AdminCommand::Queues => {
            println!(
                "{:<12} {:>8} {:>10} {:>8} {:>6} {:>14}",
                "QUEUE", "READY", "SCHEDULED", "RUNNING", "DEAD", "OLDEST READY"
            );
            for q in queue.stats().await? {
                println!(
                    "{:<12} {:>8} {:>10} {:>8} {:>6} {:>12.1} s",
                    q.queue, q.ready, q.scheduled, q.running, q.dead, q.oldest_ready_age_secs
                );
            }
        }
        AdminCommand::DeadLetters { command: DeadLetterCommand::List { queue: name, limit } } => {
            let page = queue.dead_letters(name.as_deref(), limit, 0).await?;
            println!(
                "{} dead letter(s){}",
                page.total,
                if page.total > limit { format!(", newest {limit} shown") } else { String::new() }
            );
            for job in page.jobs {
                println!(
                    "{}  {:<11} {:<32} attempts {:>2}  died {}  {}",
                    job.id,
                    job.queue,
                    job.kind,
                    job.attempts,
                    job.dead_at.map(to_rfc3339).unwrap_or_default(),
                    job.last_error.unwrap_or_default()
                );
            }
        }
        AdminCommand::DeadLetters { command: DeadLetterCommand::Show { id } } => {
            let job = queue.job(&id).await?.filter(|job| job.state == JobState::Dead);
            let job = job.ok_or_else(|| anyhow::anyhow!("{id} is not a dead letter"))?;
            println!("{}", serde_json::to_string_pretty(&job)?);
        }
        AdminCommand::DeadLetters { command: DeadLetterCommand::Retry { id: Some(id), .. } } => {
            anyhow::ensure!(queue.retry_dead(&id).await?, "{id} is not a dead letter");
            println!("{id} is queued again");
        }
        AdminCommand::DeadLetters { command: DeadLetterCommand::Retry { id: None, queue: name, .. } } => {
            let retried = queue.retry_all_dead(name.as_deref()).await?;
            println!("{retried} dead letter(s) queued again");
        }
        AdminCommand::DeadLetters { command: DeadLetterCommand::Discard { id } } => {
            anyhow::ensure!(queue.discard_dead(&id).await?, "{id} is not a dead letter");
            println!("{id} discarded");
        }
    }
    Ok(())
}
