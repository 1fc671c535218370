//! The Prometheus registry and every metric ontask exports. Names follow the
//! Prometheus conventions (`_total` counters, `_seconds` units) so that
//! `promtool check metrics` is clean; dashboards and alerts rely on them.
use std::sync::OnceLock;

use metrics::{Unit, describe_counter, describe_gauge, describe_histogram};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

pub const HTTP_REQUESTS_TOTAL: &str = "http_requests_total";
pub const HTTP_REQUEST_DURATION: &str = "http_request_duration_seconds";
pub const HTTP_CONNECTIONS_ACTIVE: &str = "http_connections_active";
pub const HTTP_ERRORS_TOTAL: &str = "http_errors_total";
pub const EVENTS_APPENDED_TOTAL: &str = "ontask_events_appended_total";
pub const EVENTS_PUBLISHED_TOTAL: &str = "ontask_events_published_total";
pub const EVENTS_HANDLED_TOTAL: &str = "ontask_events_handled_total";
pub const RELAY_LAG_EVENTS: &str = "ontask_relay_lag_events";
pub const CONSUMER_LAG_EVENTS: &str = "ontask_consumer_lag_events";
pub const REMINDERS_FIRED_TOTAL: &str = "ontask_reminders_fired_total";
pub const DEAD_LETTERS_TOTAL: &str = "ontask_dead_letters_total";
pub const RATE_LIMITED_TOTAL: &str = "ontask_rate_limited_total";
pub const REALTIME_CONNECTIONS: &str = "ontask_realtime_connections";
pub const BUILD_INFO: &str = "ontask_build_info";
pub const WEBHOOK_DELIVERIES_TOTAL: &str = "ontask_webhook_deliveries_total";
pub const WEBHOOK_DELIVERY_DURATION: &str = "ontask_webhook_delivery_duration_seconds";
pub const EMAILS_SENT_TOTAL: &str = "ontask_emails_sent_total";
pub const PUSH_MESSAGES_TOTAL: &str = "ontask_push_messages_total";
pub const KAFKA_MESSAGES_PRODUCED_TOTAL: &str = "ontask_kafka_messages_produced_total";
pub const KAFKA_PRODUCE_DURATION: &str = "ontask_kafka_produce_duration_seconds";
pub const KAFKA_MALFORMED_MESSAGES_TOTAL: &str = "ontask_kafka_malformed_messages_total";
pub const HOUSEKEEPING_DELETED_TOTAL: &str = "ontask_housekeeping_deleted_total";
pub const CHAT_TURNS_TOTAL: &str = "ontask_chat_turns_total";
pub const CHAT_TOOL_CALLS_TOTAL: &str = "ontask_chat_tool_calls_total";
pub const CHAT_MODEL_REQUEST_DURATION: &str = "ontask_chat_model_request_duration_seconds";
pub const WRITE_BATCH_MEMBERS: &str = "ontask_write_batch_members";
pub const SQLITE_WAL_BYTES: &str = "ontask_sqlite_wal_bytes";
pub const SQLITE_CHECKPOINT_SECONDS: &str = "ontask_sqlite_checkpoint_seconds";
pub const CIRCUIT_BREAKERS: &str = "ontask_circuit_breakers";
pub const CIRCUIT_BREAKER_TRANSITIONS_TOTAL: &str = "ontask_circuit_breaker_transitions_total";
pub const CIRCUIT_BREAKER_REJECTED_TOTAL: &str = "ontask_circuit_breaker_rejected_total";

/// Writes per group commit, from one (an idle server) to the batch limit.
const BATCH_BUCKETS: &[f64] = &[1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0];

/// Latency buckets from 0.5 ms to 10 s: the API answers most requests in well
/// under a millisecond, so the default buckets would hide everything.
const LATENCY_BUCKETS: &[f64] = &[0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0];

static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();

/// Installs the process-wide recorder (once) and returns the handle that renders
/// `/metrics`.
pub fn handle() -> &'static PrometheusHandle {
    HANDLE.get_or_init(|| {
        let recorder = PrometheusBuilder::new()
            .set_buckets_for_metric(Matcher::Full(HTTP_REQUEST_DURATION.into()), LATENCY_BUCKETS)
            .expect("bucket list is not empty")
            .set_buckets_for_metric(Matcher::Full(WEBHOOK_DELIVERY_DURATION.into()), LATENCY_BUCKETS)
            .expect("bucket list is not empty")
            .set_buckets_for_metric(Matcher::Full(KAFKA_PRODUCE_DURATION.into()), LATENCY_BUCKETS)
            .expect("bucket list is not empty")
            .set_buckets_for_metric(Matcher::Full(SQLITE_CHECKPOINT_SECONDS.into()), LATENCY_BUCKETS)
            .expect("bucket list is not empty")
            .set_buckets_for_metric(Matcher::Full(WRITE_BATCH_MEMBERS.into()), BATCH_BUCKETS)
            .expect("bucket list is not empty")
            .build_recorder();
        let handle = recorder.handle();
        // Another recorder may already be installed (tests starting several apps
        // in one process); then this handle renders nothing, which is acceptable
        // only there.
        if metrics::set_global_recorder(recorder).is_ok() {
            describe();
        }
        handle
    })
}

