pub mod auth;
pub mod dapr;
pub mod chat;
pub mod notifications;
pub mod ops;
pub mod realtime;
pub mod tasks;
pub mod webhooks;
