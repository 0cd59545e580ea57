//! Static assets compiled into the binary: nothing is loaded from the network.

use std::sync::OnceLock;

use axum::Router;
use axum::extract::Path;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use rust_embed::RustEmbed;

use crate::AppState;
use crate::http::ApiError;

#[derive(RustEmbed)]
#[folder = "assets/"]
struct Assets;

/// Serves `/assets/{file}`, and the icon at `/favicon.ico`, where browsers ask for it.
pub fn router() -> Router<AppState> {
    Router::new().route("/assets/{*file}", get(serve)).route("/favicon.ico", get(favicon))
}

/// The SVG icon (every current browser takes one at this path). Its URL has no content hash, so
/// it is cached for a day rather than for good.
async fn favicon() -> Response {
    match Assets::get("favicon.svg") {
        Some(icon) => {
            ([(header::CONTENT_TYPE, "image/svg+xml"), (header::CACHE_CONTROL, "public, max-age=86400")], icon.data)
                .into_response()
        }
        None => ApiError::new(StatusCode::NOT_FOUND, "not_found", "no icon").into_response(),
    }
}

async fn serve(Path(file): Path<String>) -> Response {
    match Assets::get(&file) {
        Some(asset) => {
            let mime = mime_guess::from_path(&file).first_or_octet_stream();
            (
                [
                    (header::CONTENT_TYPE, mime.as_ref().to_owned()),
                    // URLs carry a content hash (see `asset_url`), so a cached copy is never stale.
                    (header::CACHE_CONTROL, "public, max-age=31536000, immutable".to_owned()),
                ],
                asset.data,
            )
                .into_response()
        }
        None => ApiError::new(StatusCode::NOT_FOUND, "not_found", format!("no asset `{file}`")).into_response(),
    }
}

/// The URL of an asset, versioned by its content so browsers may cache it forever.
pub fn asset_url(file: &str) -> String {
    static HASHES: OnceLock<std::collections::HashMap<String, String>> = OnceLock::new();
    let hashes = HASHES.get_or_init(|| {
        Assets::iter()
            .filter_map(|name| {
                let hash = Assets::get(&name)?.metadata.sha256_hash();
                let short: String = hash.iter().take(6).map(|b| format!("{b:02x}")).collect();
                Some((name.to_string(), short))
            })
            .collect()
    });
    match hashes.get(file) {
        Some(hash) => format!("/assets/{file}?v={hash}"),
        None => format!("/assets/{file}"),
    }
}
