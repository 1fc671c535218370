//! Every error answer is RFC 9457 `application/problem+json`. Server-side
//! details go to the log, never to the client.
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use ontask_app::AppError;
use ontask_domain::FieldError;
use ontask_telemetry::error_chain;
use ontask_telemetry::metrics as m;
use serde::Serialize;

pub const PROBLEM_BASE: &str = "https://ontask.dev/problems/";

/// The body of every error answer.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Problem {
    /// A URI naming the kind of problem.
    #[serde(rename = "type")]
    pub kind: String,
    pub title: String,
    pub status: u16,
    pub detail: String,
    /// Every invalid field, for validation errors.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    #[schema(value_type = Vec<Object>)]
    pub errors: Vec<FieldError>,
}

#[derive(Debug)]
pub enum ApiError {
    App(AppError),
    BadRequest(String),
    UnsupportedMediaType(String),
    PayloadTooLarge,
    NotFound,
    MethodNotAllowed,
    Internal(String),
    /// An upstream service (the chat model) failed; the detail is for the client.
    BadGateway(String),
    /// An upstream service (the chat model) did not answer in time.
    GatewayTimeout(String),
    /// An upstream service (the chat model) is failing or fully busy: not
    /// tried now; worth trying again after `retry_after`.
    UpstreamUnavailable {
        detail: String,
        retry_after: std::time::Duration,
    },
}

impl From<AppError> for ApiError {
    fn from(e: AppError) -> Self {
        Self::App(e)
    }
}

impl From<ontask_domain::ValidationErrors> for ApiError {
    fn from(e: ontask_domain::ValidationErrors) -> Self {
        Self::App(AppError::Validation(e))
    }
}

impl ApiError {
    fn parts(&self) -> (StatusCode, &'static str, &'static str, String) {
        use StatusCode as S;
        match self {
            Self::App(e) => match e {
                AppError::Validation(v) => (S::UNPROCESSABLE_ENTITY, "validation", "Invalid input", v.to_string()),
                AppError::NotFound => (S::NOT_FOUND, "not-found", "Not found", "no such resource".into()),
                AppError::Conflict(m) => (S::CONFLICT, "conflict", "Conflict", m.clone()),
                AppError::PreconditionFailed { .. } => {
                    (S::PRECONDITION_FAILED, "precondition-failed", "Precondition failed", e.to_string())
                }
                AppError::Unauthorized(m) => (S::UNAUTHORIZED, "unauthorized", "Unauthorized", m.clone()),
                AppError::Forbidden(m) => (S::FORBIDDEN, "forbidden", "Forbidden", m.clone()),
                AppError::IdempotencyKeyReused => {
                    (S::UNPROCESSABLE_ENTITY, "idempotency-key-reused", "Idempotency key reused", e.to_string())
                }
                AppError::IdempotencyKeyInFlight => (S::CONFLICT, "conflict", "Request in progress", e.to_string()),
                AppError::Unavailable(_) => (
                    S::SERVICE_UNAVAILABLE,
                    "unavailable",
                    "Service unavailable",
                    "a dependency is unavailable; try again shortly".into(),
                ),
                AppError::Busy(m) => (S::SERVICE_UNAVAILABLE, "busy", "Busy", m.clone()),
                AppError::RateLimited { .. } => {
                    (S::TOO_MANY_REQUESTS, "rate-limited", "Too many requests", e.to_string())
                }
                AppError::Internal(_) => {
                    (S::INTERNAL_SERVER_ERROR, "internal", "Internal error", "see the server log".into())
                }
            },
            Self::BadRequest(m) => (S::BAD_REQUEST, "bad-request", "Bad request", m.clone()),
            Self::UnsupportedMediaType(m) => {
                (S::UNSUPPORTED_MEDIA_TYPE, "unsupported-media-type", "Unsupported media type", m.clone())
            }
            Self::PayloadTooLarge => {
                (S::PAYLOAD_TOO_LARGE, "payload-too-large", "Payload too large", "the request body is too large".into())
            }
            Self::NotFound => (S::NOT_FOUND, "not-found", "Not found", "no such route".into()),
            Self::MethodNotAllowed => (
                S::METHOD_NOT_ALLOWED,
                "method-not-allowed",
                "Method not allowed",
                "this route does not accept that method".into(),
            ),
            Self::Internal(_) => (S::INTERNAL_SERVER_ERROR, "internal", "Internal error", "see the server log".into()),
            Self::BadGateway(m) => (S::BAD_GATEWAY, "bad-gateway", "Bad gateway", m.clone()),
            Self::GatewayTimeout(m) => (S::GATEWAY_TIMEOUT, "gateway-timeout", "Gateway timeout", m.clone()),
            Self::UpstreamUnavailable { detail, .. } => {
                (S::SERVICE_UNAVAILABLE, "unavailable", "Service unavailable", detail.clone())
            }
        }
    }

    /// The problem document this error answers with (also sent inside event streams).
    pub fn problem(&self) -> Problem {
        let (status, slug, title, detail) = self.parts();
        let errors = match self {
            Self::App(AppError::Validation(v)) => v.fields().to_vec(),
            _ => Vec::new(),
        };
        Problem { kind: format!("{PROBLEM_BASE}{slug}"), title: title.into(), status: status.as_u16(), detail, errors }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, slug, _, _) = self.parts();
        let problem = self.problem();
        match &self {
            Self::App(e @ (AppError::Internal(_) | AppError::Unavailable(_))) => {
                tracing::error!(error = %error_chain(e), "request failed");
            }
            Self::Internal(m) => tracing::error!(error = %m, "request failed"),
            _ => {}
        }
        metrics::counter!(m::HTTP_ERRORS_TOTAL, "type" => slug).increment(1);
        let mut response = (status, axum::Json(problem)).into_response();
        let headers = response.headers_mut();
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/problem+json"));
        if status == StatusCode::UNAUTHORIZED {
            headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer realm=\"ontask\""));
        }
        // Overload and outages are short: a well-behaved client waits a second.
        if status == StatusCode::SERVICE_UNAVAILABLE {
            headers.insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        }
        if let Self::App(AppError::RateLimited { retry_after, .. }) | Self::UpstreamUnavailable { retry_after, .. } =
            &self
        {
            // Whole seconds, rounded up: waiting that long is enough.
            let seconds = retry_after.as_secs() + u64::from(retry_after.subsec_nanos() > 0);
            headers.insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        if let Self::App(AppError::PreconditionFailed { current }) = &self
            && let Ok(v) = HeaderValue::from_str(&format!("\"{current}\""))
        {
            headers.insert(header::ETAG, v);
        }
        response
    }
}
