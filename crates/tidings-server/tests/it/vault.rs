//! The vault against a real database: secrets round-trip, stay in their workspace, never reach
//! the database in clear, and survive a master key rotation done the way an operator does it.

use std::sync::Arc;

use secrecy::{ExposeSecret, SecretString};
use tidings_core::crypto::master_key_fingerprint;
use tidings_core::secrets::MasterKeys;
use tidings_core::time::now_millis;
use tidings_core::{Config, WorkspaceId};
use tidings_server::AppState;
use tidings_server::vault::{KeyRole, Vault, VaultError};
use tidings_store::{Db, with_reader, with_writer};

use crate::helpers::{Engine, TestApp};

/// Base64 of 32 bytes of 0xA1, 0xB2 and 0xC3: three master keys.
const KEY_A: &str = "oaGhoaGhoaGhoaGhoaGhoaGhoaGhoaGhoaGhoaGhoaE=";
const KEY_B: &str = "srKysrKysrKysrKysrKysrKysrKysrKysrKysrKysrI=";
const KEY_C: &str = "w8PDw8PDw8PDw8PDw8PDw8PDw8PDw8PDw8PDw8PDw8M=";

/// A credential distinctive enough that finding it anywhere means it leaked.
const CANARY: &[u8] = b"tidings-canary-7f3a9c1e-never-stored-in-clear";
/// `CANARY` in base64.
const CANARY_BASE64: &[u8] = b"dGlkaW5ncy1jYW5hcnktN2YzYTljMWUtbmV2ZXItc3RvcmVkLWluLWNsZWFy";

fn id_of(key: u8) -> String {
    master_key_fingerprint(&[key; 32])
}

/// A workspace row, written directly (the identity API is tested on its own).
async fn workspace(db: &Db) -> WorkspaceId {
    let id = WorkspaceId::generate();
    let now = now_millis();
    with_writer!(db, |pool| sqlx::query(
        "INSERT INTO workspaces (id, name, slug, plan, created_at, updated_at) VALUES ($1, $2, $3, 'free', $4, $4)"
    )
    .bind(id.as_str())
    .bind("Vault test")
    .bind(id.as_str())
    .bind(now)
    .execute(pool)
    .await
    .map(|r| r.rows_affected()))
    .expect("workspace inserted");
    id
}

async fn ciphertext(db: &Db, workspace_id: &WorkspaceId, name: &str) -> Vec<u8> {
    with_reader!(db, |pool| sqlx::query_scalar("SELECT ciphertext FROM secrets WHERE workspace_id = $1 AND name = $2")
        .bind(workspace_id.as_str())
        .bind(name)
        .fetch_one(pool)
        .await)
    .expect("secret row")
}

/// (wrapped_key, master_key_id, rotated_at) of a workspace's data key.
async fn key_row(db: &Db, workspace_id: &WorkspaceId) -> (Vec<u8>, String, Option<i64>) {
    with_reader!(db, |pool| sqlx::query_as(
        "SELECT wrapped_key, master_key_id, rotated_at FROM workspace_keys WHERE workspace_id = $1"
    )
    .bind(workspace_id.as_str())
    .fetch_one(pool)
    .await)
    .expect("key row")
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|window| window == needle)
}

async fn read(vault: &Vault, workspace_id: &WorkspaceId, name: &str) -> Result<Option<Vec<u8>>, VaultError> {
    Ok(vault.get(workspace_id, name).await?.map(|secret| secret.expose_secret().to_vec()))
}

/// Configures the master keys the way an operator does: `master_key` and `previous_master_keys`.
fn with_keys(config: &mut Config, current: &str, previous: &[&str]) {
    config.master_key = Some(SecretString::from(current));
    config.previous_master_keys = previous.iter().map(|key| SecretString::from(*key)).collect();
}

/// Another process on the same database as `first`, with other master keys.
async fn restart_beside(engine: Engine, first: &AppState, current: &str, previous: &[&str]) -> TestApp {
    let url = first.config.database_url();
    TestApp::spawn_on(engine, |config| {
        config.database_url = Some(url);
        with_keys(config, current, previous);
    })
    .await
    .expect("the engine of the first app is available")
}

