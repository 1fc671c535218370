//! Persistence for ontask: the SQL schema and migrations, the repositories the
//! application services use, and the transactional outbox (the `events` table),
//! consumer offsets and inbox that make event handling exactly-once in effect.
//!
//! Queries go through sqlx's `Any` driver with portable SQL, so the same
//! repositories run on SQLite (the embedded default) and PostgreSQL. On SQLite
//! every write is group-committed on the one write connection (`writer`), and
//! a task beside it keeps the write-ahead log within its bound (`checkpoint`).
#![forbid(unsafe_code)]

pub mod caldav;
mod checkpoint;
pub mod comments;
pub mod conversations;
mod db;
pub mod email;
mod error;
pub mod events;
pub mod feeds;
pub mod idempotency;
pub mod imports;
mod memo;
pub mod notifications;
pub mod projects;
pub mod push;
mod readers;
pub mod reminders;
mod row;
pub mod sections;
mod sql;
pub mod tasks;
pub mod time;
pub mod tokens;
pub mod users;
pub mod webhooks;
mod writer;

pub use checkpoint::WalStatus;
pub use db::{Backend, DEFAULT_WAL_LIMIT_BYTES, Db, DbOptions, LazyRead, WriteTx, redact};
pub use error::{DriverError, StoreError};
pub use memo::Memo;
pub use sqlx::AnyConnection;
pub use writer::BatchLimits;

pub type Result<T, E = StoreError> = std::result::Result<T, E>;
