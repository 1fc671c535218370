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

    /// Makes the current tracing span a child of this trace in OpenTelemetry, so
    /// exported spans carry the same trace id as the logs and the events.
    pub fn attach_to(&self, span: &tracing::Span) {
        use opentelemetry::trace::{SpanContext, SpanId, TraceContextExt, TraceFlags, TraceId, TraceState};
        use tracing_opentelemetry::OpenTelemetrySpanExt;
        let (Ok(trace_id), Some(Ok(parent))) = (
            TraceId::from_hex(&self.trace_id),
            Some(SpanId::from_hex(self.parent_span_id.as_deref().unwrap_or(&self.span_id))),
        ) else {
            return;
        };
        let flags = if self.sampled { TraceFlags::SAMPLED } else { TraceFlags::default() };
        let remote = SpanContext::new(trace_id, parent, flags, true, TraceState::default());
        span.set_parent(opentelemetry::Context::new().with_remote_span_context(remote));
    }
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
