//! Reading the layers (defaults, `ontask.toml`, `ONTASK_*`, flags) into a
//! [`Config`], and the checks that span keys.
use std::path::Path;
use std::time::Duration;

use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};

use super::environment::{DAPR_ENV, is_service_link};
use super::{BusKind, Config, ConfigError, Overrides};

const SECOND: Duration = Duration::from_secs(1);
const HOUR: Duration = Duration::from_secs(3600);
const DAY: Duration = Duration::from_secs(24 * 3600);
/// The longest a session or a grace period may be (366 days, 8784 hours).
const YEAR: Duration = Duration::from_secs(366 * 24 * 3600);

impl Config {
    /// Loads the layers. `file` is an explicit `--config`; otherwise
    /// `ontask.toml` in the working directory is used when present.
    pub fn load(file: Option<&Path>, overrides: &Overrides) -> Result<Self, ConfigError> {
        let mut figment = Figment::from(Serialized::defaults(Config::default()))
            // What daprd gives the app it runs next to; ontask.toml and ONTASK_* still win.
            .merge(Env::raw().only(&DAPR_ENV.map(|(var, _)| var)).map(|var| {
                let key = DAPR_ENV.iter().find(|(v, _)| var.as_str().eq_ignore_ascii_case(v)).map_or("", |(_, k)| *k);
                key.into()
            }));
        match file {
            Some(path) => {
                if !path.exists() {
                    return Err(ConfigError(format!("config file {} does not exist", path.display())));
                }
                figment = figment.merge(Toml::file(path));
            }
            None => figment = figment.merge(Toml::file("ontask.toml")),
        }
        figment = figment
            // ONTASK_TEST_* belongs to the test harness, ONTASK_MCP_TOKEN to `ontask mcp`.
            .merge(
                Env::prefixed("ONTASK_")
                    // Keys keep the case they were given in (ONTASK_TEST_X is "TEST_X").
                    .filter(|k| {
                        let value = std::env::var(format!("ONTASK_{k}")).unwrap_or_default();
                        !is_service_link(k.as_str(), &value)
                    })
                    .split("__")
                    .filter(|k| {
                        let k = k.as_str().to_ascii_lowercase();
                        !k.starts_with("test_") && k != "mcp_token"
                    }),
            )
            .merge(Serialized::defaults(overrides));
        let mut config: Config = figment.extract().map_err(|e| ConfigError(one_line(&e)))?;
        if config.log.is_none() {
            config.log = std::env::var("RUST_LOG").ok().filter(|v| !v.is_empty());
        }
        if config.telemetry.otlp_endpoint.is_none() {
            config.telemetry.otlp_endpoint =
                std::env::var("OTEL_EXPORTER_OTLP_ENDPOINT").ok().filter(|v| !v.is_empty());
        }
        if let Ok(name) = std::env::var("OTEL_SERVICE_NAME")
            && !name.is_empty()
            && config.telemetry.service_name == "ontask"
        {
            config.telemetry.service_name = name;
        }
        config.validate()?;
        Ok(config)
    }