async fn secrets_round_trip_and_stay_in_their_workspace(engine: Engine) {
    let Some(app) = TestApp::spawn_on(engine, |config| with_keys(config, KEY_A, &[])).await else { return };
    let (db, vault) = (&app.state.db, &app.state.vault);
    let (mine, theirs) = (workspace(db).await, workspace(db).await);

    let id = vault.put(&mine, "slack.bot_token", b"xoxb-first").await.expect("stored");
    assert!(id.as_str().starts_with("sec_"), "{id}");
    assert_eq!(read(vault, &mine, "slack.bot_token").await.expect("read"), Some(b"xoxb-first".to_vec()));
    let replaced = vault.put(&mine, "slack.bot_token", b"xoxb-second").await.expect("replaced");
    assert_eq!(replaced, id, "replacing keeps the secret's id");
    assert_eq!(read(vault, &mine, "slack.bot_token").await.expect("read"), Some(b"xoxb-second".to_vec()));
    let (_, master_key_id, rotated_at) = key_row(db, &mine).await;
    assert_eq!((master_key_id, rotated_at), (id_of(0xA1), None), "the data key is wrapped by the current key");

    assert_eq!(read(vault, &theirs, "slack.bot_token").await.expect("read"), None, "another workspace sees nothing");
    assert_eq!(read(vault, &mine, "smtp.password").await.expect("read"), None);

    // A ciphertext copied into another workspace's row does not decrypt there, even with the
    // same name: it is bound to the workspace it was written for.
    vault.put(&theirs, "slack.bot_token", b"xoxb-theirs").await.expect("stored");
    let stolen = ciphertext(db, &mine, "slack.bot_token").await;
    with_writer!(db, |pool| sqlx::query("UPDATE secrets SET ciphertext = $1 WHERE workspace_id = $2")
        .bind(&stolen)
        .bind(theirs.as_str())
        .execute(pool)
        .await
        .map(|r| r.rows_affected()))
    .expect("row overwritten");
    let error = read(vault, &theirs, "slack.bot_token").await.expect_err("bound to its workspace");
    assert!(matches!(error, VaultError::Crypto { .. }), "{error}");

    let nowhere = WorkspaceId::generate();
    let error = vault.put(&nowhere, "slack.bot_token", b"x").await.expect_err("no such workspace");
    assert!(matches!(&error, VaultError::UnknownWorkspace(id) if *id == nowhere), "{error}");
    for bad in ["", "line\nbreak", &"x".repeat(201)] {
        let error = vault.put(&mine, bad, b"x").await.expect_err("invalid name");
        assert!(matches!(error, VaultError::InvalidName(_)), "{error}");
    }

    assert!(vault.delete(&mine, "slack.bot_token").await.expect("deleted"));
    assert_eq!(read(vault, &mine, "slack.bot_token").await.expect("read"), None);
    assert!(!vault.delete(&mine, "slack.bot_token").await.expect("nothing left"), "deleting twice is a no-op");
}

async fn the_plaintext_never_reaches_the_database(engine: Engine) {
    let Some(app) = TestApp::spawn_on(engine, |config| with_keys(config, KEY_A, &[])).await else { return };
    let (db, vault) = (&app.state.db, &app.state.vault);
    let workspace_id = workspace(db).await;
    vault.put(&workspace_id, "google.refresh_token", CANARY).await.expect("stored");
    assert_eq!(read(vault, &workspace_id, "google.refresh_token").await.expect("read"), Some(CANARY.to_vec()));
    let sealed = ciphertext(db, &workspace_id, "google.refresh_token").await;
    assert!(!contains(&sealed, CANARY) && !contains(&sealed, CANARY_BASE64), "the stored column is not the plaintext");

    match engine {
        Engine::Sqlite => {
            // Every byte SQLite wrote (database, write-ahead log, shared memory) and every other
            // file in the data dir.
            let mut files = Vec::new();
            for entry in std::fs::read_dir(&app.state.config.data_dir).expect("data dir") {
                let path = entry.expect("entry").path();
                files.push((path.clone(), std::fs::read(&path).expect("readable")));
            }
            let names: Vec<String> = files
                .iter()
                .filter_map(|(path, _)| path.file_name())
                .map(|n| n.to_string_lossy().into_owned())
                .collect();
            for expected in ["tidings.db", "tidings.db-wal", "tidings.db-shm"] {
                assert!(names.iter().any(|n| n == expected), "{expected} is among {names:?}");
            }
            // The search looks where the data is: the ciphertext itself is found.
            assert!(files.iter().any(|(_, bytes)| contains(bytes, &sealed)), "the ciphertext is on disk");
            for (path, bytes) in &files {
                assert!(!contains(bytes, CANARY), "plaintext found in {}", path.display());
                assert!(!contains(bytes, CANARY_BASE64), "base64 of the plaintext found in {}", path.display());
            }
        }
        Engine::Postgres => {
            let leaked: i64 = with_reader!(db, |pool| {
                sqlx::query_scalar(
                "SELECT COUNT(*) FROM secrets WHERE position($1 in ciphertext) > 0 OR position($2 in ciphertext) > 0"
            )
            .bind(CANARY)
            .bind(CANARY_BASE64)
            .fetch_one(pool)
            .await
            })
            .expect("searched");
            assert_eq!(leaked, 0);
        }
    }
}

