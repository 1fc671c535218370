//! Typed, layered configuration: defaults < `ontask.toml` < `ONTASK_*`
//! environment < command-line flags. Nested keys use `__` in environment
//! variables (`ONTASK_AUTH__JWT_SECRET` is `auth.jwt_secret`).
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use ontask_telemetry::LogFormat;
use serde::{Deserialize, Serialize};

use self::environment::{DAPR_ENV, is_service_link};
pub use self::roles::Roles;

mod environment;
mod roles;

/// A value that must never be printed or logged.
#[derive(Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl From<String> for Secret {
    fn from(s: String) -> Self {
        Self(s)
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("\"***\"")
    }
}

impl Serialize for Secret {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str("***")
    }
}

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
    pub auth: AuthConfig,
    pub telemetry: TelemetryConfig,
    pub bus: BusConfig,
    pub kafka: KafkaConfig,
    pub dapr: DaprConfig,
    pub agent: AgentConfig,
    pub webhooks: WebhooksConfig,
    pub smtp: SmtpConfig,
    pub push: PushConfig,
    pub retention: RetentionConfig,
    pub sqlite: SqliteConfig,
    pub rate_limits: RateLimitsConfig,
    pub circuit_breakers: CircuitBreakersConfig,
    pub realtime: RealtimeConfig,
}

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
            auth: AuthConfig::default(),
            telemetry: TelemetryConfig::default(),
            bus: BusConfig::default(),
            kafka: KafkaConfig::default(),
            dapr: DaprConfig::default(),
            agent: AgentConfig::default(),
            webhooks: WebhooksConfig::default(),
            smtp: SmtpConfig::default(),
            push: PushConfig::default(),
            retention: RetentionConfig::default(),
            sqlite: SqliteConfig::default(),
            rate_limits: RateLimitsConfig::default(),
            circuit_breakers: CircuitBreakersConfig::default(),
            realtime: RealtimeConfig::default(),
        }
    }
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
            timeout_secs: 10,
            max_attempts: 8,
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

