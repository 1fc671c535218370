//! The sections of the configuration (`[auth]`, `[kafka]`, ...): each as the
//! file and the environment spell it, with its defaults.
use serde::{Deserialize, Serialize};

use super::Secret;

/// The realtime streams (`[realtime]`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RealtimeConfig {
    /// Seconds between pings to a WebSocket peer; one silent for two of them
    /// is dropped. (SSE streams get a comment as often, which keeps proxies
    /// from closing them.)
    pub ping_secs: u64,
}

impl Default for RealtimeConfig {
    fn default() -> Self {
        Self { ping_secs: ontask_api::ApiConfig::default().realtime_ping.as_secs() }
    }
}

/// Circuit breakers on outbound calls (`[circuit_breakers]`): one per webhook
/// endpoint, and one each for the SMTP relay, the LLM endpoint and the Dapr
/// sidecar. The defaults come from `ontask_telemetry::breaker::BreakerSettings`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CircuitBreakersConfig {
    /// Failed calls in a row that open a breaker (calls then fail at once).
    pub failures: u32,
    /// How long an open breaker refuses calls before one probe goes through.
    pub open_secs: u64,
}

impl Default for CircuitBreakersConfig {
    fn default() -> Self {
        let d = ontask_telemetry::breaker::BreakerSettings::default();
        Self { failures: d.failures, open_secs: d.open_for.as_secs() }
    }
}

/// Rate limits (`[rate_limits]`), per process and per minute; past one the
/// answer is 429 with `Retry-After`. The defaults come from
/// `ontask_app::limits::RateLimitSettings`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RateLimitsConfig {
    pub enabled: bool,
    /// Sign-ins, sign-ups and API token creations from one client address.
    pub sign_in_per_address: u32,
    /// Sign-in and sign-up attempts for one e-mail address, from anywhere.
    pub sign_in_per_account: u32,
    /// Requests made with one person's credentials (all their tokens together).
    pub api_per_person: u32,
    /// Behind a reverse proxy: the header it writes the client's address in
    /// (e.g. `x-forwarded-for`, whose last address counts). Unset: the peer address.
    pub client_address_header: Option<String>,
}

impl Default for RateLimitsConfig {
    fn default() -> Self {
        let d = ontask_app::limits::RateLimitSettings::default();
        Self {
            enabled: d.enabled,
            sign_in_per_address: d.sign_in_per_address,
            sign_in_per_account: d.sign_in_per_account,
            api_per_person: d.api_per_person,
            client_address_header: d.client_address_header.map(|h| h.to_string()),
        }
    }
}

/// The embedded database (when `database_url` is SQLite).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SqliteConfig {
    /// The most the write-ahead log may grow to before a checkpoint empties it
    /// (writes pause for that checkpoint); `/health` reports the database
    /// degraded while it is larger.
    pub wal_limit_mib: u64,
}

