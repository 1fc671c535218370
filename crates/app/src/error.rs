use ontask_domain::ValidationErrors;
use ontask_store::StoreError;
use thiserror::Error;

/// What can go wrong in a use case, in terms a front door can map to its own
/// protocol (HTTP status, MCP tool error, CLI exit code).
#[derive(Debug, Error)]
pub enum AppError {
    #[error("invalid input: {0}")]
    Validation(ValidationErrors),
    #[error("not found")]
    NotFound,
    #[error("{0}")]
    Conflict(String),
    #[error("the resource has changed (current version {current})")]
    PreconditionFailed { current: i64 },
    #[error("{0}")]
    Unauthorized(String),
    #[error("{0}")]
    Forbidden(String),
    #[error("the same Idempotency-Key was used with a different request")]
    IdempotencyKeyReused,
    #[error("a request with this Idempotency-Key is still being processed")]
    IdempotencyKeyInFlight,
    #[error("a dependency is unavailable")]
    Unavailable(#[source] StoreError),
    /// Too much of one kind of work at once (password hashing): refused now
    /// rather than queued without bound; worth retrying in a moment.
    #[error("{0}")]
    Busy(String),
    /// Past a rate limit ([`crate::limits`]); the same request may be made again
    /// after `retry_after`.
    #[error("too many requests; try again in {} s", retry_after.as_secs())]
    RateLimited { limit: crate::limits::Limit, retry_after: std::time::Duration },
    #[error("internal error")]
    Internal(#[source] Box<dyn std::error::Error + Send + Sync>),
}

impl AppError {
    pub fn internal(e: impl std::error::Error + Send + Sync + 'static) -> Self {
        Self::Internal(Box::new(e))
    }

    pub fn validation(field: &str, message: impl Into<String>) -> Self {
        Self::Validation(ValidationErrors::single(field, message))
    }
}

impl From<ValidationErrors> for AppError {
    fn from(e: ValidationErrors) -> Self {
        Self::Validation(e)
    }
}

impl From<StoreError> for AppError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound => Self::NotFound,
            StoreError::Conflict(m) => Self::Conflict(m),
            e if e.is_unavailable() => Self::Unavailable(e),
            other => Self::internal(other),
        }
    }
}
