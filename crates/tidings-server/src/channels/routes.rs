//! (being written)

use utoipa_axum::router::OpenApiRouter;

use crate::AppState;

/// The endpoints of this module.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
}
