//! The HTTP front door: REST under `/api/v1`, authentication, RFC 9457 errors,
//! the OpenAPI document and its docs UI, realtime streams (SSE and WebSocket),
//! the CalDAV server (`/dav/`, `routes::dav`),
//! and the operational endpoints (`/health`, `/livez`, `/readyz`, `/metrics`).
//!
//! Each module under `routes` owns its `router()`; [`router`] merges them and
//! wraps them in the cross-cutting layers (request id, tracing, metrics, body
//! limit, panic guard).
#![forbid(unsafe_code)]

pub mod asyncapi;
mod docs;
mod error;
pub mod export_schema;
mod extract;
mod idempotency;
mod middleware;
mod openapi;
mod responses;
mod routes;

use std::sync::Arc;
use std::time::Instant;

use axum::Router;
pub use error::ApiError;
use ontask_app::App;
use ontask_bus::EventBus;
pub use openapi::document as openapi_document;
use tokio_util::sync::CancellationToken;
use utoipa_axum::router::OpenApiRouter;

/// Settings of the HTTP layer.
#[derive(Debug, Clone)]
pub struct ApiConfig {
    /// Mark the session cookie `Secure` (behind HTTPS).
    pub cookie_secure: bool,
    /// Largest accepted request body.
    pub body_limit: usize,
    /// The address people reach the server at (`public_url`), for the URLs
    /// the API hands out (the calendar feed's); the request's `Host` when unset.
    pub public_url: Option<String>,
    /// How often realtime streams are pinged (a WebSocket ping, an SSE
    /// comment); a WebSocket peer silent for two of these is dropped.
    pub realtime_ping: std::time::Duration,
}

impl Default for ApiConfig {
    fn default() -> Self {
        Self {
            cookie_secure: false,
            body_limit: 1024 * 1024,
            public_url: None,
            realtime_ping: std::time::Duration::from_secs(15),
        }
    }
}

/// Shared by every handler.
#[derive(Clone)]
pub struct ApiState {
    pub app: App,
    pub bus: Arc<dyn EventBus>,
    pub config: Arc<ApiConfig>,
    /// Fires at shutdown: long-lived streams end so the server can drain.
    pub shutdown: CancellationToken,
    pub started: Instant,
}

/// Where the operational endpoints (`/health`, `/livez`, `/readyz`,
/// `/metrics`) are served.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpsEndpoints {
    /// Beside the rest, on the one listener.
    Here,
    /// On a listener of their own ([`ops_router`]), which no public route
    /// reaches: the main listener answers them 404.
    Elsewhere,
}

impl OpsEndpoints {
    fn routes(self) -> Router<ApiState> {
        match self {
            Self::Here => Router::from(routes::ops::router()),
            Self::Elsewhere => Router::new(),
        }
    }
}

/// Only the operational endpoints, for processes that run no API role or for
/// their own listener.
pub fn ops_router(state: ApiState) -> Router {
    base_router(state, OpsEndpoints::Here)
}

/// The operational endpoints where they belong and the 404 fallback, for a
/// process that runs no API role.
pub fn base_router(state: ApiState, ops: OpsEndpoints) -> Router {
    Router::new()
        .merge(ops.routes())
        .fallback(routes::ops::not_found)
        .route_layer(axum::middleware::from_fn(middleware::remember_route))
        .with_state(state)
        .layer(axum::middleware::from_fn(middleware::observe))
}

pub use routes::dapr::DaprRoutes;

/// Routes served beside the API's (the web UI, MCP, the Dapr callbacks) with
/// the layers every route has: request id and trace context, the request span
/// and log line, HTTP metrics, and the panic guard. (Axum applies a router's
/// layers only to the routes it had when they were added, so each router that
/// is merged in is observed on its own.)
pub fn observed(routes: Router) -> Router {
    routes
        .route_layer(axum::middleware::from_fn(middleware::remember_route))
        .layer(tower_http::catch_panic::CatchPanicLayer::custom(middleware::on_panic))
        .layer(axum::middleware::from_fn(middleware::observe))
}

/// The routes the Dapr sidecar calls (Dapr mode); merged next to [`router`]
/// or [`ops_router`].
pub fn dapr_router(routes: DaprRoutes) -> Router {
    observed(routes::dapr::router(routes))
}

/// The chat agent's routes (`/api/v1/chat`, `/api/v1/conversations`), served
/// by the agent role; no fallback, so it merges with [`router`] or [`ops_router`].
pub fn chat_router(state: ApiState, agent: ontask_agent::chat::ChatAgent) -> Router {
    Router::new()
        .nest("/api/v1", Router::from(routes::chat::router()))
        .layer(axum::Extension(agent))
        .route_layer(axum::middleware::from_fn(middleware::remember_route))
        .with_state(state.clone())
        .layer(tower_http::catch_panic::CatchPanicLayer::custom(middleware::on_panic))
        .layer(axum::extract::DefaultBodyLimit::max(state.config.body_limit))
        .layer(axum::middleware::from_fn(middleware::observe))
}

/// The REST API (under `/api/v1`), each route registered with its OpenAPI
/// operation: [`openapi::document`] is built from the same routers, so the
/// document lists exactly what is routed.
fn rest() -> OpenApiRouter<ApiState> {
    OpenApiRouter::new()
        .merge(routes::auth::router())
        .merge(routes::tasks::router())
        .merge(routes::projects::router())
        .merge(routes::comments::router())
        .merge(routes::export::router())
        .merge(routes::import::router())
        .merge(routes::calendar::router())
        .merge(routes::notifications::router())
        .merge(routes::webhooks::router())
        .merge(routes::push::router())
        .merge(routes::admin::router())
        .merge(routes::realtime::router())
}

/// The whole HTTP surface (the operational endpoints where `ops` says).
pub fn router(state: ApiState, ops: OpsEndpoints) -> Router {
    let api = Router::from(rest())
        // Inside the idempotency layer too, so a panicking handler becomes a 500
        // that releases its Idempotency-Key instead of leaving it "in progress".
        .layer(tower_http::catch_panic::CatchPanicLayer::custom(middleware::on_panic))
        .layer(axum::middleware::from_fn_with_state(state.clone(), idempotency::layer));
    Router::new()
        .nest("/api/v1", api)
        .merge(ops.routes())
        .merge(Router::from(routes::dav::router()))
        .merge(openapi::router())
        .merge(asyncapi::router())
        .fallback(routes::ops::not_found)
        .method_not_allowed_fallback(routes::ops::method_not_allowed)
        .route_layer(axum::middleware::from_fn(middleware::remember_route))
        .with_state(state.clone())
        .layer(tower_http::catch_panic::CatchPanicLayer::custom(middleware::on_panic))
        .layer(axum::extract::DefaultBodyLimit::max(state.config.body_limit))
        .layer(axum::middleware::from_fn(middleware::observe))
}
