//! Both migration sets must produce the same tables and columns.

use std::collections::BTreeSet;

use tidings_store::Db;

/// (table, column, type family, nullable) for every user table. The full-text search index is the
/// one intended difference: an FTS5 table (and its shadow tables) on SQLite, a generated
/// `search_vector` column on PostgreSQL.
async fn columns(db: &Db) -> BTreeSet<(String, String, &'static str, bool)> {
    let rows: Vec<(String, String, String, bool)> = match db.pools() {
        tidings_store::db::Pools::Sqlite { reader, .. } => sqlx::query_as(
            "SELECT m.name, p.name, p.type, p.\"notnull\" = 0 FROM sqlite_master m, pragma_table_info(m.name) p \
             WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite_%' AND m.name <> '_sqlx_migrations' \
             AND m.name NOT LIKE 'conversations_fts%'",
        )
        .fetch_all(reader)
        .await
        .expect("sqlite columns"),
        tidings_store::db::Pools::Postgres(pool) => sqlx::query_as(
            "SELECT table_name::text, column_name::text, data_type::text, is_nullable = 'YES' FROM information_schema.columns \
             WHERE table_schema = current_schema() AND table_name <> '_sqlx_migrations' \
             AND column_name <> 'search_vector'",
        )
        .fetch_all(pool)
        .await
        .expect("postgres columns"),
    };
    rows.into_iter().map(|(table, column, ty, nullable)| (table, column, family(&ty), nullable)).collect()
}

fn family(declared: &str) -> &'static str {
    let declared = declared.to_ascii_lowercase();
    if declared.contains("int") {
        "integer"
    } else if declared.contains("char") || declared.contains("text") {
        "text"
    } else if declared.contains("bool") {
        "boolean"
    } else if declared.contains("blob") || declared.contains("bytea") {
        "bytes"
    } else if declared.contains("double") || declared.contains("real") || declared.contains("numeric") {
        "number"
    } else {
        "other"
    }
}

#[tokio::test]
async fn sqlite_and_postgres_schemas_have_the_same_tables_and_columns() {
    let sqlite = crate::common::sqlite().await;
    let Some(postgres) = crate::common::postgres().await else { return };
    let on_sqlite = columns(&sqlite.db).await;
    let on_postgres = columns(&postgres.db).await;
    assert!(on_sqlite.iter().any(|(table, ..)| table == "jobs"), "the comparison sees the tables");
    let only_sqlite: Vec<_> = on_sqlite.difference(&on_postgres).collect();
    let only_postgres: Vec<_> = on_postgres.difference(&on_sqlite).collect();
    assert!(
        only_sqlite.is_empty() && only_postgres.is_empty(),
        "schemas differ\nonly in SQLite: {only_sqlite:#?}\nonly in PostgreSQL: {only_postgres:#?}"
    );
}
