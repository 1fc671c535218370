//! `Idempotency-Key` on POST: the first request with a key runs and its answer
//! is stored; a retry with the same key and body gets that answer again; the
//! same key with another body is refused (422).
use std::collections::BTreeMap;

use axum::body::{Body, to_bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderName, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use ontask_app::AppError;
use ontask_store::idempotency::{Reservation, StoredResponse};
use sha2::{Digest, Sha256};

use crate::extract::authenticate;
use crate::{ApiError, ApiState};

const HEADER: &str = "idempotency-key";
const MAX_KEY_LEN: usize = 255;
/// Headers worth replaying; the rest are regenerated per answer.
const KEPT_HEADERS: [&str; 3] = ["content-type", "location", "etag"];

pub async fn layer(State(state): State<ApiState>, req: Request, next: Next) -> Response {
    if req.method() != Method::POST || !req.headers().contains_key(HEADER) {
        return next.run(req).await;
    }
    match handle(state, req, next).await {
        Ok(r) | Err(r) => r,
    }
}

async fn handle(state: ApiState, req: Request, next: Next) -> Result<Response, Response> {
    let key = req.headers().get(HEADER).and_then(|v| v.to_str().ok()).unwrap_or("").trim().to_owned();
    if key.is_empty() || key.len() > MAX_KEY_LEN {
        return Err(ApiError::BadRequest(format!("Idempotency-Key must be 1 to {MAX_KEY_LEN} visible characters"))
            .into_response());
    }
    let (mut parts, body) = req.into_parts();
    // Keys are per account; a request that is not signed in runs normally.
    let Ok(actor) = authenticate(&parts, &state).await else {
        return Ok(next.run(Request::from_parts(parts, body)).await);
    };
    parts.extensions.insert(actor.clone());
    let bytes = to_bytes(body, state.config.body_limit).await.map_err(|_| ApiError::PayloadTooLarge.into_response())?;
    let mut hasher = Sha256::new();
    hasher.update(parts.uri.path().as_bytes());
    hasher.update([0]);
    hasher.update(&bytes);
    let request_hash = hex::encode(hasher.finalize());

    let keys = state.app.idempotency();
    let reservation =
        keys.reserve(actor.user_id, &key, &request_hash).await.map_err(|e| ApiError::from(e).into_response())?;
    match reservation {
        Reservation::Reserved => {}
        Reservation::Mismatch => return Err(ApiError::from(AppError::IdempotencyKeyReused).into_response()),
        Reservation::Replay(None) => return Err(ApiError::from(AppError::IdempotencyKeyInFlight).into_response()),
        Reservation::Replay(Some(stored)) => return Ok(replay(stored)),
    }

    let response = next.run(Request::from_parts(parts, Body::from(bytes))).await;
    let (parts, body) = response.into_parts();
    let bytes = to_bytes(body, usize::MAX).await.unwrap_or_default();
    let result = if parts.status.is_server_error() {
        // Let the client retry a failure that was ours.
        keys.release(actor.user_id, &key).await
    } else {
        let headers: BTreeMap<&str, &str> = KEPT_HEADERS
            .iter()
            .filter_map(|h| parts.headers.get(*h).and_then(|v| v.to_str().ok()).map(|v| (*h, v)))
            .collect();
        let stored = StoredResponse {
            status: parts.status.as_u16(),
            headers: serde_json::to_string(&headers).unwrap_or_else(|_| "{}".into()),
            body: String::from_utf8_lossy(&bytes).into_owned(),
        };
        keys.complete(actor.user_id, &key, &stored).await
    };
    if let Err(e) = result {
        tracing::warn!(error = %ontask_telemetry::error_chain(&e), "could not store the idempotent answer");
    }
    Ok(Response::from_parts(parts, Body::from(bytes)))
}

fn replay(stored: StoredResponse) -> Response {
    let mut response = Response::new(Body::from(stored.body));
    *response.status_mut() = StatusCode::from_u16(stored.status).unwrap_or(StatusCode::OK);
    let headers: BTreeMap<String, String> = serde_json::from_str(&stored.headers).unwrap_or_default();
    for (name, value) in headers {
        if let (Ok(n), Ok(v)) = (HeaderName::try_from(name), HeaderValue::try_from(value)) {
            response.headers_mut().insert(n, v);
        }
    }
    response.headers_mut().insert("idempotent-replayed", HeaderValue::from_static("true"));
    response
}
