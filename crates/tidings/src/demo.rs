//! `tidings demo`, and the demo created on the first `serve` of an empty database: the seeding
//! shown with a progress bar, then how to sign in, loudly.

use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};
use tidings_core::Config;
use tidings_server::demo::seed::{self, Progress, Seeded};
use tidings_server::events::Events;
use tidings_store::Db;

/// Creates the demo workspace unless it exists; with `reset_password`, gives its owner a new one.
pub async fn run(
    db: &Db,
    config: &Config,
    events: &Events,
    public_url: &str,
    reset_password: bool,
) -> anyhow::Result<()> {
    if reset_password {
        match seed::reset_password(db, config).await? {
            Some(password) => print_credentials("The demo owner has a new password.", &password, public_url),
            None => anyhow::bail!("there is no demo workspace yet: run `tidings demo` first"),
        }
        return Ok(());
    }
    let bar = bar();
    let seeded = seed::seed(db, config, events, |p| advance(&bar, p)).await;
    bar.finish_and_clear();
    report(&seeded?, public_url);
    Ok(())
}

/// On a first start (no workspace at all), creates the demo and says how to sign in.
pub async fn seed_on_first_start(db: &Db, config: &Config, events: &Events, public_url: &str) -> anyhow::Result<()> {
    if !seed::is_empty(db).await? {
        return Ok(());
    }
    println!("  Empty database: creating the demo workspace (demo.seed_on_empty = false turns this off).");
    let bar = bar();
    let seeded = seed::seed_if_empty(db, config, events, |p| advance(&bar, p)).await;
    bar.finish_and_clear();
    if let Some(seeded) = seeded? {
        report(&seeded, public_url);
    }
    Ok(())
}

fn bar() -> ProgressBar {
    let bar = ProgressBar::new(0);
    let style = ProgressStyle::with_template("  {spinner} {msg:<28} [{bar:30}] {pos}/{len}")
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> ");
    bar.set_style(style);
    bar.enable_steady_tick(Duration::from_millis(120));
    bar
}

fn advance(bar: &ProgressBar, progress: Progress) {
    bar.set_length(progress.total);
    bar.set_position(progress.done);
    bar.set_message(progress.stage);
}

fn report(seeded: &Seeded, public_url: &str) {
    match seeded {
        Seeded::Created { workspace_id, password, summary, .. } => {
            println!(
                "  Created the demo workspace \"{}\" ({workspace_id}): {} locations, {} connections, {} reviews, \
                 {} conversations with {} messages.",
                seed::DEMO_WORKSPACE,
                summary.locations,
                summary.connections,
                summary.reviews,
                summary.threads,
                summary.messages
            );
            print_credentials("Sign in to the demo:", password, public_url);
        }
        Seeded::Exists { workspace_id, email } => {
            println!(
                "  The demo workspace \"{}\" ({workspace_id}) already exists; nothing was changed.",
                seed::DEMO_WORKSPACE
            );
            println!("  Sign in at {public_url}/sign-in as {email} with the password printed when it was created.");
            println!("  Lost it? `tidings demo --reset-password` sets a new one.");
        }
    }
}

fn print_credentials(heading: &str, password: &str, public_url: &str) {
    let rule = "=".repeat(64);
    println!();
    println!("  {rule}");
    println!("  {heading}");
    println!("    URL:      {public_url}/sign-in");
    println!("    Email:    {}", seed::DEMO_EMAIL);
    println!("    Password: {password}");
    println!("  It is shown only now; `tidings demo --reset-password` sets a new one.");
    println!("  {rule}");
    println!();
}
