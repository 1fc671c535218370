//! The sections of the configuration that only the binary reads (`[bus]`,
//! `[kafka]`, `[dapr]`, `[realtime]`, `[sqlite]`): each as the file and the
//! environment spell it, with its defaults. They are assembled, with the
//! roles, into what the bus, the API and the store take. The other sections
//! are the crates' own settings types (see `Config`).
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
