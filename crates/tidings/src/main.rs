//! `tidings`: one binary for the API, the dashboard, the workers and the operator's tools.

mod admin;
mod demo;
mod eval;
mod pipeline;

use std::path::PathBuf;

use anyhow::Context;
use clap::{Parser, Subcommand};
use tidings_core::Config;
use tidings_core::config::LogFormat;
use tidings_server::app::{prepare, run_workers};
use tidings_server::{Application, telemetry};
use tidings_store::Db;
use tokio_util::sync::CancellationToken;

/// Tidings: every review, social message, CRM event and survey answer, in one place.
#[derive(Parser)]
#[command(name = "tidings", version, about, long_about = None)]
struct Cli {
    /// Configuration file (default: ./tidings.toml when present).
    #[arg(long, global = true, env = "TIDINGS_CONFIG")]
    config: Option<PathBuf>,
    /// Log format, overriding configuration: `human` or `json`.
    #[arg(long, global = true, value_parser = ["human", "json"])]
    log_format: Option<String>,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Run the API, the dashboard and the workers (the default).
    Serve {
        /// Do not apply pending migrations at start (then start fails while any are pending).
        #[arg(long)]
        no_migrate: bool,
    },
    /// Run the workers only; start as many as you like against one PostgreSQL.
    Worker {
        /// Do not apply pending migrations at start.
        #[arg(long)]
        no_migrate: bool,
    },
    /// Apply pending database migrations and exit.
    Migrate,
    /// Create the demo workspace ("Harbour & Vine (demo)") with sample reviews and messages, and
    /// print how to sign in; does nothing when it exists.
    Demo {
        /// Give the demo owner a new password and print it.
        #[arg(long)]
        reset_password: bool,
    },
    /// Inspect the configuration.
    Config {
        #[command(subcommand)]
        command: ConfigCommand,
    },
    /// Operator tools: queues, dead letters and master key rotation.
    Admin {
        #[command(subcommand)]
        command: admin::AdminCommand,
    },
    /// The AI pipeline: re-analyse stored items.
    Pipeline {
        #[command(subcommand)]
        command: pipeline::PipelineCommand,
    },
    /// Measure the local analysers on a labelled JSON Lines file (`{"text":…,"label":…}` per line).
    Eval {
        /// What to measure.
        #[arg(value_enum)]
        task: eval::EvalTask,
        /// The labelled file.
        file: PathBuf,
    },
    /// Print the version.
    Version,
}

#[derive(Subcommand)]
enum ConfigCommand {
    /// Print the effective configuration, secrets redacted.
    Show,
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    if let Some(Command::Version) = cli.command {
        println!("tidings {}", env!("CARGO_PKG_VERSION"));
        return Ok(());
    }
    if let Some(Command::Eval { task, file }) = &cli.command {
        return eval::run(*task, file);
    }
    let mut config = Config::load(cli.config.as_deref())?;
    if let Some(format) = cli.log_format.as_deref() {
        config.log_format = if format == "json" { LogFormat::Json } else { LogFormat::Human };
    }
    telemetry::init_logging(config.log_format, &config.log_level);
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().context("starting the runtime")?;
    runtime.block_on(run(cli.command.unwrap_or(Command::Serve { no_migrate: false }), config))
}

async fn run(command: Command, mut config: Config) -> anyhow::Result<()> {
    match command {
        Command::Serve { no_migrate } => {
            config.migrate_on_start &= !no_migrate;
            let app = Application::build(config).await?;
            let addr = app.local_addr();
            let engine = app.state().db.engine();
            let state = app.state();
            if state.config.demo.seed_on_empty
                && let Err(error) =
                    demo::seed_on_first_start(&state.db, &state.config, &state.events, &format!("http://{addr}")).await
            {
                tracing::warn!(%error, "the demo workspace could not be created; serving without it");
            }
            println!();
            println!("  Tidings {} is running on {engine}", env!("CARGO_PKG_VERSION"));
            println!("  Dashboard:     http://{addr}/");
            println!("  API reference: http://{addr}/docs/");
            println!("  Press Ctrl-C to stop.");
            println!();
            app.run(shutdown_on_signal()).await?;
        }
        Command::Worker { no_migrate } => {
            config.migrate_on_start &= !no_migrate;
            let state = prepare(config).await?;
            tracing::info!(engine = %state.db.engine(), "worker running; Ctrl-C to stop");
            run_workers(state.clone(), shutdown_on_signal()).await;
            state.db.close().await;
        }
        Command::Migrate => {
            let db = Db::connect(&config.database_url(), &config.database).await?;
            let applied = db.migrate().await?;
            let known = db.known_migrations();
            for (version, description) in &known {
                let mark = if applied.contains(version) { "applied now" } else { "already applied" };
                println!("{version:>4}  {description:<40} {mark}");
            }
            println!("{} migration(s) applied, {} in all, on {}", applied.len(), known.len(), db.engine());
            db.close().await;
        }
        Command::Demo { reset_password } => {
            let public_url = config.public_url();
            let state = prepare(config).await?;
            let outcome = demo::run(&state.db, &state.config, &state.events, &public_url, reset_password).await;
            state.db.close().await;
            outcome?;
        }
        Command::Config { command: ConfigCommand::Show } => print!("{}", config.to_redacted_toml()),
        Command::Admin { command } => admin::run(command, &config).await?,
        Command::Pipeline { command } => pipeline::run(command, config).await?,
        // Answered in `main`, before configuration is read.
        Command::Version | Command::Eval { .. } => {}
    }
    Ok(())
}

/// Cancelled on Ctrl-C or SIGTERM, so servers and workers drain before exit.
fn shutdown_on_signal() -> CancellationToken {
    let token = CancellationToken::new();
    let trigger = token.clone();
    tokio::spawn(async move {
        let ctrl_c = tokio::signal::ctrl_c();
        #[cfg(unix)]
        {
            let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(term) => term,
                Err(_) => {
                    let _ = ctrl_c.await;
                    trigger.cancel();
                    return;
                }
            };
            tokio::select! {
                _ = ctrl_c => {}
                _ = term.recv() => {}
            }
        }
        #[cfg(not(unix))]
        let _ = ctrl_c.await;
        tracing::info!("shutting down: finishing requests and running jobs");
        trigger.cancel();
    });
    token
}
