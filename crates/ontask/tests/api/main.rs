//! Integration tests: the real application on port 0 with a fresh SQLite file,
//! driven over HTTP (and, for crash tests, the real binary as a child process).
mod helpers;
mod smoke;
mod eventlog;
mod events;
mod recurrence;
mod reminders;
mod realtime;
mod shutdown;
mod auth;
mod tasks;
mod validation;
mod isolation;
mod conditional;
mod idempotency;
mod pagination;
mod ops;