async fn a_new_master_key_reads_old_data_and_rotation_retires_the_old_one(engine: Engine) {
    let Some(old) = TestApp::spawn_on(engine, |config| with_keys(config, KEY_A, &[])).await else { return };
    let db = &old.state.db;
    let (first, second, empty) = (workspace(db).await, workspace(db).await, workspace(db).await);
    old.state.vault.put(&first, "hubspot.token", b"pat-na1-first").await.expect("stored");
    old.state.vault.put(&second, "hubspot.token", b"pat-na1-second").await.expect("stored");
    let sealed_before = ciphertext(db, &first, "hubspot.token").await;
    let (wrapped_before, _, _) = key_row(db, &first).await;

    // Rolling restart: a process with the new key (and the old one as previous) runs beside
    // one still on the old key, on the same database.
    let new = restart_beside(engine, &old.state, KEY_B, &[KEY_A]).await;
    let vault = &new.state.vault;
    assert_eq!(read(vault, &first, "hubspot.token").await.expect("read"), Some(b"pat-na1-first".to_vec()));
    let usage = vault.master_key_usage().await.expect("usage");
    assert_eq!(usage.len(), 1);
    assert_eq!(
        (usage[0].master_key_id.as_str(), usage[0].role, usage[0].workspaces),
        (id_of(0xA1).as_str(), KeyRole::Previous, 2)
    );

    let report = vault.rotate_master_key().await.expect("rotated");
    assert_eq!(report.master_key_id, id_of(0xB2));
    assert_eq!((report.rewrapped, report.already_current), (2, 0));
    assert!(report.is_complete(), "{report:?}");
    let again = vault.rotate_master_key().await.expect("re-run");
    assert_eq!((again.rewrapped, again.already_current), (0, 2), "running it again changes nothing");

    let (wrapped_after, master_key_id, rotated_at) = key_row(db, &first).await;
    assert_eq!(master_key_id, id_of(0xB2));
    assert!(rotated_at.is_some());
    assert_ne!(wrapped_after, wrapped_before, "the data key is wrapped anew");
    assert_eq!(ciphertext(db, &first, "hubspot.token").await, sealed_before, "secrets are not re-encrypted");
    assert!(read(vault, &empty, "hubspot.token").await.expect("read").is_none());

    // Once rotated, the old key can go.
    let only_new = restart_beside(engine, &old.state, KEY_B, &[]).await;
    for (workspace_id, value) in [(&first, &b"pat-na1-first"[..]), (&second, &b"pat-na1-second"[..])] {
        let secret = read(&only_new.state.vault, workspace_id, "hubspot.token").await.expect("read");
        assert_eq!(secret, Some(value.to_vec()));
    }

    // A process that only has the old key cannot read, and says which key it is missing.
    let error = read(&old.state.vault, &first, "hubspot.token").await.expect_err("the old key no longer opens it");
    assert!(matches!(&error, VaultError::UnknownMasterKey { master_key_id, .. } if *master_key_id == id_of(0xB2)));
    let message = error.to_string();
    assert!(message.contains(&id_of(0xB2)) && message.contains("previous_master_keys"), "{message}");
}

async fn rotation_reports_data_keys_it_cannot_unwrap(engine: Engine) {
    let Some(app) = TestApp::spawn_on(engine, |config| with_keys(config, KEY_C, &[])).await else { return };
    let db = &app.state.db;
    let lost = workspace(db).await;
    app.state.vault.put(&lost, "smtp.password", b"hunter2").await.expect("stored");

    let mut config = Config::default();
    with_keys(&mut config, KEY_B, &[KEY_A]);
    let vault = Vault::new(db.clone(), Arc::new(MasterKeys::resolve(&config).expect("valid keys")));
    let usage = vault.master_key_usage().await.expect("usage");
    assert_eq!(usage[0].role, KeyRole::Unknown);
    let report = vault.rotate_master_key().await.expect("rotation runs");
    assert_eq!(report.rewrapped, 0);
    assert!(!report.is_complete());
    assert_eq!(report.failed.len(), 1);
    assert_eq!(report.failed[0].workspace_id, lost);
    assert!(report.failed[0].reason.contains(&id_of(0xC3)), "{}", report.failed[0].reason);
    let (_, master_key_id, _) = key_row(db, &lost).await;
    assert_eq!(master_key_id, id_of(0xC3), "left as it was");
}

crate::on_both_engines!(
    secrets_round_trip_and_stay_in_their_workspace,
    the_plaintext_never_reaches_the_database,
    a_new_master_key_reads_old_data_and_rotation_retires_the_old_one,
    rotation_reports_data_keys_it_cannot_unwrap,
);
