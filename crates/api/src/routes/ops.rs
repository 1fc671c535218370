//! Operational endpoints: health, liveness, readiness, metrics.
use std::future::Future;
use std::time::{Duration, Instant};

use axum::Json;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use ontask_store::events;
use serde::Serialize;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::{ApiError, ApiState};

/// Each dependency check gets this long, so `/health` answers within 100 ms.
const CHECK_TIMEOUT: Duration = Duration::from_millis(80);

pub fn router() -> OpenApiRouter<ApiState> {
    OpenApiRouter::new()
        .routes(routes!(health))
        .routes(routes!(livez))
        .routes(routes!(readyz))
        .routes(routes!(metrics_text))
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct Check {
    /// `up`, `degraded` (working, but past a bound: the SQLite WAL) or `down`.
    status: &'static str,
    latency_ms: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    details: Option<serde_json::Value>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct Checks {
    database: Check,
    event_log: Check,
    bus: Check,
    /// The circuit breakers on outbound calls, per kind of peer: `degraded`
    /// while one that the service relies on (SMTP, the LLM, the Dapr sidecar)
    /// is not closed; webhook receivers are their owners' and only counted.
    outbound: Check,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct HealthReport {
    /// `healthy`, `degraded` (answers 200; a check is degraded) or `unhealthy` (503).
    status: &'static str,
    timestamp: DateTime<Utc>,
    version: &'static str,
    uptime_seconds: u64,
    checks: Checks,
}

async fn check<F, T, E>(f: F) -> (Check, Option<T>)
where
    F: Future<Output = Result<T, E>>,
    E: std::fmt::Display,
{
    let started = Instant::now();
    let result = tokio::time::timeout(CHECK_TIMEOUT, f).await;
    let latency_ms = started.elapsed().as_secs_f64() * 1000.0;
    match result {
        Ok(Ok(v)) => (Check { status: "up", latency_ms, error: None, details: None }, Some(v)),
        Ok(Err(e)) => (Check { status: "down", latency_ms, error: Some(e.to_string()), details: None }, None),
        Err(_) => (Check { status: "down", latency_ms, error: Some("timed out".into()), details: None }, None),
    }
}

/// Status of the service and each dependency (FR-010/011): 200 when every
/// critical dependency is up, 503 otherwise.
#[utoipa::path(get, path = "/health", tag = "operations",
    responses((status = 200, body = HealthReport), (status = 503, body = HealthReport)))]
pub async fn health(State(state): State<ApiState>) -> Response {
    let db = state.app.db().clone();
    let (database, log, bus) = tokio::join!(
        check(db.ping()),
        check(async {
            let mut conn = state.app.db().read().await?;
            let (head, published) = events::heads(&mut conn).await?;
            Ok::<_, ontask_store::StoreError>((head, published))
        }),
        check(state.bus.health()),
    );
    let (mut database, _) = database;
    // A WAL over its bound: writes go on, but the disk fills until a checkpoint catches up.
    if let Some(wal) = state.app.db().wal() {
        if database.status == "up" && wal.over_limit() {
            database.status = "degraded";
        }
        database.details = Some(serde_json::json!({ "wal_bytes": wal.bytes, "wal_limit_bytes": wal.limit }));
    }
    let (mut event_log, heads) = log;
    if let Some((head, published)) = heads {
        event_log.details =
            Some(serde_json::json!({ "head": head, "published": published, "unpublished": head - published }));
    }
    let (mut bus_check, _) = bus;
    bus_check.details = Some(serde_json::json!({ "kind": state.bus.kind() }));
    let outbound = outbound_check(state.app.breakers());
    let healthy = database.status != "down" && event_log.status == "up" && bus_check.status == "up";
    let degraded = database.status == "degraded" || outbound.status == "degraded";
    let report = HealthReport {
        status: match (healthy, degraded) {
            (false, _) => "unhealthy",
            (true, true) => "degraded",
            (true, false) => "healthy",
        },
        timestamp: Utc::now(),
        version: env!("CARGO_PKG_VERSION"),
        uptime_seconds: state.started.elapsed().as_secs(),
        checks: Checks { database, event_log, bus: bus_check, outbound },
    };
    let status = if healthy { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
    (status, [(header::CACHE_CONTROL, "no-store")], Json(report)).into_response()
}

fn outbound_check(breakers: &ontask_telemetry::breaker::Breakers) -> Check {
    let reports = breakers.report();
    let tripped: Vec<&str> =
        reports.iter().filter(|r| r.peer.is_dependency() && r.tripped()).map(|r| r.peer.as_str()).collect();
    Check {
        status: if tripped.is_empty() { "up" } else { "degraded" },
        latency_ms: 0.0,
        error: (!tripped.is_empty()).then(|| format!("circuit breaker open: {}", tripped.join(", "))),
        details: Some(serde_json::json!({ "circuit_breakers": reports })),
    }
}

/// What `/livez` and `/readyz` answer.
#[derive(Serialize, utoipa::ToSchema)]
pub struct Probe {
    /// `ok` (alive), `ready`, or why not ready: `shutting down`,
    /// `live feed not ready`, `database unavailable`.
    #[schema(example = "ready")]
    status: &'static str,
}

fn probe(status: StatusCode, what: &'static str) -> Response {
    (status, Json(Probe { status: what })).into_response()
}

/// The process is alive (no dependency is checked).
#[utoipa::path(get, path = "/livez", tag = "operations", responses((status = 200, body = Probe)))]
pub async fn livez() -> Response {
    probe(StatusCode::OK, "ok")
}

/// Ready for traffic: the database answers, the live feed of event streams
/// sees every update (Kafka: the updates topic is assigned), and shutdown has
/// not begun.
#[utoipa::path(get, path = "/readyz", tag = "operations",
    responses((status = 200, body = Probe), (status = 503, body = Probe, description = "Not ready; `status` says why")))]
pub async fn readyz(State(state): State<ApiState>) -> Response {
    if state.shutdown.is_cancelled() {
        return probe(StatusCode::SERVICE_UNAVAILABLE, "shutting down");
    }
    if !state.bus.live_feed_ready() {
        return probe(StatusCode::SERVICE_UNAVAILABLE, "live feed not ready");
    }
    match tokio::time::timeout(CHECK_TIMEOUT, state.app.db().ping()).await {
        Ok(Ok(())) => probe(StatusCode::OK, "ready"),
        _ => probe(StatusCode::SERVICE_UNAVAILABLE, "database unavailable"),
    }
}

/// Prometheus text exposition.
#[utoipa::path(get, path = "/metrics", tag = "operations", responses((status = 200, content_type = "text/plain", body = String)))]
pub async fn metrics_text() -> impl IntoResponse {
    let body = ontask_telemetry::metrics::handle().render();
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], body)
}

pub async fn not_found() -> ApiError {
    ApiError::NotFound
}

pub async fn method_not_allowed() -> ApiError {
    ApiError::MethodNotAllowed
}