    /// Checks every value that can be checked without touching the outside world.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let url = self.database_url();
        if !(url.starts_with("sqlite:") || url.starts_with("postgres://") || url.starts_with("postgresql://")) {
            return Err(ConfigError(format!(
                "database_url must start with sqlite:, postgres:// or postgresql:// (got {:?})",
                ontask_store::redact(&url)
            )));
        }
        if let Some(secret) = &self.auth.jwt_secret
            && secret.expose().len() < 32
        {
            return Err(ConfigError("auth.jwt_secret must be at least 32 bytes long".into()));
        }
        if let Some(n) = self.auth.previous_jwt_secrets.iter().position(|s| s.expose().len() < 32) {
            return Err(ConfigError(format!(
                "auth.previous_jwt_secrets: secret {} of {} is shorter than 32 bytes",
                n + 1,
                self.auth.previous_jwt_secrets.len()
            )));
        }
        if self.auth.previous_secret_grace > YEAR {
            return Err(ConfigError("auth.previous_secret_grace_hours must be between 0 and 8784".into()));
        }
        let r = &self.rate_limits;
        if r.enabled && [r.sign_in_per_address, r.sign_in_per_account, r.api_per_person].contains(&0) {
            return Err(ConfigError(
                "rate_limits: a limit of 0 would refuse everything; set enabled = false instead".into(),
            ));
        }
        if self.ops_listen.is_some_and(|ops| ops == self.listen && ops.port() != 0) {
            return Err(ConfigError(format!("ops_listen must differ from listen (both {})", self.listen)));
        }
        // Upper bounds too: an interval past them is a typo, and would overflow the clock.
        if !(1..=3600).contains(&self.realtime.ping_secs) {
            return Err(ConfigError("realtime.ping_secs must be between 1 and 3600".into()));
        }
        let open_for = self.circuit_breakers.open_for;
        if self.circuit_breakers.failures == 0 || open_for < SECOND || open_for > DAY {
            return Err(ConfigError(
                "circuit_breakers.failures must be at least 1 and circuit_breakers.open_secs between 1 and 86400"
                    .into(),
            ));
        }
        for (key, value) in [
            ("auth.jwks_url", &self.auth.jwks_url),
            ("public_url", &self.public_url),
            ("telemetry.otlp_endpoint", &self.telemetry.otlp_endpoint),
            ("dapr.http_endpoint", &self.dapr.http_endpoint),
            ("agent.llm.base_url", &self.agent.llm.base_url),
        ] {
            if let Some(v) = value
                && !(v.starts_with("http://") || v.starts_with("https://"))
            {
                return Err(ConfigError(format!("{key} must be an http(s) URL (got {v:?})")));
            }
        }
        if self.auth.session_ttl.is_zero() || self.auth.session_ttl > YEAR {
            return Err(ConfigError("auth.session_ttl_hours must be between 1 and 8784".into()));
        }
        if let Some(filter) = &self.log {
            ontask_telemetry::validate_filter(filter).map_err(|e| ConfigError(format!("log: {e}")))?;
        }
        let w = &self.webhooks;
        for (key, zero) in [
            ("webhooks.timeout_secs", w.timeout.is_zero()),
            ("webhooks.max_attempts", w.max_attempts == 0),
            ("webhooks.retry_base_ms", w.retry_base.is_zero()),
            ("webhooks.retry_max_secs", w.retry_max.is_zero()),
            ("webhooks.disable_after_failures", w.disable_after == 0),
            ("webhooks.concurrency", w.concurrency == 0),
            ("smtp.timeout_secs", self.smtp.timeout.is_zero()),
            ("smtp.max_attempts", self.smtp.max_attempts == 0),
            ("push.timeout_secs", self.push.timeout.is_zero()),
            ("push.max_attempts", self.push.max_attempts == 0),
        ] {
            if zero {
                return Err(ConfigError(format!("{key} must be at least 1")));
            }
        }
        match (&self.smtp.url, &self.smtp.from) {
            (None, None) => {}
            (Some(url), Some(from)) => {
                let url = url.expose();
                if !(url.starts_with("smtp://") || url.starts_with("smtps://")) {
                    return Err(ConfigError(format!(
                        "smtp.url must start with smtp:// or smtps:// (got {:?})",
                        ontask_store::redact(url)
                    )));
                }
                if !from.contains('@') {
                    return Err(ConfigError(format!(
                        "smtp.from must be a mailbox like noreply@example.com (got {from:?})"
                    )));
                }
            }
            (Some(_), None) => return Err(ConfigError("smtp.url is set but smtp.from is not".into())),
            (None, Some(_)) => return Err(ConfigError("smtp.from is set but smtp.url is not".into())),
        }
        if let Some(key) = &self.push.vapid_private_key {
            ontask_app::push::VapidKey::parse(key.expose())
                .map_err(|why| ConfigError(format!("push.vapid_private_key {why}")))?;
        }
        if let Some(subject) = &self.push.subject
            && !(subject.starts_with("mailto:") || subject.starts_with("https://"))
        {
            return Err(ConfigError(format!("push.subject must be a mailto: or https: URI (got {subject:?})")));
        }
        let r = &self.retention;
        // Upper bounds keep every cutoff a representable time; nobody means more.
        for (key, value, unit, max) in [
            ("retention.interval_secs", r.interval, SECOND, 86_400),
            ("retention.inbox_days", r.inbox, DAY, 36_500),
            ("retention.idempotency_hours", r.idempotency_keys, HOUR, 876_000),
            ("retention.deliveries_days", r.deliveries, DAY, 36_500),
            ("retention.notifications_days", r.read_notifications, DAY, 36_500),
        ] {
            if value < unit || value > unit * max {
                let value = value.as_secs() / unit.as_secs();
                return Err(ConfigError(format!("{key} must be between 1 and {max} (got {value})")));
            }
        }
        if self.bus.kind == BusKind::Kafka && self.kafka.brokers.as_deref().unwrap_or("").is_empty() {
            return Err(ConfigError("bus.kind = kafka needs kafka.brokers".into()));
        }
        if self.agent.llm.base_url.is_some() && self.agent.llm.model.as_deref().unwrap_or("").trim().is_empty() {
            return Err(ConfigError("agent.llm.base_url needs agent.llm.model".into()));
        }
        if self.agent.llm.timeout < SECOND || self.agent.llm.timeout > 600 * SECOND {
            return Err(ConfigError("agent.llm.timeout_secs must be between 1 and 600".into()));
        }
        if !(1..=100).contains(&self.agent.max_steps) {
            return Err(ConfigError("agent.max_steps must be between 1 and 100".into()));
        }
        if !(4..=65_536).contains(&self.sqlite.wal_limit_mib) {
            return Err(ConfigError(format!(
                "sqlite.wal_limit_mib must be between 4 and 65536 (got {})",
                self.sqlite.wal_limit_mib
            )));
        }
        if self.kafka.partitions < 1 {
            return Err(ConfigError("kafka.partitions must be at least 1".into()));
        }
        Ok(())
    }

    /// The effective configuration as TOML, secrets redacted.
    pub fn to_toml(&self) -> String {
        toml::to_string_pretty(self).unwrap_or_else(|e| format!("# cannot render: {e}"))
    }
}

pub(super) fn one_line(e: &figment::Error) -> String {
    let mut messages: Vec<String> = Vec::new();
    for err in e.clone() {
        let key = if err.path.is_empty() { String::new() } else { format!("{}: ", err.path.join(".")) };
        let source = err.metadata.as_ref().map(|m| format!(" (from {})", m.name)).unwrap_or_default();
        messages.push(format!("{key}{}{source}", err.kind));
    }
    messages.join("; ")
}
