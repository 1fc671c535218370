//! The binary's real OTLP/HTTP trace export, received on loopback and decoded
//! with OpenTelemetry's protobuf definitions: one trace runs from a request
//! through its commit to the relay and a consumer, with the span names and
//! attributes of OpenTelemetry's HTTP, database and messaging conventions.
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::any_value::Value as AnyValue;
use opentelemetry_proto::tonic::trace::v1::span::SpanKind;
use opentelemetry_proto::tonic::trace::v1::{Span, status::StatusCode as SpanStatus};
use prost::Message as _;
use reqwest::StatusCode;
use serde_json::json;

use crate::eventlog::Remote;
use crate::helpers::{ProcessApp, eventually};

/// An OTLP/HTTP trace receiver (`POST /v1/traces`, protobuf) keeping every span.
struct Collector {
    endpoint: String,
    spans: Arc<Mutex<Vec<Span>>>,
}

impl Collector {
    async fn start() -> Self {
        let spans = Arc::new(Mutex::new(Vec::new()));
        let kept = spans.clone();
        let app = axum::Router::new().route(
            "/v1/traces",
            axum::routing::post(move |body: Bytes| {
                let kept = kept.clone();
                async move {
                    let request = ExportTraceServiceRequest::decode(body).expect("an OTLP trace export");
                    let mut kept = kept.lock().unwrap();
                    for resource in request.resource_spans {
                        for scope in resource.scope_spans {
                            kept.extend(scope.spans);
                        }
                    }
                    // An empty ExportTraceServiceResponse: full success.
                    ([(axum::http::header::CONTENT_TYPE, "application/x-protobuf")], Vec::<u8>::new())
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let endpoint = format!("http://{}", listener.local_addr().expect("address"));
        tokio::spawn(async move { axum::serve(listener, app).await.expect("collector") });
        Self { endpoint, spans }
    }

    /// The spans of one trace received so far.
    fn trace(&self, trace_id: &str) -> Vec<Span> {
        self.spans.lock().unwrap().iter().filter(|s| hex(&s.trace_id) == trace_id).cloned().collect()
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A span's attributes as text (numbers written out).
fn attributes(span: &Span) -> HashMap<String, String> {
    span.attributes
        .iter()
        .filter_map(|kv| {
            let value = match kv.value.as_ref()?.value.as_ref()? {
                AnyValue::StringValue(s) => s.clone(),
                AnyValue::IntValue(i) => i.to_string(),
                AnyValue::BoolValue(b) => b.to_string(),
                other => format!("{other:?}"),
            };
            Some((kv.key.clone(), value))
        })
        .collect()
}

fn of_kind(spans: &[Span], kind: SpanKind) -> Vec<&Span> {
    spans.iter().filter(|s| s.kind == kind as i32).collect()
}

/// The binary exporting to a collector of its own, with a short export delay
/// so spans arrive within a second.
struct Traced {
    collector: Collector,
    app: ProcessApp,
    _dir: tempfile::TempDir,
}

impl Traced {
    async fn start() -> Self {
        let collector = Collector::start().await;
        let dir = tempfile::tempdir().expect("temp dir");
        let app = ProcessApp::start_with_env(
            dir.path(),
            &[],
            &[("ONTASK_TELEMETRY__OTLP_ENDPOINT", collector.endpoint.as_str()), ("OTEL_BSP_SCHEDULE_DELAY", "100")],
        )
        .await;
        Self { collector, app, _dir: dir }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_trace_runs_from_the_request_through_its_commit_to_the_relay_and_a_consumer() {
    let traced = Traced::start().await;
    let (collector, remote) = (&traced.collector, Remote::of(&traced.app));
    let user = remote.new_user().await;
    let task = remote
        .create_task(&user, json!({ "title": "Water the plants", "due": "2030-01-01", "recurrence": "FREQ=DAILY" }))
        .await;
    let id = task["id"].as_str().expect("id");

    // The caller's trace, as a service in front of ontask would send it.
    let trace_id = "4bf92f3577b34da6a3ce929d0e0e4736";
    let caller_span = "00f067aa0ba902b7";
    let response = remote
        .post(&format!("/api/v1/tasks/{id}/complete"), &user)
        .header("traceparent", format!("00-{trace_id}-{caller_span}-01"))
        .send()
        .await
        .expect("complete");
    assert_eq!(response.status(), StatusCode::OK);
    let history = remote.get(&format!("/api/v1/tasks/{id}/history"), &user).send().await.expect("history");
    let history: serde_json::Value = history.json().await.expect("json");
    let completed = history["items"]
        .as_array()
        .and_then(|items| items.iter().find(|e| e["event_type"] == "task.completed"))
        .expect("a task.completed event")["event_id"]
        .as_str()
        .expect("event id")
        .to_owned();

    // The recurrence consumer acts on the completion: its span is the last to come.
    let spans = eventually(Duration::from_secs(20), "the consumer's span exported", || async {
        let spans = collector.trace(trace_id);
        of_kind(&spans, SpanKind::Consumer)
            .iter()
            .any(|s| attributes(s).get("messaging.consumer.group.name").map(String::as_str) == Some("recurrence"))
            .then_some(spans)
    })
    .await;

    // The request: a server span, the child of the caller's span.
    let servers = of_kind(&spans, SpanKind::Server);
    assert_eq!(servers.len(), 1, "one request in this trace: {spans:#?}");
    let request = servers[0];
    assert_eq!(request.name, "POST /api/v1/tasks/{id}/complete");
    assert_eq!(hex(&request.parent_span_id), caller_span);
    let http = attributes(request);
    assert_eq!(http["http.request.method"], "POST");
    assert_eq!(http["http.route"], "/api/v1/tasks/{id}/complete");
    assert_eq!(http["http.response.status_code"], "200");
    assert_eq!(http["url.path"], format!("/api/v1/tasks/{id}/complete"));
    assert_eq!(http["url.scheme"], "http");
    let request_span = hex(&request.span_id);

    // Its commit: a database client span inside the request.
    let commits: Vec<_> = of_kind(&spans, SpanKind::Client).into_iter().filter(|s| s.name == "COMMIT").collect();
    assert!(!commits.is_empty(), "a commit span: {spans:#?}");
    for commit in &commits {
        assert_eq!(hex(&commit.parent_span_id), request_span);
        assert_eq!(attributes(commit)["db.system.name"], "sqlite");
    }

    // The relay sends the event it wrote, and a consumer processes it, both
    // children of the request (the event's creation context).
    let sends = of_kind(&spans, SpanKind::Producer);
    let send = sends
        .iter()
        .find(|s| attributes(s).get("messaging.message.id") == Some(&completed))
        .unwrap_or_else(|| panic!("the relay's span for {completed}: {spans:#?}"));
    assert_eq!(send.name, "send events");
    assert_eq!(hex(&send.parent_span_id), request_span);
    let sent = attributes(send);
    assert_eq!((sent["messaging.system"].as_str(), sent["messaging.operation.type"].as_str()), ("log", "send"));

    let process = of_kind(&spans, SpanKind::Consumer)
        .into_iter()
        .find(|s| {
            let a = attributes(s);
            a.get("messaging.consumer.group.name").map(String::as_str) == Some("recurrence")
                && a.get("messaging.message.id") == Some(&completed)
        })
        .expect("the recurrence consumer's span for the completion");
    assert_eq!(process.name, "process events");
    assert_eq!(hex(&process.parent_span_id), request_span);
    assert_ne!(process.status.as_ref().map(|s| s.code), Some(SpanStatus::Error as i32));
    // Every span of the trace is one of these, and all name a parent in it or the caller.
    let known: Vec<String> = spans.iter().map(|s| hex(&s.span_id)).chain([caller_span.to_owned()]).collect();
    assert!(spans.iter().all(|s| known.contains(&hex(&s.parent_span_id))), "{spans:#?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_without_traceparent_is_the_root_of_its_trace_and_its_event_names_it() {
    let traced = Traced::start().await;
    let (collector, remote) = (&traced.collector, Remote::of(&traced.app));
    let user = remote.new_user().await;
    let task = remote.create_task(&user, json!({ "title": "Call the plumber" })).await;
    let id = task["id"].as_str().expect("id");
    let history = remote.get(&format!("/api/v1/tasks/{id}/history"), &user).send().await.expect("history");
    let history: serde_json::Value = history.json().await.expect("json");
    let traceparent = history["items"][0]["metadata"]["traceparent"].as_str().expect("traceparent").to_owned();
    let (trace_id, span_id) = (&traceparent[3..35], &traceparent[36..52]);

    let spans = eventually(Duration::from_secs(20), "the request's span exported", || async {
        let spans = collector.trace(trace_id);
        of_kind(&spans, SpanKind::Server).first().map(|s| (*s).clone())
    })
    .await;
    assert_eq!(spans.name, "POST /api/v1/tasks");
    assert!(spans.parent_span_id.is_empty(), "no invented parent: {spans:?}");
    assert_eq!(hex(&spans.span_id), span_id, "the event's traceparent names the exported span");
    assert_eq!(attributes(&spans)["http.response.status_code"], "201");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_path_without_a_route_is_named_by_its_method_and_a_client_error_is_no_failure() {
    let traced = Traced::start().await;
    let (collector, remote) = (&traced.collector, Remote::of(&traced.app));
    let trace_id = "0af7651916cd43dd8448eb211c80319c";
    let response = remote
        .client
        .get(remote.url("/no/such/page/at/all"))
        .header("traceparent", format!("00-{trace_id}-b7ad6b7169203331-01"))
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    let span = eventually(Duration::from_secs(20), "the span exported", || async {
        collector.trace(trace_id).into_iter().find(|s| s.kind == SpanKind::Server as i32)
    })
    .await;
    assert_eq!(span.name, "GET");
    assert!(!attributes(&span).contains_key("http.route"));
    assert_ne!(span.status.as_ref().map(|s| s.code), Some(SpanStatus::Error as i32));
}
