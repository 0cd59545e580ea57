//! (being written)

use crate::AppState;

/// The dashboard pages of this module.
pub fn router() -> axum::Router<AppState> {
    axum::Router::new()
}
