//! The configuration as the settings each crate takes: durations, limits and
//! endpoints, parsed once here.
use std::time::Duration;

use super::Config;
use super::sections::{DAY_SECS, HOUR_SECS};

impl Config {
    /// The settings of webhooks and e-mail, for the application services.
    pub fn outbound(&self) -> ontask_app::webhooks::OutboundSettings {
        let w = &self.webhooks;
        let webhooks = ontask_app::webhooks::WebhookSettings {
            allow_private_targets: w.allow_private_targets,
            timeout: Duration::from_secs(w.timeout_secs),
            max_attempts: w.max_attempts,
            retry_base: Duration::from_millis(w.retry_base_ms),
            retry_max: Duration::from_secs(w.retry_max_secs),
            disable_after: w.disable_after_failures,
            concurrency: w.concurrency,
        };
        let smtp = match (&self.smtp.url, &self.smtp.from) {
            (Some(url), Some(from)) => Some(ontask_app::webhooks::SmtpSettings {
                url: url.expose().to_owned(),
                from: from.clone(),
                timeout: Duration::from_secs(self.smtp.timeout_secs),
                max_attempts: self.smtp.max_attempts,
                retry_base: Duration::from_secs(5),
                retry_max: Duration::from_secs(3600),
            }),
            _ => None,
        };
        ontask_app::webhooks::OutboundSettings { webhooks, smtp, push: None, public_url: self.public_url.clone() }
    }

    /// How pushes go out, signed with `key` (see [`PushConfig::vapid_private_key`]).
    pub fn push_settings(&self, key: ontask_app::push::VapidKey) -> ontask_app::push::PushSettings {
        let p = &self.push;
        let subject = match (&p.subject, &self.public_url) {
            (Some(subject), _) => subject.clone(),
            (None, Some(url)) if url.starts_with("https://") => url.clone(),
            _ => "mailto:admin@localhost".to_owned(),
        };
        let mut settings = ontask_app::push::PushSettings::new(key, subject);
        settings.allow_private_endpoints = p.allow_private_endpoints;
        settings.timeout = std::time::Duration::from_secs(p.timeout_secs);
        settings.max_attempts = p.max_attempts;
        settings
    }

    /// What housekeeping keeps, for the scheduler role.
    pub fn retention(&self) -> ontask_workers::Retention {
        let r = &self.retention;
        ontask_workers::Retention {
            interval: Duration::from_secs(r.interval_secs),
            inbox: Duration::from_secs(r.inbox_days * DAY_SECS),
            idempotency_keys: Duration::from_secs(r.idempotency_hours * HOUR_SECS),
            deliveries: Duration::from_secs(r.deliveries_days * DAY_SECS),
            read_notifications: Duration::from_secs(r.notifications_days * DAY_SECS),
        }
    }

    pub fn rate_limits(&self) -> ontask_app::limits::RateLimitSettings {
        let r = &self.rate_limits;
        ontask_app::limits::RateLimitSettings {
            enabled: r.enabled,
            sign_in_per_address: r.sign_in_per_address,
            sign_in_per_account: r.sign_in_per_account,
            api_per_person: r.api_per_person,
            // Checked in validate().
            client_address_header: r.client_address_header.as_deref().and_then(|h| h.parse().ok()),
        }
    }

    pub fn circuit_breakers(&self) -> ontask_telemetry::breaker::BreakerSettings {
        ontask_telemetry::breaker::BreakerSettings {
            failures: self.circuit_breakers.failures,
            open_for: std::time::Duration::from_secs(self.circuit_breakers.open_secs),
        }
    }

    /// Base URL of the Dapr sidecar's HTTP API.
    pub fn dapr_endpoint(&self) -> String {
        match &self.dapr.http_endpoint {
            Some(url) => url.trim_end_matches('/').to_owned(),
            None => format!("http://127.0.0.1:{}", self.dapr.http_port),
        }
    }

    pub fn database_url(&self) -> String {
        match &self.database_url {
            Some(url) => url.expose().to_owned(),
            None => format!("sqlite://{}?mode=rwc", self.data_dir.join("ontask.db").display()),
        }
    }

    pub fn log_filter(&self) -> String {
        self.log.clone().unwrap_or_else(|| "info,sqlx=warn".into())
    }

    /// How sessions and tokens are signed and checked; `jwt_secret` is
    /// `auth.jwt_secret`, or the one generated into the data directory.
    pub fn auth_settings(&self, jwt_secret: Vec<u8>) -> ontask_app::auth::AuthSettings {
        let a = &self.auth;
        ontask_app::auth::AuthSettings {
            jwt_secret,
            previous_jwt_secrets: a.previous_jwt_secrets.iter().map(|s| s.expose().as_bytes().to_vec()).collect(),
            previous_secret_grace: Duration::from_secs(a.previous_secret_grace_hours * HOUR_SECS),
            session_ttl: Duration::from_secs(a.session_ttl_hours * HOUR_SECS),
            jwks_url: a.jwks_url.clone(),
            jwt_issuer: a.jwt_issuer.clone(),
            jwt_audience: a.jwt_audience.clone(),
        }
    }

    /// The chat agent's model settings; no model when `agent.llm.base_url` is unset.
    pub fn chat_settings(&self) -> ontask_agent::chat::ChatSettings {
        let llm = &self.agent.llm;
        let model = match (&llm.base_url, &llm.model) {
            (Some(base_url), Some(model)) => Some(ontask_agent::chat::llm::LlmSettings {
                base_url: base_url.clone(),
                model: model.clone(),
                api_key: llm.api_key.as_ref().map(|k| k.expose().to_owned()),
                timeout: Duration::from_secs(llm.timeout_secs),
                concurrency: llm.concurrency.max(1),
            }),
            _ => None,
        };
        ontask_agent::chat::ChatSettings { llm: model, max_steps: self.agent.max_steps }
    }

    /// Logs and traces.
    pub fn telemetry_settings(&self) -> ontask_telemetry::TelemetrySettings {
        ontask_telemetry::TelemetrySettings {
            log_filter: self.log_filter(),
            log_format: self.log_format,
            otlp_endpoint: self.telemetry.otlp_endpoint.clone(),
            service_name: self.telemetry.service_name.clone(),
        }
    }
}
