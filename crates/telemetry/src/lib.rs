//! Observability shared by every role: JSON (or text) logs on stdout, the
//! Prometheus metrics registry and the names of every metric we export, and
//! OpenTelemetry trace export over OTLP when an endpoint is configured.
#![forbid(unsafe_code)]

pub mod breaker;
pub mod metrics;
pub mod trace;

use anyhow::Context as _;
use opentelemetry::trace::TracerProvider as _;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    #[default]
    Json,
    Text,
}

/// Where traces go (`[telemetry]`).
#[derive(Debug, Clone, serde::Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct TelemetrySettings {
    /// OTLP/HTTP endpoint for traces, e.g. `http://otel-collector:4318`
    /// (`OTEL_EXPORTER_OTLP_ENDPOINT` also works).
    pub otlp_endpoint: Option<String>,
    pub service_name: String,
}

impl Default for TelemetrySettings {
    fn default() -> Self {
        Self { otlp_endpoint: None, service_name: "ontask".into() }
    }
}

/// Keeps the trace exporter alive; flushes pending spans when dropped.
pub struct TelemetryGuard {
    provider: Option<opentelemetry_sdk::trace::SdkTracerProvider>,
}

impl Drop for TelemetryGuard {
    fn drop(&mut self) {
        if let Some(provider) = self.provider.take()
            && let Err(e) = provider.shutdown()
        {
            eprintln!("flushing traces failed: {e}");
        }
    }
}

/// The error and its sources on one line (`outer: inner: root cause`), for
/// logging the whole chain once, where the error is handled.
pub fn error_chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        out.push_str(": ");
        out.push_str(&s.to_string());
        source = s.source();
    }
    out
}

/// Checks a log filter (`info`, `ontask=debug,sqlx=warn`) without installing it.
pub fn validate_filter(filter: &str) -> Result<(), String> {
    EnvFilter::try_new(filter).map(drop).map_err(|e| format!("invalid filter {filter:?}: {e}"))
}

/// Installs the global subscriber. Call once, early in `main`.
pub fn init(log_filter: &str, log_format: LogFormat, config: &TelemetrySettings) -> anyhow::Result<TelemetryGuard> {
    let filter = EnvFilter::try_new(log_filter).with_context(|| format!("invalid log filter {log_filter:?}"))?;
    let fmt = match log_format {
        LogFormat::Json => tracing_subscriber::fmt::layer()
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .with_span_list(false)
            .with_target(true)
            .boxed(),
        LogFormat::Text => tracing_subscriber::fmt::layer().with_target(false).boxed(),
    };
    // The log filter chooses log lines only; the spans exported are the ones
    // that name their OpenTelemetry kind (`otel.kind`), at any level, so a
    // quiet log (`warn`) still exports whole traces, and spans kept for
    // traces alone (debug level) cost nothing while no exporter is set.
    let (otel, provider) = match &config.otlp_endpoint {
        Some(endpoint) => {
            let provider = trace::provider(endpoint, &config.service_name)?;
            let tracer = provider.tracer("ontask");
            let layer = tracing_opentelemetry::layer()
                .with_tracer(tracer)
                .with_filter(tracing_subscriber::filter::filter_fn(trace::is_exported));
            (Some(layer), Some(provider))
        }
        None => (None, None),
    };
    opentelemetry::global::set_text_map_propagator(opentelemetry_sdk::propagation::TraceContextPropagator::new());
    tracing_subscriber::registry()
        .with(fmt.with_filter(filter))
        .with(otel)
        .try_init()
        .context("a logger is already installed")?;
    Ok(TelemetryGuard { provider })
}
