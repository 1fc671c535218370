//! Integration tests: the real application on port 0 with a fresh SQLite file,
//! driven over HTTP (and, for crash tests, the real binary as a child process).
mod auth;
mod chat;
mod conditional;
mod dapr;
mod dapr_sidecar;
mod deadletters;
mod docs;
mod email;
mod eventlog;
mod events;
mod faults;
mod helpers;
mod housekeeping;
mod idempotency;
mod isolation;
mod ops;
mod pagination;
mod projects;
pub mod realtime;
mod recurrence;
mod reminders;
pub mod roles;
mod shutdown;
mod smoke;
mod tasks;
mod validation;
mod webhooks;
