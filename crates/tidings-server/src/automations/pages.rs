//! The automations dashboard pages.

use axum::Router;

use crate::AppState;

/// The dashboard pages of automations.
pub fn router() -> Router<AppState> {
    Router::new()
}