const HOUR_SECS: u64 = 3600;
const DAY_SECS: u64 = 24 * HOUR_SECS;

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
        Self { max_steps: 8, llm: LlmConfig::default() }
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
        if self.auth.previous_secret_grace_hours > 24 * 366 {
            return Err(ConfigError("auth.previous_secret_grace_hours must be between 0 and 8784".into()));
        }
        if let Some(header) = &self.rate_limits.client_address_header
            && header.parse::<http::HeaderName>().is_err()
        {
            return Err(ConfigError(format!(
                "rate_limits.client_address_header is not a header name (got {header:?})"
            )));
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
        if self.circuit_breakers.failures == 0 || !(1..=86_400).contains(&self.circuit_breakers.open_secs) {
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
        if self.auth.session_ttl_hours == 0 || self.auth.session_ttl_hours > 24 * 366 {
            return Err(ConfigError("auth.session_ttl_hours must be between 1 and 8784".into()));
        }
        if let Some(filter) = &self.log {
            ontask_telemetry::validate_filter(filter).map_err(|e| ConfigError(format!("log: {e}")))?;
        }
        let w = &self.webhooks;
        for (key, value) in [
            ("webhooks.timeout_secs", w.timeout_secs),
            ("webhooks.max_attempts", u64::from(w.max_attempts)),
            ("webhooks.retry_base_ms", w.retry_base_ms),
            ("webhooks.retry_max_secs", w.retry_max_secs),
            ("webhooks.disable_after_failures", u64::from(w.disable_after_failures)),
            ("webhooks.concurrency", w.concurrency as u64),
            ("smtp.timeout_secs", self.smtp.timeout_secs),
            ("smtp.max_attempts", u64::from(self.smtp.max_attempts)),
            ("push.timeout_secs", self.push.timeout_secs),
            ("push.max_attempts", u64::from(self.push.max_attempts)),
        ] {
            if value == 0 {
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
        for (key, value, max) in [
            ("retention.interval_secs", r.interval_secs, 86_400),
            ("retention.inbox_days", r.inbox_days, 36_500),
            ("retention.idempotency_hours", r.idempotency_hours, 876_000),
            ("retention.deliveries_days", r.deliveries_days, 36_500),
            ("retention.notifications_days", r.notifications_days, 36_500),
        ] {
            if !(1..=max).contains(&value) {
                return Err(ConfigError(format!("{key} must be between 1 and {max} (got {value})")));
            }
        }
        if self.bus.kind == BusKind::Kafka && self.kafka.brokers.as_deref().unwrap_or("").is_empty() {
            return Err(ConfigError("bus.kind = kafka needs kafka.brokers".into()));
        }
        if self.agent.llm.base_url.is_some() && self.agent.llm.model.as_deref().unwrap_or("").trim().is_empty() {
            return Err(ConfigError("agent.llm.base_url needs agent.llm.model".into()));
        }
        if !(1..=600).contains(&self.agent.llm.timeout_secs) {
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

    /// The settings of webhooks and e-mail, for the application services.
    pub fn outbound(&self) -> ontask_app::webhooks::OutboundSettings {
        use std::time::Duration;
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
        use std::time::Duration;
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

    /// The effective configuration as TOML, secrets redacted.
    pub fn to_toml(&self) -> String {
        toml::to_string_pretty(self).unwrap_or_else(|e| format!("# cannot render: {e}"))
    }
}

fn one_line(e: &figment::Error) -> String {
    let mut messages: Vec<String> = Vec::new();
    for err in e.clone() {
        let key = if err.path.is_empty() { String::new() } else { format!("{}: ", err.path.join(".")) };
        let source = err.metadata.as_ref().map(|m| format!(" (from {})", m.name)).unwrap_or_default();
        messages.push(format!("{key}{}{source}", err.kind));
    }
    messages.join("; ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_parse() {
        assert!(Roles::parse("all").unwrap().relay);
        let r = Roles::parse("api,scheduler").unwrap();
        assert!(r.api && r.scheduler && !r.worker);
        assert!(Roles::parse("api,cook").is_err());
        assert!(Roles::parse("").is_err());
    }

    #[test]
    fn intervals_that_would_overflow_the_clock_are_refused() {
        let mut c = Config::default();
        c.realtime.ping_secs = u64::MAX;
        assert!(c.validate().is_err_and(|e| e.0.contains("realtime.ping_secs")));
        let mut c = Config::default();
        c.circuit_breakers.open_secs = u64::MAX;
        assert!(c.validate().is_err_and(|e| e.0.contains("circuit_breakers.open_secs")));
        assert!(Config::default().validate().is_ok());
    }

    #[test]
    fn secrets_are_redacted() {
        let mut c = Config::default();
        c.auth.jwt_secret = Some(Secret("x".repeat(40)));
        assert!(!c.to_toml().contains("xxxx"));
        assert!(format!("{c:?}").contains("***"));
    }

    /// What the environment layer makes of `ONTASK_AUTH__PREVIOUS_JWT_SECRETS`.
    fn with_previous_secrets(raw: &str) -> Result<Config, String> {
        let value: figment::value::Value = raw.parse().expect("infallible");
        Figment::from(Serialized::defaults(Config::default()))
            .merge(Serialized::default("auth.previous_jwt_secrets", value))
            .extract()
            .map_err(|e| one_line(&e))
    }

    #[test]
    fn previous_session_secrets_are_a_list_or_one_checked_and_hidden() {
        let (a, b) = ("a".repeat(32), format!("{}+/=,", "b".repeat(40)));
        let c = with_previous_secrets(&format!("[\"{a}\", \"{b}\"]")).expect("a quoted list");
        let secrets: Vec<&str> = c.auth.previous_jwt_secrets.iter().map(Secret::expose).collect();
        assert_eq!(secrets, [a.as_str(), b.as_str()]);
        c.validate().expect("valid");
        assert!(!c.to_toml().contains("aaaa") && !format!("{c:?}").contains("aaaa"), "{}", c.to_toml());
        assert_eq!(c.to_toml().matches("\"***\"").count(), 2, "each shown as ***: {}", c.to_toml());

        let c = with_previous_secrets(&b).expect("one secret as it is");
        assert_eq!(c.auth.previous_jwt_secrets.iter().map(Secret::expose).collect::<Vec<_>>(), [b.as_str()]);
        assert!(with_previous_secrets("").expect("empty").auth.previous_jwt_secrets.is_empty());

        let c = with_previous_secrets(&format!("[\"{a}\", \"short\"]")).expect("parses");
        assert_eq!(c.validate().unwrap_err().0, "auth.previous_jwt_secrets: secret 2 of 2 is shorter than 32 bytes");
        let mut c = Config::default();
        assert_eq!(c.auth.previous_secret_grace_hours, 24);
        c.auth.previous_secret_grace_hours = 24 * 367;
        assert!(c.validate().unwrap_err().0.starts_with("auth.previous_secret_grace_hours"));
    }

    #[test]
    fn the_model_key_is_redacted_and_a_model_url_needs_a_model() {
        let mut c = Config::default();
        c.agent.llm.base_url = Some("http://127.0.0.1:11434/v1".into());
        c.agent.llm.api_key = Some(Secret("sk-very-secret".into()));
        assert!(c.validate().expect_err("no model").0.contains("agent.llm.model"));
        c.agent.llm.model = Some("qwen2.5:7b".into());
        c.validate().expect("valid");
        assert!(!c.to_toml().contains("sk-very-secret"));
        assert!(!format!("{c:?}").contains("sk-very-secret"));
        c.agent.max_steps = 0;
        assert!(c.validate().expect_err("no steps").0.contains("agent.max_steps"));
    }

    #[test]
    fn kafka_properties_take_env_style_keys_and_hide_credentials() {
        // What the environment layer yields for ONTASK_KAFKA__PROPERTIES__*: lower-cased
        // keys with `_`, and numbers as numbers.
        let toml = r#"
            [kafka.properties]
            security_protocol = "SASL_SSL"
            sasl_password = "hunter2-hunter2"
            message_timeout_ms = 5000
            "ssl.ca.location" = "/etc/ssl/ca.pem"
        "#;
        let c: Config = Figment::from(Serialized::defaults(Config::default()))
            .merge(Toml::string(toml))
            .extract()
            .expect("valid config");
        let props = c.kafka.properties.as_map();
        assert_eq!(props["security.protocol"], "SASL_SSL");
        assert_eq!(props["sasl.password"], "hunter2-hunter2");
        assert_eq!(props["message.timeout.ms"], "5000");
        assert_eq!(props["ssl.ca.location"], "/etc/ssl/ca.pem");
        let printed = c.to_toml();
        assert!(!printed.contains("hunter2") && !format!("{c:?}").contains("hunter2"));
        assert!(printed.contains("SASL_SSL") && printed.contains("/etc/ssl/ca.pem"));
    }

    #[test]
    fn smtp_needs_url_and_from_and_hides_the_url() {
        let mut c = Config::default();
        c.smtp.url = Some(Secret("smtp://user:hunter2@mail.example.com:587".into()));
        assert!(c.validate().unwrap_err().0.contains("smtp.from"));
        c.smtp.from = Some("ontask <noreply@example.com>".into());
        assert!(c.validate().is_ok());
        assert!(!c.to_toml().contains("hunter2") && !format!("{c:?}").contains("hunter2"));
        assert!(c.outbound().smtp.is_some());
        c.smtp.url = Some(Secret("http://mail.example.com".into()));
        assert!(c.validate().unwrap_err().0.starts_with("smtp.url"));
    }

    #[test]
    fn retention_is_configurable_and_checked() {
        let c = Config::default();
        assert_eq!(c.retention(), ontask_workers::Retention::default(), "the defaults agree");
        assert!(c.to_toml().contains("[retention]\ninterval_secs = 3600\ninbox_days = 14\n"), "{}", c.to_toml());

        let toml = "[retention]\ninterval_secs = 60\ninbox_days = 7\nidempotency_hours = 48\n";
        let c: Config = Figment::from(Serialized::defaults(Config::default()))
            .merge(Toml::string(toml))
            .extract()
            .expect("valid config");
        c.validate().expect("valid");
        let r = c.retention();
        assert_eq!(r.interval, std::time::Duration::from_secs(60));
        assert_eq!(r.inbox, std::time::Duration::from_secs(7 * 24 * 3600));
        assert_eq!(r.idempotency_keys, std::time::Duration::from_secs(48 * 3600));
        assert_eq!(r.deliveries, std::time::Duration::from_secs(30 * 24 * 3600), "unset keys keep their default");

        let mut c = Config::default();
        c.retention.inbox_days = 0;
        assert_eq!(c.validate().unwrap_err().0, "retention.inbox_days must be between 1 and 36500 (got 0)");
        c.retention.inbox_days = 14;
        c.retention.interval_secs = 86_401;
        assert!(c.validate().unwrap_err().0.starts_with("retention.interval_secs"));
        let typo = Figment::from(Serialized::defaults(Config::default()))
            .merge(Toml::string("[retention]\ninbox = 14\n"))
            .extract::<Config>();
        assert!(typo.is_err(), "unknown keys are refused");
    }

    #[test]
    fn kubernetes_service_links_are_told_from_keys() {
        for (name, value) in [
            ("API_SERVICE_HOST", "10.96.12.7"),
            ("API_SERVICE_PORT", "8080"),
            ("API_SERVICE_PORT_HTTP", "8080"),
            ("API_PORT", "tcp://10.96.12.7:8080"),
            ("API_PORT_8080_TCP", "tcp://10.96.12.7:8080"),
            ("API_PORT_8080_TCP_PROTO", "tcp"),
            ("API_PORT_8080_TCP_PORT", "8080"),
            ("API_PORT_8080_TCP_ADDR", "10.96.12.7"),
            // A Service named after the release alone, and one on IPv6.
            ("SERVICE_HOST", "fd00::7"),
            ("PORT", "tcp://[fd00::7]:80"),
            ("PORT_53_UDP_PROTO", "udp"),
            // A Service whose own name holds a shape word.
            ("SERVICE_PORT_SERVICE_HOST", "10.0.0.1"),
            ("DAPR_PORT_PORT_3500_TCP_PORT", "3500"),
        ] {
            assert!(is_service_link(name, value), "{name}={value} is a service link");
        }
        for (name, value) in [
            // Real keys and their typos keep reaching the loader.
            ("LISTEN", "0.0.0.0:8080"),
            ("DAPR__HTTP_PORT", "3500"),
            ("LISTEN_PORT", "8080"),
            ("API_PORT", "8080"),
            ("API_SERVICE_HOST", "api.example.com"),
            ("API_SERVICE_PORT", "http"),
            ("API_SERVICE_PORT_", "8080"),
            ("API_PORT_8080_TCP", "tcp://10.96.12.7:9090"),
            ("API_PORT_8080_TCP_PROTO", "udp"),
            ("API_PORT_8080_HTTP_ADDR", "10.96.12.7"),
            ("API_PORT_8080_TCP_HOST", "10.96.12.7"),
            ("api_service_host", "10.96.12.7"),
        ] {
            assert!(!is_service_link(name, value), "{name}={value} is not a service link");
        }
    }

    #[test]
    fn bad_values_are_rejected_with_their_key() {
        let read = |toml: &str| {
            Figment::from(Serialized::defaults(Config::default()))
                .merge(Toml::string(toml))
                .extract::<Config>()
                .map_err(|e| one_line(&e))
        };
        let listen = read("listen = \"localhost\"").unwrap_err();
        assert!(listen.starts_with("listen: must be an address like 127.0.0.1:8080"), "{listen}");
        let role = read("role = \"api,cook\"").unwrap_err();
        assert!(role.starts_with("role: unknown role \"cook\""), "{role}");
        let parsed = read("listen = \"0.0.0.0:9000\"\nrole = \"api, worker\"").unwrap();
        assert_eq!(parsed.listen, SocketAddr::from(([0, 0, 0, 0], 9000)));
        assert_eq!((parsed.role.api, parsed.role.worker, parsed.role.web), (true, true, false));
        assert_eq!(parsed.role.to_string(), "api,worker");
        assert_eq!(Config::default().role.to_string(), "all");

        let c = Config {
            auth: AuthConfig { jwt_secret: Some(Secret("short".into())), ..Default::default() },
            ..Default::default()
        };
        assert!(c.validate().unwrap_err().0.contains("jwt_secret"));
    }
}
