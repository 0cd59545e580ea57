//! The `tidings` command as an operator uses it.

use std::io::{BufRead, BufReader};
use std::process::{Command, Output, Stdio};

fn tidings(dir: &std::path::Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_tidings"));
    command.current_dir(dir).args(args).env("TIDINGS_LOG_LEVEL", "warn");
    for (key, value) in env {
        command.env(key, value);
    }
    command.output().expect("tidings runs")
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[test]
fn version_and_help_name_the_subcommands() {
    let dir = tempfile::tempdir().expect("tempdir");
    let version = tidings(dir.path(), &["version"], &[]);
    assert!(version.status.success());
    assert_eq!(stdout(&version).trim(), format!("tidings {}", env!("CARGO_PKG_VERSION")));
    let help = stdout(&tidings(dir.path(), &["--help"], &[]));
    for subcommand in ["serve", "worker", "migrate", "demo", "config", "admin", "version"] {
        assert!(help.contains(subcommand), "--help lists `{subcommand}`:\n{help}");
    }
}

#[test]
fn config_show_prints_the_effective_configuration_with_secrets_redacted() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("tidings.toml"), "listen = \"127.0.0.1:9999\"\n").expect("write config");
    let output = tidings(
        dir.path(),
        &["config", "show"],
        &[
            ("TIDINGS_DATABASE_URL", "postgres://tidings:s3cret@db.internal/tidings"),
            ("TIDINGS_ADMIN_TOKEN", "tdadm_very_secret"),
        ],
    );
    assert!(output.status.success(), "{output:?}");
    let shown = stdout(&output);
    assert!(shown.contains("listen = \"127.0.0.1:9999\""), "the file is read:\n{shown}");
    assert!(shown.contains("postgres://tidings:[redacted]@db.internal/tidings"), "{shown}");
    assert!(!shown.contains("s3cret") && !shown.contains("tdadm_very_secret"), "{shown}");
}

#[test]
fn invalid_configuration_fails_at_start_naming_the_key() {
    let dir = tempfile::tempdir().expect("tempdir");
    let output = tidings(dir.path(), &["config", "show"], &[("TIDINGS_QUEUE__LEASE_SECS", "many")]);
    assert!(!output.status.success());
    let error = String::from_utf8_lossy(&output.stderr);
    assert!(error.contains("lease_secs"), "{error}");
    let missing = tidings(dir.path(), &["--config", "nope.toml", "config", "show"], &[]);
    assert!(!missing.status.success());
    assert!(String::from_utf8_lossy(&missing.stderr).contains("nope.toml"));
}

#[test]
fn migrate_then_admin_commands_work_on_a_fresh_data_dir() {
    let dir = tempfile::tempdir().expect("tempdir");
    let migrated = tidings(dir.path(), &["migrate"], &[]);
    assert!(migrated.status.success(), "{migrated:?}");
    let summary = stdout(&migrated).lines().last().unwrap_or_default().to_owned();
    let numbers: Vec<&str> = summary.split_whitespace().filter(|w| w.chars().all(|c| c.is_ascii_digit())).collect();
    assert!(numbers.len() == 2 && numbers[0] == numbers[1] && numbers[0] != "0", "all applied: {summary}");
    assert!(dir.path().join("data/tidings.db").exists(), "SQLite lives in ./data");
    let again = tidings(dir.path(), &["migrate"], &[]);
    assert!(stdout(&again).contains("0 migration(s) applied"));

    let queues = stdout(&tidings(dir.path(), &["admin", "queues"], &[]));
    for queue in ["inbound", "ai", "outbound", "crm", "email", "maintenance"] {
        assert!(queues.contains(queue), "{queues}");
    }
    let dead = tidings(dir.path(), &["admin", "dead-letters", "list"], &[]);
    assert!(stdout(&dead).contains("0 dead letter(s)"));
    let audit = tidings(dir.path(), &["admin", "verify-audit", "ws_00000000000000000000000000000000"], &[]);
    assert!(audit.status.success(), "{audit:?}");
    assert!(stdout(&audit).contains("0 entries, chain intact"));
    let unknown = tidings(dir.path(), &["admin", "dead-letters", "retry", "job_00000000000000000000000000000000"], &[]);
    assert!(!unknown.status.success());
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("is not a dead letter"));
}

#[test]
fn rotate_master_key_needs_a_migrated_database_and_reports_what_it_did() {
    let dir = tempfile::tempdir().expect("tempdir");
    let keys = [
        ("TIDINGS_MASTER_KEY", "srKysrKysrKysrKysrKysrKysrKysrKysrKysrKysrI="),
        ("TIDINGS_PREVIOUS_MASTER_KEYS", "[oaGhoaGhoaGhoaGhoaGhoaGhoaGhoaGhoaGhoaGhoaE=]"),
    ];
    let early = tidings(dir.path(), &["admin", "rotate-master-key"], &keys);
    assert!(!early.status.success());
    assert!(String::from_utf8_lossy(&early.stderr).contains("tidings migrate"), "{early:?}");

    assert!(tidings(dir.path(), &["migrate"], &[]).status.success());
    let rotated = tidings(dir.path(), &["admin", "rotate-master-key"], &keys);
    assert!(rotated.status.success(), "{rotated:?}");
    let out = stdout(&rotated);
    assert!(out.contains("1 previous key(s) configured"), "{out}");
    assert!(out.contains("0 re-wrapped, 0 already current, 0 failed"), "{out}");
    assert!(out.contains("previous_master_keys can be removed"), "{out}");
    assert!(!dir.path().join("data/master.key").exists(), "a configured key is never written to disk");
}

