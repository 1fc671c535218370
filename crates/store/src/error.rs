use thiserror::Error;

/// What a database driver reported (sqlx's, or rusqlite's on the SQLite writer thread).
pub type DriverError = Box<dyn std::error::Error + Send + Sync>;

#[derive(Debug, Error)]
pub enum StoreError {
    #[error("not found")]
    NotFound,
    #[error("conflict: {0}")]
    Conflict(String),
    /// The database cannot be reached or is overloaded; worth retrying later.
    #[error("database unavailable")]
    Unavailable(#[source] DriverError),
    #[error("database error")]
    Database(#[source] DriverError),
    #[error("stored data is not valid: {0}")]
    Corrupt(String),
    /// The group commit this write belonged to failed: none of it was
    /// committed. Every member of the batch gets the same cause.
    #[error("the write's batch was not committed")]
    Batch(#[source] std::sync::Arc<StoreError>),
}

impl StoreError {
    pub fn is_unavailable(&self) -> bool {
        match self {
            Self::Unavailable(_) => true,
            Self::Batch(cause) => cause.is_unavailable(),
            _ => false,
        }
    }
}

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        match e {
            sqlx::Error::RowNotFound => Self::NotFound,
            sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::Io(_) | sqlx::Error::Tls(_) => {
                Self::Unavailable(e.into())
            }
            sqlx::Error::Database(ref db) if db.is_unique_violation() => Self::Conflict(db.message().to_owned()),
            // SQLITE_BUSY / SQLITE_LOCKED after the busy timeout: overloaded, not broken.
            sqlx::Error::Database(ref db) if matches!(db.code().as_deref(), Some("5" | "6" | "517")) => {
                Self::Unavailable(e.into())
            }
            // PostgreSQL: connection exceptions (08xxx), admin shutdown (57P01..03),
            // "cannot connect now" (57P03), serialization failure and deadlock
            // (40001, 40P01: the transaction was rolled back and may simply be retried).
            sqlx::Error::Database(ref db)
                if db.code().is_some_and(|c| c.starts_with("08") || c.starts_with("57P") || c.starts_with("40")) =>
            {
                Self::Unavailable(e.into())
            }
            other => Self::Database(other.into()),
        }
    }
}

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        use rusqlite::ffi;
        match e {
            rusqlite::Error::SqliteFailure(ref failure, ref message)
                if matches!(
                    failure.extended_code,
                    ffi::SQLITE_CONSTRAINT_UNIQUE | ffi::SQLITE_CONSTRAINT_PRIMARYKEY
                ) =>
            {
                Self::Conflict(message.clone().unwrap_or_else(|| failure.to_string()))
            }
            // Busy or locked after the busy timeout: overloaded, not broken.
            rusqlite::Error::SqliteFailure(ref failure, _)
                if matches!(failure.code, rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked) =>
            {
                Self::Unavailable(e.into())
            }
            other => Self::Database(other.into()),
        }
    }
}

impl From<serde_json::Error> for StoreError {
    fn from(e: serde_json::Error) -> Self {
        Self::Corrupt(e.to_string())
    }
}
