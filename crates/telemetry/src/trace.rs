//! W3C trace context and OTLP export.
use anyhow::Context as _;
use opentelemetry_otlp::WithExportConfig;
use rand::Rng;

pub(crate) fn provider(
    endpoint: &str,
    service_name: &str,
) -> anyhow::Result<opentelemetry_sdk::trace::SdkTracerProvider> {
    let endpoint = format!("{}/v1/traces", endpoint.trim_end_matches('/'));
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .with_endpoint(endpoint)
        .build()
        .context("building the OTLP exporter")?;
    let resource = opentelemetry_sdk::Resource::builder().with_service_name(service_name.to_owned()).build();
    Ok(opentelemetry_sdk::trace::SdkTracerProvider::builder()
        .with_batch_exporter(exporter)
        .with_resource(resource)
        .build())
}

/// What the HTTP layer knows of a request, set on it before any handler runs:
/// the id that finds its log lines (also the `X-Request-Id` answer header) and
/// its trace context.
#[derive(Debug, Clone)]
pub struct RequestMeta {
    pub request_id: String,
    pub trace: TraceContext,
}

/// The trace a request belongs to: continued from its `traceparent` header, or
/// new. `span_id` is this hop's span.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TraceContext {
    pub trace_id: String,
    pub parent_span_id: Option<String>,
    pub span_id: String,
    pub sampled: bool,
}

impl TraceContext {
    /// Continues the trace of a `traceparent` header (W3C Trace Context level 1),
    /// or starts a new one when it is absent or malformed.
    pub fn from_traceparent(header: Option<&str>) -> Self {
        let mut rng = rand::thread_rng();
        let span_id = format!("{:016x}", rng.r#gen::<u64>() | 1);
        if let Some((trace_id, parent, flags)) = header.and_then(parse_traceparent) {
            return Self { trace_id, parent_span_id: Some(parent), span_id, sampled: flags & 1 == 1 };
        }
        Self { trace_id: format!("{:032x}", rng.r#gen::<u128>() | 1), parent_span_id: None, span_id, sampled: true }
    }

    /// The `traceparent` value for this hop (for event metadata and outgoing calls).
    pub fn traceparent(&self) -> String {
        format!("00-{}-{}-{:02x}", self.trace_id, self.span_id, u8::from(self.sampled))
    }

    /// Makes `span` this request's span in OpenTelemetry: the child of the
    /// caller's span when the request came with a `traceparent`, else the root
    /// of a new trace (never a child of a span nobody exported). Then takes the
    /// span's own ids, so the logs, the events' `traceparent` and the exported
    /// spans name the same trace and the same span. Without an OpenTelemetry
    /// layer the ids stay the ones made up here.
    pub fn attach_to(&mut self, span: &tracing::Span) {
        use opentelemetry::trace::TraceContextExt;
        use tracing_opentelemetry::OpenTelemetrySpanExt;
        if let Some(parent) = &self.parent_span_id {
            set_remote_parent(span, &self.trace_id, parent, self.sampled);
        }
        let context = span.context();
        let own = context.span().span_context().clone();
        if own.is_valid() {
            self.trace_id = own.trace_id().to_string();
            self.span_id = own.span_id().to_string();
            self.sampled = own.is_sampled();
        }
    }
}

/// Makes `span` the child of a span another process (or an earlier request)
/// started, named by its ids; ids that are not valid hex leave it as it was.
fn set_remote_parent(span: &tracing::Span, trace_id: &str, parent: &str, sampled: bool) {
    use opentelemetry::trace::{SpanContext, SpanId, TraceContextExt, TraceFlags, TraceId, TraceState};
    use tracing_opentelemetry::OpenTelemetrySpanExt;
    let (Ok(trace_id), Ok(parent)) = (TraceId::from_hex(trace_id), SpanId::from_hex(parent)) else { return };
    let flags = if sampled { TraceFlags::SAMPLED } else { TraceFlags::default() };
    let remote = SpanContext::new(trace_id, parent, flags, true, TraceState::default());
    span.set_parent(opentelemetry::Context::new().with_remote_span_context(remote));
}

/// Whether the OpenTelemetry layer takes a span: those that name their kind
/// (`otel.kind`, OpenTelemetry's span kind), whatever their level. Other
/// spans and log lines are for the log alone.
pub(crate) fn is_exported(metadata: &tracing::Metadata<'_>) -> bool {
    metadata.is_span() && metadata.fields().field("otel.kind").is_some()
}

/// An event's hop on the bus, in OpenTelemetry's messaging conventions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MessageHop {
    /// The relay sends it from the outbox to the bus (a producer span).
    Send,
    /// A consumer acts on it (a consumer span).
    Process,
}

impl MessageHop {
    fn operation(self) -> &'static str {
        match self {
            Self::Send => "send",
            Self::Process => "process",
        }
    }

    fn kind(self) -> &'static str {
        match self {
            Self::Send => "producer",
            Self::Process => "consumer",
        }
    }
}