fn describe() {
    describe_counter!(HTTP_REQUESTS_TOTAL, "HTTP requests answered, by method, route template and status.");
    describe_histogram!(
        HTTP_REQUEST_DURATION,
        Unit::Seconds,
        "HTTP request duration, by method, route template and status."
    );
    describe_gauge!(HTTP_CONNECTIONS_ACTIVE, "HTTP requests in flight, including open event streams.");
    describe_counter!(HTTP_ERRORS_TOTAL, "HTTP error answers, by problem type.");
    describe_counter!(EVENTS_APPENDED_TOTAL, "Events appended to the log, by event type.");
    describe_counter!(EVENTS_PUBLISHED_TOTAL, "Events the relay handed to the bus.");
    describe_counter!(EVENTS_HANDLED_TOTAL, "Events handled by consumers, by consumer and outcome.");
    describe_gauge!(RELAY_LAG_EVENTS, "Committed events not yet published to the bus.");
    describe_gauge!(CONSUMER_LAG_EVENTS, "Published events a consumer has not handled yet, by consumer.");
    describe_counter!(REMINDERS_FIRED_TOTAL, "Reminders fired by the scheduler.");
    describe_counter!(DEAD_LETTERS_TOTAL, "Events given up on after repeated failures, by consumer.");
    describe_counter!(RATE_LIMITED_TOTAL, "Requests refused with 429 past a rate limit, by scope.");
    describe_gauge!(REALTIME_CONNECTIONS, "Open realtime connections, by transport (sse, websocket).");
    describe_counter!(KAFKA_MESSAGES_PRODUCED_TOTAL, "Messages Kafka acknowledged, by topic.");
    describe_histogram!(
        KAFKA_PRODUCE_DURATION,
        Unit::Seconds,
        "Time to publish one relay batch to Kafka, until every message is acknowledged."
    );
    describe_counter!(
        KAFKA_MALFORMED_MESSAGES_TOTAL,
        "Kafka messages that were not ontask events, dead-lettered on arrival, by consumer."
    );
    describe_counter!(
        WEBHOOK_DELIVERIES_TOTAL,
        "Webhook delivery attempts, by outcome (delivered, retry, failed: gave up)."
    );
    describe_histogram!(WEBHOOK_DELIVERY_DURATION, Unit::Seconds, "Duration of one webhook delivery attempt.");
    describe_counter!(EMAILS_SENT_TOTAL, "Reminder e-mail attempts, by outcome (sent, retry, failed: gave up).");
    describe_counter!(
        PUSH_MESSAGES_TOTAL,
        "Web Push attempts, by outcome (sent, retry, failed: gave up, gone: the subscription was removed)."
    );
    describe_counter!(HOUSEKEEPING_DELETED_TOTAL, "Rows housekeeping deleted after their retention, by table.");
    describe_counter!(
        CHAT_TURNS_TOTAL,
        "Chat turns, by mode (model, commands) and outcome (replied, proposed, step_limit, error)."
    );
    describe_counter!(
        CHAT_TOOL_CALLS_TOTAL,
        "Tool calls the chat agent made, by tool and status (ok, error, proposed)."
    );
    describe_histogram!(
        CHAT_MODEL_REQUEST_DURATION,
        Unit::Seconds,
        "Duration of one request to the chat model, by outcome (ok, error)."
    );
    describe_histogram!(WRITE_BATCH_MEMBERS, "Writes committed together in one group commit (SQLite).");
    describe_gauge!(SQLITE_WAL_BYTES, Unit::Bytes, "Size of the SQLite write-ahead log file.");
    describe_histogram!(
        SQLITE_CHECKPOINT_SECONDS,
        Unit::Seconds,
        "Duration of one SQLite WAL checkpoint, by mode (passive, truncate, truncate_at_bound)."
    );
    describe_gauge!(
        CIRCUIT_BREAKERS,
        "Circuit breakers on outbound calls, by peer (webhook, smtp, llm, dapr) and state (closed, open, half_open)."
    );
    describe_counter!(
        CIRCUIT_BREAKER_TRANSITIONS_TOTAL,
        "Circuit breaker state changes, by peer and the state entered."
    );
    describe_counter!(
        CIRCUIT_BREAKER_REJECTED_TOTAL,
        "Outbound calls refused at once because the peer's circuit breaker is open, by peer."
    );
    describe_gauge!(BUILD_INFO, "Always 1; the version label tells which build runs.");
    metrics::gauge!(BUILD_INFO, "version" => env!("CARGO_PKG_VERSION")).set(1.0);
    // Counters appear once first incremented; register the ones dashboards and
    // alerts divide by, so they exist (at zero) from the start.
    metrics::counter!(EVENTS_PUBLISHED_TOTAL).absolute(0);
    metrics::counter!(REMINDERS_FIRED_TOTAL).absolute(0);
    // And the ones alerts and the dashboard read before anything happened, so
    // their queries find a series (deploy/tests/test_prometheus.py checks it).
    metrics::counter!(DEAD_LETTERS_TOTAL).absolute(0);
    metrics::counter!(RATE_LIMITED_TOTAL, "scope" => "sign_in_address").absolute(0);
    metrics::counter!(EMAILS_SENT_TOTAL).absolute(0);
    metrics::counter!(PUSH_MESSAGES_TOTAL).absolute(0);
    metrics::counter!(HTTP_ERRORS_TOTAL).absolute(0);
    for transport in ["sse", "websocket"] {
        metrics::gauge!(REALTIME_CONNECTIONS, "transport" => transport).increment(0.0);
    }
}
