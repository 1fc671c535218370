pub mod auth;
pub mod notifications;
pub mod ops;
pub mod realtime;
pub mod tasks;
