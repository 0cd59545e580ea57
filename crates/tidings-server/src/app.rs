//! Assembling and running the application: state, routers, middleware, workers.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderName, HeaderValue, Method, Request, StatusCode, header};
use tidings_core::Config;
use tidings_core::secrets::{MasterKeys, OperatorToken, SecretError, SecretOrigin};
use tidings_store::queue::{Queue, QueueError, Registry, Schedule, WorkerOptions, WorkerPool, standard_queues};
use tidings_store::{Db, StoreError};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tower::ServiceBuilder;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::compression::CompressionLayer;
use tower_http::cors::{AllowOrigin, Any, CorsLayer};
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::{DefaultOnResponse, TraceLayer};
use utoipa_axum::router::OpenApiRouter;
use utoipa_swagger_ui::SwaggerUi;

use crate::access::ClientAddressPolicy;
use crate::automations::Automations;
use crate::automations::subscriber::AutomationsSubscriber;
use crate::channels::accounts::ChannelContext;
use crate::channels::breaker::Breakers;
use crate::channels::platforms::Platforms;
use crate::channels::service::Channels;
use crate::channels::webhooks::Intake;
use crate::dashboard::route_not_found;
use crate::events::Events;
use crate::http::middleware::{error_envelope, security_headers, track_metrics};
use crate::http::rate_limit::{RateLimits, quota_headers};
use crate::identity::Identity;
use crate::inbox::live::Live;
use crate::inbox::service::Inbox;
use crate::mail;
use crate::vault::Vault;
use crate::{
    AppState, Services, audit, automations, channels, dashboard, identity, inbox, openapi, pipeline, system, telemetry,
};

/// Why the application could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// A secret could not be loaded or generated.
    #[error(transparent)]
    Secret(#[from] SecretError),
    /// The database could not be opened or migrated.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The queue could not be set up (schedules).
    #[error(transparent)]
    Queue(#[from] QueueError),
    /// `queue.concurrency` names a queue that does not exist.
    #[error("queue.concurrency (TIDINGS_QUEUE__CONCURRENCY): there is no queue `{0}`")]
    UnknownQueue(String),
    /// Migrations are pending and `migrate_on_start` is off.
    #[error("{0} migration(s) pending and migrate_on_start is false: run `tidings migrate` first")]
    PendingMigrations(usize),
    /// The listen address could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The configured address.
        addr: SocketAddr,
        /// Why.
        source: std::io::Error,
    },
    /// The HTTP server failed.
    #[error("server error: {0}")]
    Serve(std::io::Error),
    /// The mail transport could not be set up.
    #[error(transparent)]
    Mail(#[from] crate::mail::MailError),
}

/// What a process runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// API, dashboard and workers.
    Serve,
    /// Workers only.
    Worker,
}

/// Connects to the database, applies migrations (unless told not to), loads secrets and
/// registers schedules: everything both modes need.
pub async fn prepare(config: Config) -> Result<AppState, StartError> {
    let master_keys = Arc::new(MasterKeys::resolve(&config)?);
    let master_key = master_keys.current();
    tracing::info!(
        master_key_id = master_key.id(),
        previous_master_keys = master_keys.previous().len(),
        "master key loaded"
    );
    let operator_token = OperatorToken::resolve(&config)?;
    if let SecretOrigin::Generated(path) = &operator_token.origin {
        tracing::info!(path = %path.display(), "generated the operator token for /api/v1/admin");
    }
    let db = Db::connect(&config.database_url(), &config.database).await?;
    if config.migrate_on_start {
        let applied = db.migrate().await?;
        if !applied.is_empty() {
            tracing::info!(?applied, "applied migrations");
        }
    } else {
        let pending = db.pending_migrations().await?;
        if !pending.is_empty() {
            return Err(StartError::PendingMigrations(pending.len()));
        }
    }
    let queue = Queue::new(db.clone(), standard_queues());
    if let Some(unknown) = config.queue.concurrency.keys().find(|name| !queue.specs().any(|s| &s.name == *name)) {
        return Err(StartError::UnknownQueue(unknown.clone()));
    }
    queue.register_schedules(&schedules(&config)?).await?;
    let identity =
        Identity::new(db.clone(), queue.clone(), &config.auth, &master_keys).with_public_url(config.public_url());
    let vault = Vault::new(db.clone(), master_keys.clone());
    let mailer = mail::from_config(&config)?;
    let live = Live::new(db.clone());
    let platforms = Platforms::new(&config.connectors, &master_keys);
    // Capabilities that react to others' events subscribe here (see events.rs).
    let events = events(queue.clone());
    let channel_jobs = ChannelContext {
        db: db.clone(),
        vault: vault.clone(),
        platforms: platforms.clone(),
        breakers: Breakers::new(Duration::from_secs(config.connectors.breaker_open_secs.max(1))),
        live: live.clone(),
        events: events.clone(),
    };
    let config = Arc::new(config);
    let channels = Channels::new(db.clone(), queue.clone(), vault.clone(), platforms.clone(), &config);
    let inbox = Inbox::new(db.clone(), queue.clone(), live);
    let ai = pipeline::replies::Replies::new(db.clone(), config.clone(), vault.clone(), inbox.clone(), events.clone());
    let automations = Automations::new(
        db.clone(),
        queue.clone(),
        vault.clone(),
        mailer.clone(),
        &config.connectors.automations,
        config.public_url(),
        inbox.clone(),
    );
    Ok(AppState::new(Services {
        events,
        ai,
        inbox,
        intake: Intake::start(db.clone(), queue.clone()),
        automations,
        platforms,
        channels,
        channel_jobs,
        limits: RateLimits::in_memory(config.rate_limits.clone()),
        mailer,
        identity,
        vault,
        config,
        db,
        queue,
        operator_token: Arc::new(operator_token),
        metrics: telemetry::metrics(),
        started_at: Instant::now(),
    }))
}

