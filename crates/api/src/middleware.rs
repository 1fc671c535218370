//! Cross-cutting layers: request id and trace context, the request span, HTTP
//! metrics, body limit, panic guard.
use std::time::Instant;

use axum::body::Body;
use axum::extract::{MatchedPath, Request};
use axum::http::{HeaderName, HeaderValue, Response};
use axum::middleware::Next;
use axum::response::IntoResponse;
use ontask_telemetry::metrics as m;
use ontask_telemetry::trace::{RequestMeta, TraceContext};
use tracing::Instrument;

use crate::error::ApiError;

static REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The route template that answered, passed out to [`observe`] (which runs
/// before routing and so cannot see it on the request).
#[derive(Clone)]
struct Route(String);

/// Applied with `route_layer`, so it sees the matched route template.
pub async fn remember_route(req: Request, next: Next) -> Response<Body> {
    let route = req.extensions().get::<MatchedPath>().map(|p| Route(p.as_str().to_owned()));
    let mut response = next.run(req).await;
    if let Some(route) = route {
        response.extensions_mut().insert(route);
    }
    response
}

pub fn on_panic(_: Box<dyn std::any::Any + Send>) -> Response<Body> {
    ApiError::Internal("a handler panicked".into()).into_response()
}

/// Gives every request an id (the client's `X-Request-Id` if sane) and a trace
/// context, runs it in a span carrying both, and records the HTTP metrics.
pub async fn observe(mut req: Request, next: Next) -> Response<Body> {
    let request_id = req
        .headers()
        .get(&REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty() && v.len() <= 128 && v.bytes().all(|b| b.is_ascii_graphic()))
        .map(str::to_owned)
        .unwrap_or_else(|| uuid::Uuid::now_v7().to_string());
    let mut trace = TraceContext::from_traceparent(req.headers().get("traceparent").and_then(|v| v.to_str().ok()));
    let method = req.method().clone();
    // A server span in OpenTelemetry's HTTP conventions: named `{method}
    // {route}` once the route is known (the method alone for no route), with
    // the conventions' attribute names, which the log lines carry too.
    let span = tracing::info_span!(
        "request",
        otel.name = %method,
        otel.kind = "server",
        otel.status_code = tracing::field::Empty,
        request_id = %request_id,
        trace_id = tracing::field::Empty,
        http.request.method = %method,
        http.route = tracing::field::Empty,
        http.response.status_code = tracing::field::Empty,
        error.r#type = tracing::field::Empty,
        url.path = req.uri().path(),
        url.scheme = "http",
        network.protocol.version = protocol_version(req.version()),
        user_agent.original = req.headers().get(axum::http::header::USER_AGENT).and_then(|v| v.to_str().ok()),
    );
    trace.attach_to(&span);
    span.record("trace_id", trace.trace_id.as_str());
    req.extensions_mut().insert(RequestMeta { request_id: request_id.clone(), trace });

    let started = Instant::now();
    let in_flight = metrics::gauge!(m::HTTP_CONNECTIONS_ACTIVE);
    in_flight.increment(1.0);
    let mut response = next.run(req).instrument(span.clone()).await;
    in_flight.decrement(1.0);
    let elapsed = started.elapsed();

    let route = match response.extensions().get::<Route>() {
        Some(Route(route)) => {
            span.record("otel.name", format_args!("{method} {route}"));
            span.record("http.route", route.as_str());
            route.clone()
        }
        None => "unmatched".to_owned(),
    };
    span.record("http.response.status_code", response.status().as_u16());
    if response.status().is_server_error() {
        span.record("error.type", response.status().as_str());
        ontask_telemetry::trace::record_failure(&span);
    }
    let status = response.status().as_u16().to_string();
    let labels = [("method", method.to_string()), ("route", route), ("status", status)];
    metrics::counter!(m::HTTP_REQUESTS_TOTAL, &labels).increment(1);
    metrics::histogram!(m::HTTP_REQUEST_DURATION, &labels).record(elapsed.as_secs_f64());
    span.in_scope(|| {
        tracing::info!(
            status = response.status().as_u16(),
            duration_ms = elapsed.as_secs_f64() * 1000.0,
            "request finished"
        );
    });
    if let Ok(v) = HeaderValue::from_str(&request_id) {
        response.headers_mut().insert(REQUEST_ID.clone(), v);
    }
    response
}

/// `network.protocol.version` of OpenTelemetry's HTTP conventions.
fn protocol_version(version: axum::http::Version) -> &'static str {
    match version {
        axum::http::Version::HTTP_09 => "0.9",
        axum::http::Version::HTTP_10 => "1.0",
        axum::http::Version::HTTP_2 => "2",
        axum::http::Version::HTTP_3 => "3",
        _ => "1.1",
    }
}
