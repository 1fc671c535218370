//! Typed, layered configuration: defaults < `ontask.toml` < `ONTASK_*`
//! environment < command-line flags. Nested keys use `__` in environment
//! variables (`ONTASK_AUTH__JWT_SECRET` is `auth.jwt_secret`).
use std::net::SocketAddr;
use std::path::PathBuf;

use ontask_telemetry::LogFormat;
use serde::{Deserialize, Serialize};

pub use self::roles::Roles;

mod environment;
mod load;
mod roles;
mod sections;
mod settings;
#[cfg(test)]
mod tests;

pub use self::sections::*;

pub use ontask_domain::settings::Secret;

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Address the HTTP server listens on.
    #[serde(deserialize_with = "listen_address")]
    pub listen: SocketAddr,
    /// Serves `/health`, `/livez`, `/readyz` and `/metrics` on this address
    /// instead of `listen` (in a cluster, a port no Ingress routes to); unset
    /// or empty: on `listen`.
    #[serde(deserialize_with = "optional_listen_address")]
    pub ops_listen: Option<SocketAddr>,
    /// Where the SQLite database and generated secrets live.
    pub data_dir: PathBuf,
    /// `sqlite://...` or `postgres://...`; default: SQLite in `data_dir`.
    pub database_url: Option<Secret>,
    /// Comma-separated roles: api, web, agent, relay, worker, scheduler, or all.
    pub role: Roles,
    /// Log filter (`info`, `debug`, `ontask=debug,sqlx=warn`). `RUST_LOG` is used when unset.
    pub log: Option<String>,
    pub log_format: LogFormat,
    /// The URL people use to reach this server (printed at start, used in links).
    pub public_url: Option<String>,
    pub auth: ontask_app::auth::AuthSettings,
    pub telemetry: ontask_telemetry::TelemetrySettings,
    pub bus: BusConfig,
    pub kafka: KafkaConfig,
    pub dapr: DaprConfig,
    pub agent: ontask_agent::chat::ChatSettings,
    pub webhooks: ontask_app::webhooks::WebhookSettings,
    pub smtp: ontask_app::webhooks::SmtpSettings,
    pub push: ontask_app::push::PushSettings,
    pub retention: ontask_workers::Retention,
    pub sqlite: SqliteConfig,
    pub rate_limits: ontask_app::limits::RateLimitSettings,
    pub circuit_breakers: ontask_telemetry::breaker::BreakerSettings,
    pub realtime: RealtimeConfig,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            ops_listen: None,
            data_dir: PathBuf::from("data"),
            database_url: None,
            role: Roles::ALL,
            log: None,
            log_format: LogFormat::Json,
            public_url: None,
            auth: Default::default(),
            telemetry: Default::default(),
            bus: Default::default(),
            kafka: Default::default(),
            dapr: Default::default(),
            agent: Default::default(),
            webhooks: Default::default(),
            smtp: Default::default(),
            push: Default::default(),
            retention: Default::default(),
            sqlite: Default::default(),
            rate_limits: Default::default(),
            circuit_breakers: Default::default(),
            realtime: Default::default(),
        }
    }
}

/// Values given as command-line flags; they override everything else.
#[derive(Debug, Default, Serialize)]
pub struct Overrides {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub listen: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data_dir: Option<PathBuf>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub database_url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
}

/// `listen`, parsed where it is read, with the message a person can act on.
fn listen_address<'de, D: serde::Deserializer<'de>>(d: D) -> Result<SocketAddr, D::Error> {
    let raw = String::deserialize(d)?;
    raw.trim()
        .parse()
        .map_err(|_| serde::de::Error::custom(format!("must be an address like 127.0.0.1:8080 (got {raw:?})")))
}

/// `ops_listen`: an address like `listen`'s, or nothing.
fn optional_listen_address<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<SocketAddr>, D::Error> {
    let raw = Option::<String>::deserialize(d)?.unwrap_or_default();
    if raw.trim().is_empty() {
        return Ok(None);
    }
    raw.trim()
        .parse()
        .map(Some)
        .map_err(|_| serde::de::Error::custom(format!("must be an address like 0.0.0.0:8081 (got {raw:?})")))
}

/// A configuration problem, reported as one line with exit code 2.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ConfigError(pub String);