impl Default for SqliteConfig {
    fn default() -> Self {
        Self { wal_limit_mib: ontask_store::DEFAULT_WAL_LIMIT_BYTES >> 20 }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AuthConfig {
    /// HS256 secret for session tokens (32+ bytes). Generated into
    /// `data_dir/jwt_secret` on first start when unset.
    pub jwt_secret: Option<Secret>,
    /// Secrets `jwt_secret` replaced (each 32+ bytes), newest first. Nothing is
    /// signed with them; sessions they signed are accepted for
    /// `previous_secret_grace_hours` after they were issued, and webhook secrets
    /// sealed under them stay readable. In the environment a list, quoted
    /// (`ONTASK_AUTH__PREVIOUS_JWT_SECRETS='["old-1", "old-2"]'`), or one secret as it is.
    #[serde(deserialize_with = "one_or_many")]
    pub previous_jwt_secrets: Vec<Secret>,
    /// How long after it was issued a session signed with a previous secret is
    /// still accepted (never past its own expiry); 0 ends them all at once.
    pub previous_secret_grace_hours: u64,
    /// JWKS of an external identity provider whose tokens are accepted.
    pub jwks_url: Option<String>,
    pub jwt_issuer: Option<String>,
    pub jwt_audience: Option<String>,
    /// Send the session cookie only over HTTPS.
    pub cookie_secure: bool,
    pub session_ttl_hours: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TelemetryConfig {
    /// OTLP/HTTP endpoint for traces (`OTEL_EXPORTER_OTLP_ENDPOINT` also works).
    pub otlp_endpoint: Option<String>,
    pub service_name: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum BusKind {
    /// The embedded log: the events table, delivered in-process.
    #[default]
    Log,
    Kafka,
    Dapr,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BusConfig {
    pub kind: BusKind,
    pub topic_task_events: String,
    pub topic_reminders: String,
    pub topic_task_updates: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct KafkaConfig {
    /// `bootstrap.servers`: `host:port[,host:port...]`.
    pub brokers: Option<String>,
    /// Consumer groups are `<group_prefix>.<consumer>`; default `ontask`.
    pub group_prefix: Option<String>,
    /// Partitions of the topics created on connect.
    pub partitions: i32,
    /// Replication factor of the topics created on connect; -1 is the broker's default.
    pub replication_factor: i32,
    /// Create missing topics on connect; turn off where an operator (Strimzi) owns them.
    pub create_topics: bool,
    /// librdkafka properties for every Kafka client (producer, consumers, admin):
    /// `security.protocol`, `sasl.mechanism`, `sasl.username`, `sasl.password`,
    /// `ssl.ca.location`, ... In TOML, quote the key (`"sasl.password" = "..."`);
    /// in the environment, write `_` for `.`: `ONTASK_KAFKA__PROPERTIES__SASL_PASSWORD`.
    /// Credentials are redacted wherever the configuration is printed.
    pub properties: KafkaProperties,
}

impl Default for KafkaConfig {
    fn default() -> Self {
        Self {
            brokers: None,
            group_prefix: None,
            partitions: 3,
            replication_factor: -1,
            create_topics: true,
            properties: KafkaProperties::default(),
        }
    }
}

/// librdkafka properties. Keys are normalised to librdkafka's spelling (lower
/// case, `.` for `_`: no librdkafka key has an underscore), so environment
/// variables can name dotted keys; values of credential keys never print.
#[derive(Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(from = "std::collections::BTreeMap<String, PropertyValue>")]
pub struct KafkaProperties(std::collections::BTreeMap<String, String>);

impl KafkaProperties {
    pub fn as_map(&self) -> &std::collections::BTreeMap<String, String> {
        &self.0
    }

    fn redacted(&self) -> std::collections::BTreeMap<&str, &str> {
        self.0
            .iter()
            .map(|(k, v)| (k.as_str(), if ontask_bus::is_secret_property(k) { "***" } else { v.as_str() }))
            .collect()
    }
}

/// A property as written: the environment layer turns `5000` into a number.
#[derive(Deserialize)]
#[serde(untagged)]
pub enum PropertyValue {
    Text(String),
    Int(i64),
    Float(f64),
    Bool(bool),
}

impl From<std::collections::BTreeMap<String, PropertyValue>> for KafkaProperties {
    fn from(raw: std::collections::BTreeMap<String, PropertyValue>) -> Self {
        Self(
            raw.into_iter()
                .map(|(key, value)| {
                    let value = match value {
                        PropertyValue::Text(s) => s,
                        PropertyValue::Int(n) => n.to_string(),
                        PropertyValue::Float(n) => n.to_string(),
                        PropertyValue::Bool(b) => b.to_string(),
                    };
                    (key.to_ascii_lowercase().replace('_', "."), value)
                })
                .collect(),
        )
    }
}

impl std::fmt::Debug for KafkaProperties {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.redacted().fmt(f)
    }
}

impl Serialize for KafkaProperties {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.redacted().serialize(s)
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DaprConfig {
    /// The sidecar's HTTP port on localhost (`DAPR_HTTP_PORT`, which daprd sets, also works).
    pub http_port: u16,
    /// The sidecar's HTTP API as a URL, instead of localhost:`http_port`
    /// (`DAPR_HTTP_ENDPOINT` also works).
    pub http_endpoint: Option<String>,
    /// Pub/sub component for publishing and for the consumers' topics.
    pub pubsub_name: String,
    /// Pub/sub component (one consumer group per pod) for the realtime updates topic.
    pub broadcast_pubsub_name: String,
    /// Sent to the sidecar as `dapr-api-token` (`DAPR_API_TOKEN` also works).
    pub api_token: Option<Secret>,
    /// Required from the sidecar as `dapr-api-token` on its calls to the app
    /// (the sidecar's `APP_API_TOKEN`, which also works here).
    pub app_api_token: Option<Secret>,
    /// Name of the cron input binding that calls `POST /<name>` to scan for due reminders.
    pub reminder_scan_binding: String,
}

impl Default for AuthConfig {
    fn default() -> Self {
        Self {
            jwt_secret: None,
            previous_jwt_secrets: Vec::new(),
            previous_secret_grace_hours: 24,
            jwks_url: None,
            jwt_issuer: None,
            jwt_audience: None,
            cookie_secure: false,
            session_ttl_hours: 24 * 7,
        }
    }
}

impl Default for TelemetryConfig {
    fn default() -> Self {
        Self { otlp_endpoint: None, service_name: "ontask".into() }
    }
}

impl Default for BusConfig {
    fn default() -> Self {
        Self {
            kind: BusKind::Log,
            topic_task_events: "ontask.tasks.events.v1".into(),
            topic_reminders: "ontask.reminders.due.v1".into(),
            topic_task_updates: "ontask.tasks.updates.v1".into(),
        }
    }
}

impl Default for DaprConfig {
    fn default() -> Self {
        Self {
            http_port: 3500,
            http_endpoint: None,
            pubsub_name: "ontask-pubsub".into(),
            broadcast_pubsub_name: "ontask-pubsub-broadcast".into(),
            api_token: None,
            app_api_token: None,
            reminder_scan_binding: "ontask-reminder-scan".into(),
        }
    }
}

/// Outgoing webhooks (`[webhooks]`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct WebhooksConfig {
    /// Let users register and receive webhooks on loopback, private (RFC 1918),
    /// link-local, unique-local and similar addresses. Off: such targets are
    /// refused at registration and at delivery (after DNS resolution).
    pub allow_private_targets: bool,
    /// Timeout of one delivery attempt.
    pub timeout_secs: u64,
    /// Attempts per delivery before it counts as failed.
    pub max_attempts: u32,
    /// First retry delay; it doubles per attempt (with jitter) up to `retry_max_secs`.
    pub retry_base_ms: u64,
    pub retry_max_secs: u64,
    /// Consecutive failed deliveries after which an endpoint is disabled.
    pub disable_after_failures: u32,
    /// Deliveries in flight at once, per worker process.
    pub concurrency: usize,
}

/// The defaults are the ones the webhook worker has (one definition).
impl Default for WebhooksConfig {
    fn default() -> Self {
        let d = ontask_app::webhooks::WebhookSettings::default();
        Self {
            allow_private_targets: d.allow_private_targets,
            timeout_secs: d.timeout.as_secs(),
            max_attempts: d.max_attempts,
            retry_base_ms: u64::try_from(d.retry_base.as_millis()).unwrap_or(u64::MAX),
            retry_max_secs: d.retry_max.as_secs(),
            disable_after_failures: d.disable_after,
            concurrency: d.concurrency,
        }
    }
}

/// Reminder e-mails (`[smtp]`); off unless `url` and `from` are set.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SmtpConfig {
    /// The relay, in lettre's URL format: `smtp://host:25` (plain),
    /// `smtp://user:pass@host:587?tls=required` (STARTTLS), `smtps://user:pass@host` (TLS).
    pub url: Option<Secret>,
    /// The `From:` mailbox: `ontask <noreply@example.com>`.
    pub from: Option<String>,
    pub timeout_secs: u64,
    /// Attempts per e-mail before it is given up (permanent SMTP errors give up at once).
    pub max_attempts: u32,
}

impl Default for SmtpConfig {
    fn default() -> Self {
        Self { url: None, from: None, timeout_secs: 30, max_attempts: 8 }
    }
}

/// Web Push (`[push]`): reminders and mentions pushed to the devices people
/// allowed notifications on.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PushConfig {
    /// The VAPID private key: a P-256 key as the base64url of its 32-byte
    /// scalar (what `npx web-push generate-vapid-keys` prints as the private
    /// key). Unset: `data_dir/vapid_private_key`, generated on first start,
    /// when the database is SQLite (one process owns `data_dir`). With
    /// PostgreSQL every replica must sign with the same key, so push stays off
    /// until it is set.
    pub vapid_private_key: Option<Secret>,
    /// The VAPID `sub` claim, a contact for push services' operators:
    /// `mailto:ops@example.com` or an `https:` URL. Default: `public_url` when
    /// it is https, else `mailto:admin@localhost`.
    pub subject: Option<String>,
    /// Accept subscriptions whose endpoint is plain http or on a loopback or
    /// private address (tests only: real push services are public https).
    pub allow_private_endpoints: bool,
    /// Timeout of one request to a push service.
    pub timeout_secs: u64,
    /// Attempts per message before it is given up (404/410 remove the subscription at once).
    pub max_attempts: u32,
}

impl Default for PushConfig {
    fn default() -> Self {
        Self {
            vapid_private_key: None,
            subject: None,
            allow_private_endpoints: false,
            timeout_secs: ontask_app::push::PushSettings::DEFAULT_TIMEOUT.as_secs(),
            max_attempts: ontask_app::push::PushSettings::DEFAULT_MAX_ATTEMPTS,
        }
    }
}

/// Housekeeping (`[retention]`): how long rows that only the recent past needs
/// are kept. The scheduler role deletes older ones every `interval_secs`. The
/// event log and dead letters are never deleted.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RetentionConfig {
    /// How often housekeeping runs; the first run comes 30 s after start (sooner
    /// if the interval is shorter).
    pub interval_secs: u64,
    /// The consumers' record of handled events, which absorbs redeliveries.
    /// Keep it longer than the bus can redeliver (Kafka: the topics' retention).
    pub inbox_days: u64,
    /// How long an `Idempotency-Key` replays its answer; after that the key is new again.
    pub idempotency_hours: u64,
    /// Delivered or failed webhook deliveries (with their attempt log) and sent
    /// or failed e-mails, from when they were queued. Pending ones are kept.
    pub deliveries_days: u64,
    /// In-app notifications, from when they were read. Unread ones are kept.
    pub notifications_days: u64,
}

/// The defaults are the ones housekeeping has (one definition).
impl Default for RetentionConfig {
    fn default() -> Self {
        let d = ontask_workers::Retention::default();
        let hours = |t: std::time::Duration| t.as_secs() / HOUR_SECS;
        let days = |t: std::time::Duration| t.as_secs() / DAY_SECS;
        Self {
            interval_secs: d.interval.as_secs(),
            inbox_days: days(d.inbox),
            idempotency_hours: hours(d.idempotency_keys),
            deliveries_days: days(d.deliveries),
            notifications_days: days(d.read_notifications),
        }
    }
}

pub(super) const HOUR_SECS: u64 = 3600;
pub(super) const DAY_SECS: u64 = 24 * HOUR_SECS;

/// The chat agent.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AgentConfig {
    /// Model calls per chat turn before the agent stops and says so.
    pub max_steps: usize,
    pub llm: LlmConfig,
}

impl Default for AgentConfig {
    fn default() -> Self {
        Self { max_steps: ontask_agent::chat::DEFAULT_MAX_STEPS, llm: LlmConfig::default() }
    }
}

/// An OpenAI-compatible Chat Completions endpoint with tool calling (OpenAI,
/// Ollama, vLLM, llama.cpp's server). Without `base_url` the chat runs plain
/// commands only.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LlmConfig {
    /// e.g. `https://api.openai.com/v1` or `http://localhost:11434/v1` (Ollama).
    pub base_url: Option<String>,
    /// e.g. `gpt-4o-mini`, `qwen2.5:7b`.
    pub model: Option<String>,
    /// Sent as a bearer token; local servers usually need none.
    pub api_key: Option<Secret>,
    /// For each model request, the whole answer included.
    pub timeout_secs: u64,
    /// Model requests in flight at once; past it a chat turn is refused (503)
    /// instead of queueing behind a slow model.
    pub concurrency: usize,
}

impl Default for LlmConfig {
    fn default() -> Self {
        Self { base_url: None, model: None, api_key: None, timeout_secs: 60, concurrency: 16 }
    }
}

/// A list of secrets, or a single one: the environment layer reads
/// `[a, b]` as a list and anything else as one string.
fn one_or_many<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<Secret>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum OneOrMany {
        One(Secret),
        Many(Vec<Secret>),
    }
    Ok(match OneOrMany::deserialize(d)? {
        OneOrMany::One(secret) if secret.expose().is_empty() => Vec::new(),
        OneOrMany::One(secret) => vec![secret],
        OneOrMany::Many(secrets) => secrets,
    })
}