/// Cheap password hashing keeps the demo commands fast; the production cost is benchmarked.
const FAST_HASHING: [(&str, &str); 3] = [
    ("TIDINGS_AUTH__PASSWORD_MEMORY_KIB", "1024"),
    ("TIDINGS_AUTH__PASSWORD_ITERATIONS", "1"),
    ("TIDINGS_DEMO__SIMULATE", "false"),
];

fn password_in(out: &str) -> String {
    let line = out.lines().find(|l| l.trim_start().starts_with("Password:")).unwrap_or_else(|| panic!("{out}"));
    line.trim_start().trim_start_matches("Password:").trim().to_owned()
}

#[test]
fn demo_creates_the_demo_once_and_says_how_to_sign_in() {
    let dir = tempfile::tempdir().expect("tempdir");
    let created = tidings(dir.path(), &["demo"], &FAST_HASHING);
    assert!(created.status.success(), "{created:?}");
    let out = stdout(&created);
    assert!(out.contains("Harbour & Vine (demo)") && out.contains("demo@tidings.local"), "{out}");
    assert!(out.contains("3 locations") && out.contains("reviews"), "{out}");
    let password = password_in(&out);
    assert!(password.len() >= 20, "a random password is printed: {out}");

    let again = tidings(dir.path(), &["demo"], &FAST_HASHING);
    assert!(again.status.success(), "{again:?}");
    let out = stdout(&again);
    assert!(out.contains("already exists") && out.contains("demo@tidings.local"), "{out}");
    assert!(!out.contains(&password), "the password is not kept, so not shown again: {out}");

    let reset = tidings(dir.path(), &["demo", "--reset-password"], &FAST_HASHING);
    assert!(reset.status.success(), "{reset:?}");
    let fresh = password_in(&stdout(&reset));
    assert_ne!(fresh, password);
}

#[test]
fn demo_reset_password_without_a_demo_fails_plainly() {
    let dir = tempfile::tempdir().expect("tempdir");
    let output = tidings(dir.path(), &["demo", "--reset-password"], &FAST_HASHING);
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("tidings demo"), "{output:?}");
}

#[test]
fn the_first_serve_of_an_empty_database_creates_the_demo() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut child = Command::new(env!("CARGO_BIN_EXE_tidings"))
        .current_dir(dir.path())
        .arg("serve")
        .env("TIDINGS_LOG_LEVEL", "warn")
        .env("TIDINGS_LISTEN", "127.0.0.1:0")
        .envs(FAST_HASHING)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("tidings serve starts");
    let mut out = String::new();
    let lines = BufReader::new(child.stdout.take().expect("stdout"));
    for line in lines.lines() {
        let line = line.expect("a line");
        out.push_str(&line);
        out.push('\n');
        if line.contains("Press Ctrl-C") {
            break;
        }
    }
    child.kill().expect("stopped");
    let _ = child.wait();
    assert!(out.contains("creating the demo workspace") && out.contains("demo@tidings.local"), "{out}");
    password_in(&out);
    let again = tidings(dir.path(), &["demo"], &FAST_HASHING);
    assert!(stdout(&again).contains("already exists"), "{again:?}");
}

#[test]
fn pipeline_replay_re_analyses_stored_items_and_reports_what_changed() {
    let dir = tempfile::tempdir().expect("tempdir");
    assert!(tidings(dir.path(), &["demo"], &FAST_HASHING).status.success());
    // The demo's items wait for the workers; a replay analyses them now.
    let first = tidings(dir.path(), &["pipeline", "replay", "--since", "2000-01-01"], &FAST_HASHING);
    assert!(first.status.success(), "{first:?}");
    let out = stdout(&first);
    let line = out.lines().find(|l| l.contains("item(s) re-analysed")).unwrap_or_default();
    let analysed: u64 = line.split_whitespace().next().and_then(|n| n.parse().ok()).unwrap_or(0);
    assert!(analysed > 50, "the demo's reviews and messages are re-analysed: {out}");
    // Nothing changed since: the same items, the same rules, the same analysis.
    let again = tidings(dir.path(), &["pipeline", "replay", "--since", "2000-01-01"], &FAST_HASHING);
    let out = stdout(&again);
    assert!(out.contains(&format!("{analysed} item(s) re-analysed")), "{out}");
    assert!(
        out.contains("Sentiment changed on 0 item(s)") && out.contains("Lead tag changed on 0 message(s)"),
        "{out}"
    );
    let future = stdout(&tidings(dir.path(), &["pipeline", "replay", "--since", "2999-01-01"], &FAST_HASHING));
    assert!(future.contains("0 item(s) re-analysed"), "{future}");
    let bad = tidings(dir.path(), &["pipeline", "replay", "--since", "last week"], &FAST_HASHING);
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("neither a date"), "{bad:?}");
    let workspace =
        tidings(dir.path(), &["pipeline", "replay", "--since", "2000-01-01", "--workspace", "nope"], &FAST_HASHING);
    assert!(!workspace.status.success(), "{workspace:?}");
}
