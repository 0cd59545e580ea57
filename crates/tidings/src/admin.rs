//! `tidings admin …`: the queue's depths and dead letters, and master key rotation, straight
//! from the database.

use std::sync::Arc;

use clap::Subcommand;
use tidings_core::secrets::MasterKeys;
use tidings_core::time::to_rfc3339;
use tidings_core::{Config, JobId, WorkspaceId};
use tidings_server::identity::Identity;
use tidings_server::vault::{KeyRole, Vault};
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
    /// Re-wrap every workspace's data key still wrapped by a previous master key under the
    /// current `master_key`; safe to run again. Then the previous keys can be removed.
    RotateMasterKey,
    /// Check a workspace's audit log: every entry must link to the one before and match its hash.
    VerifyAudit {
        /// The workspace (`ws_…`).
        workspace: WorkspaceId,
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
    let outcome = execute(command, &db, config).await;
    db.close().await;
    outcome
}

async fn rotate_master_key(db: &Db, config: &Config) -> anyhow::Result<()> {
    let pending = db.pending_migrations().await?;
    anyhow::ensure!(pending.is_empty(), "{} migration(s) pending: run `tidings migrate` first", pending.len());
    let keys = Arc::new(MasterKeys::resolve(config)?);
    let current = keys.current().id().to_owned();
    let vault = Vault::new(db.clone(), keys.clone());
    println!("current master key {current}; {} previous key(s) configured", keys.previous().len());
    let usage = vault.master_key_usage().await?;
    let to_rewrap: i64 = usage.iter().filter(|u| u.role != KeyRole::Current).map(|u| u.workspaces).sum();
    for u in &usage {
        let role = match u.role {
            KeyRole::Current => "current",
            KeyRole::Previous => "previous",
            KeyRole::Unknown => "NOT CONFIGURED: add it to previous_master_keys",
        };
        println!("  {} workspace data key(s) wrapped by {} ({role})", u.workspaces, u.master_key_id);
    }
    println!("re-wrapping {to_rewrap} data key(s) under {current} …");
    let report = vault.rotate_master_key().await?;
    println!(
        "{} re-wrapped, {} already current, {} failed",
        report.rewrapped,
        report.already_current,
        report.failed.len()
    );
    for failure in &report.failed {
        eprintln!("  {}: {}", failure.workspace_id, failure.reason);
    }
    anyhow::ensure!(
        report.is_complete(),
        "{} data key(s) are still wrapped by a master key that is not configured; configure it in \
         previous_master_keys and run this again",
        report.failed.len()
    );
    let identity = Identity::new(db.clone(), Queue::new(db.clone(), standard_queues()), &config.auth, &keys);
    let resealed = identity.reseal_totp_secrets().await?;
    println!("{resealed} two-factor secret(s) re-sealed under {current}");
    if keys.previous().is_empty() {
        println!("every data key is wrapped by the current master key");
    } else {
        println!(
            "every data key is wrapped by the current master key: previous_master_keys can be removed \
             (keep the old keys as long as you keep database backups taken before now)"
        );
    }
    Ok(())
}

async fn execute(command: AdminCommand, db: &Db, config: &Config) -> anyhow::Result<()> {
    let queue = Queue::new(db.clone(), standard_queues());
    match command {
        AdminCommand::RotateMasterKey => rotate_master_key(db, config).await?,
        AdminCommand::VerifyAudit { workspace } => {
            let report = tidings_server::audit::verify_chain(db, &workspace).await?;
            if report.valid {
                println!("audit log of {workspace}: {} entries, chain intact", report.entries);
            } else {
                anyhow::bail!(
                    "audit log of {workspace} is NOT intact at entry {}: {}",
                    report.broken_at_seq.unwrap_or_default(),
                    report.problem.unwrap_or_default()
                );
            }
        }
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
