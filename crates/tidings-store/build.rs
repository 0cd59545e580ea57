//! `sqlx::migrate!` embeds the migration files at compile time, but cargo does not know they are
//! inputs: without this, adding a migration does not rebuild the crate (sqlx's advice).
fn main() {
    println!("cargo:rerun-if-changed=migrations");
}