/// What a message span says of the event and where it goes.
#[derive(Clone, Copy)]
pub struct Message<'a> {
    /// The bus: `kafka`, `dapr`, `log` (the in-process log).
    pub system: &'a str,
    /// The topic.
    pub destination: &'a str,
    /// The event id.
    pub id: &'a dyn std::fmt::Display,
    /// The `traceparent` of the request that wrote the event.
    pub traceparent: Option<&'a str>,
    /// The consumer, for [`MessageHop::Process`].
    pub consumer: Option<&'a str>,
}

/// A span for one event's hop, the child of the request that wrote it (its
/// `traceparent`), so one trace runs from the request through the commit to
/// the relay and every consumer. A debug-level span: without an exporter it is
/// never made.
pub fn message_span(hop: MessageHop, message: Message<'_>) -> tracing::Span {
    let span = tracing::debug_span!(
        "message",
        otel.name = %format_args!("{} {}", hop.operation(), message.destination),
        otel.kind = hop.kind(),
        otel.status_code = tracing::field::Empty,
        messaging.system = message.system,
        messaging.operation.name = hop.operation(),
        messaging.operation.type = hop.operation(),
        messaging.destination.name = message.destination,
        messaging.message.id = %message.id,
        messaging.consumer.group.name = message.consumer,
    );
    if !span.is_disabled()
        && let Some((trace_id, parent, flags)) = message.traceparent.and_then(parse_traceparent)
    {
        set_remote_parent(&span, &trace_id, &parent, flags & 1 == 1);
    }
    span
}

/// Marks an exported span as failed (OpenTelemetry's `ERROR` status).
pub fn record_failure(span: &tracing::Span) {
    span.record("otel.status_code", "ERROR");
}

fn parse_traceparent(h: &str) -> Option<(String, String, u8)> {
    let mut parts = h.trim().split('-');
    let version = parts.next()?;
    let trace_id = parts.next()?;
    let parent = parts.next()?;
    let flags = parts.next()?;
    let hex = |s: &str, n: usize| s.len() == n && s.bytes().all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase());
    if version != "00" || !hex(trace_id, 32) || !hex(parent, 16) || !hex(flags, 2) {
        return None;
    }
    if trace_id.bytes().all(|b| b == b'0') || parent.bytes().all(|b| b == b'0') {
        return None;
    }
    Some((trace_id.to_owned(), parent.to_owned(), u8::from_str_radix(flags, 16).ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn continues_a_valid_traceparent() {
        let t = TraceContext::from_traceparent(Some("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"));
        assert_eq!(t.trace_id, "4bf92f3577b34da6a3ce929d0e0e4736");
        assert_eq!(t.parent_span_id.as_deref(), Some("00f067aa0ba902b7"));
        assert!(t.traceparent().starts_with("00-4bf92f3577b34da6a3ce929d0e0e4736-"));
    }

    /// A subscriber with the OpenTelemetry layer, exporting nowhere.
    fn with_otel(check: impl FnOnce()) {
        use opentelemetry::trace::TracerProvider as _;
        use tracing_subscriber::layer::SubscriberExt as _;
        let provider = opentelemetry_sdk::trace::SdkTracerProvider::builder().build();
        let layer = tracing_opentelemetry::layer().with_tracer(provider.tracer("test"));
        tracing::subscriber::with_default(tracing_subscriber::registry().with(layer), check);
    }

    fn own_ids(span: &tracing::Span) -> (String, String) {
        use opentelemetry::trace::TraceContextExt as _;
        use tracing_opentelemetry::OpenTelemetrySpanExt as _;
        let context = span.context();
        let own = context.span().span_context().clone();
        (own.trace_id().to_string(), own.span_id().to_string())
    }

    #[test]
    fn a_request_without_traceparent_is_the_root_of_its_trace_and_names_its_own_span() {
        with_otel(|| {
            let mut t = TraceContext::from_traceparent(None);
            let made_up = t.span_id.clone();
            let span = tracing::info_span!("request");
            t.attach_to(&span);
            let (trace_id, span_id) = own_ids(&span);
            // The events' traceparent names the span that is exported, not a
            // parent nobody will ever export.
            assert_eq!((t.trace_id.as_str(), t.span_id.as_str()), (trace_id.as_str(), span_id.as_str()));
            assert_ne!(t.span_id, made_up);
            assert_eq!(t.parent_span_id, None);
        });
    }

    #[test]
    fn a_request_with_traceparent_continues_its_trace_as_a_child_of_the_callers_span() {
        with_otel(|| {
            let mut t = TraceContext::from_traceparent(Some("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"));
            let span = tracing::info_span!("request");
            t.attach_to(&span);
            let (trace_id, span_id) = own_ids(&span);
            assert_eq!(trace_id, "4bf92f3577b34da6a3ce929d0e0e4736");
            assert_eq!(t.trace_id, trace_id);
            assert_eq!(t.span_id, span_id, "the next hop's parent is this request's span");
            assert_ne!(t.span_id, "00f067aa0ba902b7");
            assert!(t.traceparent().starts_with(&format!("00-{trace_id}-{span_id}-")));
        });
    }

    #[test]
    fn starts_a_new_trace_for_bad_headers() {
        for bad in [
            "",
            "garbage",
            "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
        ] {
            let t = TraceContext::from_traceparent(Some(bad));
            assert_eq!(t.parent_span_id, None, "{bad}");
            assert_eq!(t.trace_id.len(), 32);
        }
    }
}