/// The domain events of a process over `queue`, with every subscriber: stored items are
/// analysed by the pipeline; analysed items may be answered automatically; automations'
/// rules see stored and analysed items.
pub fn events(queue: Queue) -> Events {
    Events::new(
        queue,
        vec![
            Arc::new(pipeline::AnalysisSubscriber),
            Arc::new(pipeline::replies::auto_reply::AutoReplySubscriber),
            Arc::new(AutomationsSubscriber),
        ],
    )
}

fn schedules(config: &Config) -> Result<Vec<Schedule>, QueueError> {
    let mut schedules = system::jobs::schedules(config.queue.dead_letter_retention_days)?;
    schedules.extend(channels::sync::schedules()?);
    schedules.extend(channels::webhooks::schedules(config.connectors.delivery_retention_days)?);
    schedules.extend(inbox::snooze::schedules()?);
    schedules.extend(automations::delivery::schedules()?);
    schedules.extend(automations::triggers::schedules()?);
    schedules.extend(automations::digests::schedules()?);
    Ok(schedules)
}

/// Every job handler of every capability.
fn registry(state: &AppState) -> Registry {
    let mut registry = Registry::new();
    system::jobs::register(&mut registry, &state.queue);
    mail::jobs::register(&mut registry, state.mailer.clone());
    channels::outbound::register(&mut registry, state.channel_jobs.clone());
    channels::profiles::register(&mut registry, state.channel_jobs.clone());
    channels::webhooks::register(&mut registry, state.channel_jobs.clone(), state.queue.clone(), state.intake.clone());
    channels::sync::register(&mut registry, state.channel_jobs.clone(), state.queue.clone());
    inbox::csv::register(&mut registry, state.db.clone(), state.live().clone(), state.events.clone());
    inbox::snooze::register(&mut registry, state.db.clone(), state.live().clone());
    pipeline::jobs::register(&mut registry, pipeline::Pipeline::of(state));
    pipeline::replies::auto_reply::register(&mut registry, state.ai.clone());
    automations::process::register(&mut registry, state.automations.clone());
    automations::subscriber::register(&mut registry, state.automations.clone());
    automations::delivery::register(&mut registry, state.automations.clone());
    automations::triggers::register(&mut registry, state.automations.clone());
    automations::digests::register(&mut registry, state.automations.clone());
    registry
}

/// Runs the workers until `shutdown`, then drains them.
pub async fn run_workers(state: AppState, shutdown: CancellationToken) {
    let queue_config = &state.config.queue;
    let options = WorkerOptions {
        lease: Duration::from_secs(queue_config.lease_secs),
        poll_interval: Duration::from_millis(queue_config.poll_interval_ms),
        shutdown_grace: Duration::from_secs(queue_config.shutdown_grace_secs),
        concurrency: queue_config.concurrency.clone().into_iter().collect(),
        only_queues: Vec::new(),
    };
    WorkerPool::run(state.queue.clone(), registry(&state), options, shutdown).await;
}

/// The documented routes: the API under `/api/v1` and the probes at the root.
pub(crate) fn api_routes() -> OpenApiRouter<AppState> {
    let mut routes = OpenApiRouter::with_openapi(openapi::base_document())
        .merge(system::routes::ops_router())
        .nest("/api/v1/admin", system::routes::api_router())
        .nest("/api/v1", identity::routes::router())
        .nest("/api/v1", audit::routes::router())
        .nest("/api/v1", inbox::routes::router())
        .nest("/api/v1", inbox::saved_replies::routes::router())
        .nest("/api/v1", channels::routes::router())
        .nest("/api/v1", channels::sync_api::router())
        .nest("/api/v1", pipeline::routes::router())
        .nest("/api/v1", pipeline::replies::routes::router())
        .nest("/api/v1", automations::routes::router())
        .nest("/api/v1", automations::routes_notifications::router())
        .merge(automations::routes::intake_router())
        .merge(channels::webhooks::router())
        .merge(channels::routes::callback_router());
    openapi::document_shared_answers(routes.get_openapi_mut());
    routes
}

/// The complete OpenAPI document, as served at `/api/v1/openapi.json`.
pub fn api_document() -> utoipa::openapi::OpenApi {
    api_routes().split_for_parts().1
}

