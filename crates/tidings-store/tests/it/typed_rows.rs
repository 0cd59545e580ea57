//! Ids and stored enums are read from rows as their types (tidings-core's `sqlx` feature), on
//! both engines; a stored value that does not parse is a decode error, not a panic.

use tidings_core::{JobId, WorkspaceId};
use tidings_store::queue::JobState;
use tidings_store::{Db, with_writer};

#[derive(Debug, PartialEq, sqlx::FromRow)]
struct TypedRow {
    id: JobId,
    workspace_id: Option<WorkspaceId>,
    state: JobState,
}

async fn create_table(db: &Db) {
    with_writer!(db, |pool| sqlx::query(
        "CREATE TABLE typed_rows (id TEXT NOT NULL, workspace_id TEXT, state TEXT NOT NULL)"
    )
    .execute(pool)
    .await
    .map(drop)
    .expect("create table"));
}

async fn insert(db: &Db, id: &str, workspace_id: Option<&str>, state: &str) {
    with_writer!(db, |pool| sqlx::query("INSERT INTO typed_rows (id, workspace_id, state) VALUES ($1, $2, $3)")
        .bind(id)
        .bind(workspace_id)
        .bind(state)
        .execute(pool)
        .await
        .map(drop)
        .expect("insert"));
}

async fn read_all(db: &Db) -> Result<Vec<TypedRow>, sqlx::Error> {
    with_writer!(db, |pool| sqlx::query_as("SELECT id, workspace_id, state FROM typed_rows ORDER BY id")
        .fetch_all(pool)
        .await)
}

async fn typed_ids_and_states_are_written_and_read_back(db: Db) {
    create_table(&db).await;
    let row = TypedRow { id: JobId::generate(), workspace_id: Some(WorkspaceId::generate()), state: JobState::Dead };
    with_writer!(db, |pool| sqlx::query("INSERT INTO typed_rows (id, workspace_id, state) VALUES ($1, $2, $3)")
        .bind(&row.id)
        .bind(&row.workspace_id)
        .bind(row.state)
        .execute(pool)
        .await
        .map(drop)
        .expect("insert typed"));
    let stored: (String, String) =
        with_writer!(db, |pool| sqlx::query_as("SELECT workspace_id, state FROM typed_rows")
            .fetch_one(pool)
            .await
            .expect("raw"));
    let workspace_id = row.workspace_id.clone().expect("set");
    assert_eq!(stored, (workspace_id.to_string(), "dead".to_owned()), "stored as the text the API shows");
    let without_workspace = JobId::generate();
    insert(&db, without_workspace.as_str(), None, "ready").await;
    let mut expected = vec![row, TypedRow { id: without_workspace, workspace_id: None, state: JobState::Ready }];
    expected.sort_by(|a, b| a.id.cmp(&b.id));
    assert_eq!(read_all(&db).await.expect("typed rows"), expected);
}

async fn a_malformed_stored_id_is_a_decode_error(db: Db) {
    create_table(&db).await;
    insert(&db, "job_not-an-id", None, "ready").await;
    let error = read_all(&db).await.expect_err("a malformed id does not decode");
    assert!(matches!(error, sqlx::Error::ColumnDecode { ref index, .. } if index.contains("id")), "{error:?}");
    assert!(error.to_string().contains("job_not-an-id"), "the error names the stored value: {error}");
}

async fn an_id_of_another_kind_is_a_decode_error(db: Db) {
    create_table(&db).await;
    insert(&db, JobId::generate().as_str(), Some(JobId::generate().as_str()), "ready").await;
    let error = read_all(&db).await.expect_err("a job id is not a workspace id");
    assert!(error.to_string().contains("workspace"), "{error}");
}

async fn an_unknown_stored_state_is_a_decode_error(db: Db) {
    create_table(&db).await;
    insert(&db, JobId::generate().as_str(), None, "sleeping").await;
    let error = read_all(&db).await.expect_err("an unknown state does not decode");
    assert!(error.to_string().contains("JobState `sleeping`"), "{error}");
}

crate::on_both_engines!(
    typed_ids_and_states_are_written_and_read_back,
    a_malformed_stored_id_is_a_decode_error,
    an_id_of_another_kind_is_a_decode_error,
    an_unknown_stored_state_is_a_decode_error,
);