/// The whole HTTP application with its middleware.
pub fn router(state: AppState) -> Router {
    let (api, document) = api_routes().split_for_parts();
    let config = state.config.clone();
    let http = &config.http;
    let request_id = HeaderName::from_static("x-request-id");
    // Outermost first. The envelope sits outside the layers whose own answers it rewrites
    // (panics, CORS, timeouts, body limits) and inside compression, so it reads plain bodies;
    // the security headers go on outside it, on every answer in its final form.
    let outer = ServiceBuilder::new()
        .layer(SetRequestIdLayer::new(request_id.clone(), MakeRequestUuid))
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(|request: &Request<Body>| {
                    let id = request.headers().get("x-request-id").and_then(|v| v.to_str().ok()).unwrap_or("-");
                    tracing::info_span!("request", method = %request.method(), path = %request.uri().path(), request_id = %id)
                })
                .on_response(DefaultOnResponse::new().level(tracing::Level::INFO)),
        )
        .layer(PropagateRequestIdLayer::new(request_id))
        .layer(CompressionLayer::new())
        .layer(axum::middleware::from_fn(security_headers))
        .layer(axum::middleware::from_fn(error_envelope));
    let body_limit = DefaultBodyLimit::max(http.max_body_bytes);
    Router::new()
        .merge(api)
        .merge(system::pages::router())
        .merge(identity::pages::router())
        .merge(inbox::pages::router())
        .merge(channels::pages::router())
        .merge(automations::pages::router())
        .merge(automations::pages_notifications::router())
        .merge(automations::crm::pages::router())
        .merge(pipeline::replies::pages::router())
        .merge(mail::pages::router(&config))
        .merge(dashboard::router())
        .merge(SwaggerUi::new("/docs").url("/api/v1/openapi.json", document))
        .fallback(route_not_found)
        // Error pages (the unknown paths' 404 too) keep a signed-in member's header.
        .layer(axum::middleware::from_fn_with_state(state.clone(), dashboard::page::signed_in_error_pages))
        // Dashboard pages: an expired access cookie is refreshed from the refresh cookie.
        .layer(axum::middleware::from_fn_with_state(state.clone(), identity::session::refresh_session))
        .layer(axum::Extension(ClientAddressPolicy { trust_forwarded_for: http.trust_forwarded_for }))
        .layer(axum::middleware::from_fn(quota_headers))
        .layer(axum::middleware::from_fn(track_metrics))
        .layer(body_limit)
        .with_state(state)
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            Duration::from_secs(http.request_timeout_secs),
        ))
        .layer(tower::util::option_layer(cors(&http.cors_allowed_origins)))
        .layer(RequestBodyLimitLayer::new(http.max_body_bytes))
        .layer(CatchPanicLayer::new())
        .layer(outer)
}

fn cors(origins: &[String]) -> Option<CorsLayer> {
    if origins.is_empty() {
        return None;
    }
    let allow_origin = if origins.iter().any(|o| o == "*") {
        AllowOrigin::from(Any)
    } else {
        AllowOrigin::list(origins.iter().filter_map(|o| HeaderValue::from_str(o).ok()))
    };
    Some(
        CorsLayer::new()
            .allow_origin(allow_origin)
            .allow_methods([Method::GET, Method::POST, Method::PUT, Method::PATCH, Method::DELETE])
            .allow_headers([header::AUTHORIZATION, header::CONTENT_TYPE])
            .expose_headers([HeaderName::from_static("x-request-id")]),
    )
}

/// A bound, ready-to-run `serve` process.
pub struct Application {
    listener: TcpListener,
    state: AppState,
}

impl Application {
    /// Prepares the state and binds the listen address (port 0 picks a free port).
    pub async fn build(config: Config) -> Result<Self, StartError> {
        let addr = config.listen;
        let state = prepare(config).await?;
        let listener = TcpListener::bind(addr).await.map_err(|source| StartError::Bind { addr, source })?;
        Ok(Self { listener, state })
    }

    /// The address actually bound.
    pub fn local_addr(&self) -> SocketAddr {
        self.listener.local_addr().unwrap_or_else(|_| self.state.config.listen)
    }

    /// The shared state (for tests and the CLI).
    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// Serves HTTP and runs the workers until `shutdown`; then finishes in-flight requests and jobs.
    pub async fn run(self, shutdown: CancellationToken) -> Result<(), StartError> {
        let addr = self.local_addr();
        let Application { listener, state } = self;
        let workers = tokio::spawn(run_workers(state.clone(), shutdown.clone()));
        tokio::spawn(state.live().clone().relay(shutdown.clone()));
        let (live, stopping) = (state.live().clone(), shutdown.clone());
        tokio::spawn(async move {
            stopping.cancelled().await;
            live.close();
        });
        // The demo simulator posts to our own /webhooks (off with `demo.simulate = false`; idle
        // while there is no demo workspace).
        crate::demo::simulator::spawn(&state, addr, shutdown.clone());
        let db = state.db.clone();
        let served = axum::serve(listener, router(state).into_make_service_with_connect_info::<SocketAddr>())
            .with_graceful_shutdown(shutdown.clone().cancelled_owned())
            .await
            .map_err(StartError::Serve);
        shutdown.cancel();
        let _ = workers.await;
        db.close().await;
        served
    }
}
