//! Dapr mode: the bus is the Dapr sidecar's HTTP API.
//!
//! Publishing is `POST /v1.0/publish/{pubsub}/{topic}` per event, as a CloudEvent
//! whose `id` is the event id and whose `data` is the envelope (with its log
//! position). Delivery is push: the sidecar POSTs CloudEvents to the app's routes
//! (`/dapr/events/{name}`, served by the API crate), which hand them to
//! [`DaprBus::deliver`]. A delivery is offered to every local consumer that
//! subscribed, and its answer to the sidecar waits until each of them
//! acknowledged it, that is until each consumer's transaction committed. That
//! keeps at-least-once end to end: the sidecar only forgets a message the
//! consumers have durably handled.
use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, SecondsFormat, Utc};
use ontask_domain::{EventEnvelope, EventType};
use ontask_telemetry::breaker::Breaker;
use serde::Serialize;
use serde_json::{Value, json};
use tokio::sync::{broadcast, mpsc, oneshot};

use crate::{BusError, EventBus, StoredEvent, Subscription};

const LIVE_CAPACITY: usize = 4096;
/// Deliveries queued per local consumer before the sidecar's requests wait.
const QUEUE: usize = 256;

/// Topic names (from `bus.topic_*`).
#[derive(Debug, Clone)]
pub struct DaprTopics {
    pub task_events: String,
    pub reminders: String,
    pub task_updates: String,
}

/// How to reach the sidecar and what this process subscribes to.
#[derive(Clone)]
pub struct DaprSettings {
    /// Base URL of the sidecar's HTTP API, e.g. `http://127.0.0.1:3500`.
    pub endpoint: String,
    /// The pub/sub component events are published on (and consumed from).
    pub pubsub_name: String,
    /// The pub/sub component the updates topic is consumed from: one consumer
    /// group per pod, so that every API replica sees every update.
    pub broadcast_pubsub_name: String,
    /// Sent as `dapr-api-token` when the sidecar's API is protected.
    pub api_token: Option<String>,
    pub topics: DaprTopics,
    /// Subscribe to task events and reminders (the process runs consumers).
    pub consume_events: bool,
    /// Subscribe to the updates topic (the process serves realtime streams).
    pub consume_updates: bool,
    /// How long a delivery waits for the local consumers before it asks the
    /// sidecar to retry. Below the sidecar's own app timeout (resiliency).
    pub delivery_timeout: Duration,
}

impl std::fmt::Debug for DaprSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The API token never reaches a log.
        f.debug_struct("DaprSettings")
            .field("endpoint", &self.endpoint)
            .field("pubsub_name", &self.pubsub_name)
            .field("broadcast_pubsub_name", &self.broadcast_pubsub_name)
            .field("api_token", &self.api_token.as_ref().map(|_| "***"))
            .field("topics", &self.topics)
            .field("consume_events", &self.consume_events)
            .field("consume_updates", &self.consume_updates)
            .field("delivery_timeout", &self.delivery_timeout)
            .finish()
    }
}

/// The routes the sidecar delivers to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DaprRoute {
    TaskEvents,
    Reminders,
    TaskUpdates,
}

impl DaprRoute {
    /// From the last segment of `/dapr/events/{name}`.
    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "task-events" => Some(Self::TaskEvents),
            "reminders" => Some(Self::Reminders),
            "task-updates" => Some(Self::TaskUpdates),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Self::TaskEvents => "task-events",
            Self::Reminders => "reminders",
            Self::TaskUpdates => "task-updates",
        }
    }

    pub fn path(self) -> String {
        format!("/dapr/events/{}", self.name())
    }
}

/// One entry of the app's answer to `GET /dapr/subscribe` (programmatic subscriptions).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ProgrammaticSubscription {
    pub pubsubname: String,
    pub topic: String,
    pub route: String,
    pub dead_letter_topic: String,
}

/// What the app answers to a delivery (`{"status": ...}`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeliveryStatus {
    /// Handled by every local consumer.
    Success,
    /// Not handled yet (no consumer ready, a consumer failed or was too slow):
    /// the sidecar delivers it again.
    Retry,
    /// Can never be handled (undecodable): the sidecar dead-letters it.
    Drop,
}

impl DeliveryStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Success => "SUCCESS",
            Self::Retry => "RETRY",
            Self::Drop => "DROP",
        }
    }
}

/// A delivered event waiting for one local consumer's acknowledgement.
struct Delivery {
    event: StoredEvent,
    done: oneshot::Sender<()>,
}

/// The Dapr bus. See the module documentation.
pub struct DaprBus {
    http: reqwest::Client,
    /// The sidecar's: while it keeps failing, publishing and scheduling fail
    /// at once (the relay retries later) instead of each waiting out the
    /// client's timeout.
    breaker: Breaker,
    settings: DaprSettings,
    consumers: Mutex<Vec<(String, mpsc::Sender<Delivery>)>>,
    live: broadcast::Sender<Arc<StoredEvent>>,
}

impl DaprBus {
    pub fn new(settings: DaprSettings, breaker: Breaker) -> Result<Self, BusError> {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()
            .map_err(|e| BusError::Unavailable(format!("cannot build the HTTP client: {e}")))?;
        let (live, _) = broadcast::channel(LIVE_CAPACITY);
        Ok(Self { http, breaker, settings, consumers: Mutex::new(Vec::new()), live })
    }

    pub fn settings(&self) -> &DaprSettings {
        &self.settings
    }

    /// What `GET /dapr/subscribe` answers: the topics this process consumes.
    pub fn subscriptions(&self) -> Vec<ProgrammaticSubscription> {
        let s = &self.settings;
        let mut out = Vec::new();
        let mut add = |pubsub: &str, topic: &str, route: DaprRoute| {
            out.push(ProgrammaticSubscription {
                pubsubname: pubsub.to_owned(),
                topic: topic.to_owned(),
                route: route.path(),
                dead_letter_topic: format!("{topic}.dlq"),
            });
        };
        if s.consume_events {
            add(&s.pubsub_name, &s.topics.task_events, DaprRoute::TaskEvents);
            add(&s.pubsub_name, &s.topics.reminders, DaprRoute::Reminders);
        }
        if s.consume_updates {
            add(&s.broadcast_pubsub_name, &s.topics.task_updates, DaprRoute::TaskUpdates);
        }
        out
    }

    /// Handles one CloudEvent the sidecar delivered to `route`; the answer is
    /// what the route tells the sidecar.
    #[tracing::instrument(skip_all, fields(route = route.name()))]
    pub async fn deliver(&self, route: DaprRoute, body: &[u8]) -> DeliveryStatus {
        let event = match decode_cloud_event(body) {
            Ok(event) => event,
            Err(why) => {
                // Redelivering cannot fix it; the sidecar moves it to the dead-letter topic.
                tracing::error!(error = %why, "undecodable delivery; dropping it");
                return DeliveryStatus::Drop;
            }
        };
        match route {
            DaprRoute::TaskUpdates => {
                // No receivers is fine: nobody is streaming right now.
                let _ = self.live.send(Arc::new(event));
                DeliveryStatus::Success
            }
            DaprRoute::TaskEvents | DaprRoute::Reminders => {
                let seq = event.seq;
                let status = match tokio::time::timeout(self.settings.delivery_timeout, self.offer(event)).await {
                    Ok(status) => status,
                    Err(_) => DeliveryStatus::Retry,
                };
                if status != DeliveryStatus::Success {
                    tracing::debug!(seq, status = status.as_str(), "delivery not handled yet");
                }
                status
            }
        }
    }

    /// Hands the event to every local consumer and waits for all their acks.
    async fn offer(&self, event: StoredEvent) -> DeliveryStatus {
        let consumers: Vec<mpsc::Sender<Delivery>> = {
            let mut consumers = self.consumers.lock().unwrap_or_else(|p| p.into_inner());
            consumers.retain(|(_, tx)| !tx.is_closed());
            consumers.iter().map(|(_, tx)| tx.clone()).collect()
        };
        // Nobody here to handle it yet (starting up, or shutting down).
        if consumers.is_empty() {
            return DeliveryStatus::Retry;
        }
        let mut acks = Vec::with_capacity(consumers.len());
        for consumer in consumers {
            let (done, ack) = oneshot::channel();
            if consumer.send(Delivery { event: event.clone(), done }).await.is_err() {
                return DeliveryStatus::Retry;
            }
            acks.push(ack);
        }
        // A dropped sender means the consumer let go of the delivery unhandled.
        let acked = futures_util::future::join_all(acks).await;
        if acked.iter().all(Result::is_ok) { DeliveryStatus::Success } else { DeliveryStatus::Retry }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.settings.endpoint.trim_end_matches('/'))
    }

    fn request(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        let rb = self.http.request(method, self.url(path));
        match &self.settings.api_token {
            Some(token) => rb.header("dapr-api-token", token),
            None => rb,
        }
    }

    /// Sends `request` to the sidecar through its breaker; no answer or a 5xx
    /// counts as the sidecar failing.
    async fn send(&self, what: &str, request: reqwest::RequestBuilder) -> Result<reqwest::Response, BusError> {
        let permit = self.breaker.permit().map_err(|open| BusError::Unavailable(format!("{what}: {open}")))?;
        match request.send().await {
            Ok(response) => {
                if response.status().is_server_error() {
                    permit.failed();
                } else {
                    permit.succeeded();
                }
                Ok(response)
            }
            Err(e) => {
                permit.failed();
                Err(BusError::Unavailable(format!("{what}: {}", ontask_telemetry::error_chain(&e))))
            }
        }
    }

    /// The topic consumers read an event from.
    fn main_topic(&self, event: &StoredEvent) -> &str {
        let t = &self.settings.topics;
        match event.envelope.kind() {
            Some(EventType::ReminderDue | EventType::ReminderSent) => &t.reminders,
            _ if event.envelope.event_type().starts_with("reminder.") => &t.reminders,
            _ => &t.task_events,
        }
    }

    /// The topics an event goes to, in publishing order.
    fn topics_for(&self, event: &StoredEvent) -> [&str; 2] {
        // The updates topic carries every event: realtime streams show a user
        // all of their events (reminders too), as they do in the embedded mode.
        [self.main_topic(event), &self.settings.topics.task_updates]
    }

    #[tracing::instrument(skip_all, fields(topic = %topic, seq = event.seq))]
    async fn publish_one(&self, topic: &str, event: &StoredEvent) -> Result<(), BusError> {
        self.publish_cloud_event(topic, event, cloud_event(event)).await
    }

    async fn publish_cloud_event(&self, topic: &str, event: &StoredEvent, ce: Value) -> Result<(), BusError> {
        let e = &event.envelope;
        // Kafka-backed components partition by this key, which keeps each task's
        // events in order for the consumers. The updates topic is keyed by the
        // user who made the change, so one writer's events stay in order; a
        // stream dedupes by position, as it reads several writers' partitions.
        let key = if topic == self.settings.topics.task_updates {
            e.user_id.to_string()
        } else {
            e.task_id.map(|t| t.to_string()).unwrap_or_else(|| e.user_id.to_string())
        };
        let path = format!("/v1.0/publish/{}/{topic}", self.settings.pubsub_name);
        let mut request = self
            .request(reqwest::Method::POST, &path)
            .query(&[("metadata.partitionKey", key.as_str())])
            .header(reqwest::header::CONTENT_TYPE, "application/cloudevents+json");
        // daprd overwrites the CloudEvent's `traceparent` with its publish
        // span's, which starts a trace of its own unless the request carries
        // the event's trace in the header (seen with daprd 1.16).
        if let Some(traceparent) = &e.metadata.traceparent {
            request = request.header("traceparent", traceparent);
        }
        let response = self.send(&format!("publishing to {topic}"), request.body(ce.to_string())).await?;
        let status = response.status();
        if status.is_success() {
            return Ok(());
        }
        let body = response.text().await.unwrap_or_default();
        Err(BusError::Unavailable(format!("publishing to {topic}: the sidecar answered {status}: {body}")))
    }

    /// Schedules a one-shot job with the sidecar's Jobs API; the sidecar calls
    /// the app back at `POST /job/{name}` when it is due. A job of the same name
    /// is replaced, so scheduling the same instant twice makes one job.
    #[tracing::instrument(skip_all, fields(job = name))]
    pub async fn schedule_job(&self, name: &str, due: DateTime<Utc>, data: Value) -> Result<(), BusError> {
        let body = json!({
            "dueTime": due.to_rfc3339_opts(SecondsFormat::Millis, true),
            "data": data,
            "overwrite": true,
        });
        let request = self.request(reqwest::Method::POST, &format!("/v1.0-alpha1/jobs/{name}")).json(&body);
        let response = self.send(&format!("scheduling job {name}"), request).await?;
        let status = response.status();
        if status.is_success() {
            return Ok(());
        }
        let text = response.text().await.unwrap_or_default();
        Err(BusError::Unavailable(format!("scheduling job {name}: the sidecar answered {status}: {text}")))
    }
}

#[async_trait]
impl EventBus for DaprBus {
    fn kind(&self) -> &'static str {
        "dapr"
    }

    fn destination(&self, event: &StoredEvent) -> &str {
        self.main_topic(event)
    }

    #[tracing::instrument(skip_all, fields(events = batch.len()))]
    async fn publish(&self, batch: &[StoredEvent]) -> Result<(), BusError> {
        // One at a time: the relay's order is the order per task on the topics.
        for event in batch {
            for topic in self.topics_for(event) {
                self.publish_one(topic, event).await?;
            }
        }
        Ok(())
    }

    async fn subscribe(&self, consumer: &str) -> Result<Box<dyn Subscription>, BusError> {
        let (tx, rx) = mpsc::channel(QUEUE);
        self.consumers.lock().unwrap_or_else(|p| p.into_inner()).push((consumer.to_owned(), tx));
        Ok(Box::new(PushSubscription { rx, pending: VecDeque::new() }))
    }

    fn live(&self) -> broadcast::Receiver<Arc<StoredEvent>> {
        self.live.subscribe()
    }

    /// Publishes the event to `<topic>.dlq`, the subscriptions' dead-letter
    /// topic, with why in CloudEvents extension attributes. The delivery itself
    /// is then acknowledged (SUCCESS), so the sidecar does not retry it.
    #[tracing::instrument(skip_all, fields(consumer = %consumer, seq = event.seq))]
    async fn dead_letter(
        &self,
        consumer: &str,
        event: &StoredEvent,
        error: &str,
        attempts: u32,
    ) -> Result<(), BusError> {
        let topic = self.main_topic(event);
        let mut ce = cloud_event(event);
        ce["ontaskerror"] = Value::String(error.to_owned());
        ce["ontaskconsumer"] = Value::String(consumer.to_owned());
        ce["ontaskattempts"] = Value::String(attempts.to_string());
        ce["ontaskoriginaltopic"] = Value::String(topic.to_owned());
        self.publish_cloud_event(&format!("{topic}.dlq"), event, ce).await
    }

    #[tracing::instrument(skip_all)]
    async fn health(&self) -> Result<(), BusError> {
        let response = self
            .request(reqwest::Method::GET, "/v1.0/healthz")
            .send()
            .await
            .map_err(|e| BusError::Unavailable(format!("the Dapr sidecar is unreachable: {e}")))?;
        match response.status() {
            reqwest::StatusCode::NO_CONTENT => Ok(()),
            other => Err(BusError::Unavailable(format!("the Dapr sidecar is unhealthy ({other})"))),
        }
    }
}

/// A local consumer's view of the deliveries.
struct PushSubscription {
    rx: mpsc::Receiver<Delivery>,
    /// Handed out by `next`, not yet acknowledged, in the order handed out.
    pending: VecDeque<Delivery>,
}

#[async_trait]
impl Subscription for PushSubscription {
    async fn next(&mut self, max: usize) -> Result<Vec<StoredEvent>, BusError> {
        // Deliveries handed out but never acknowledged (the consumer stopped
        // mid-batch) come again first, as the log would re-read them.
        if self.pending.is_empty() {
            let first = self.rx.recv().await.ok_or(BusError::Closed)?;
            self.pending.push_back(first);
            while self.pending.len() < max.max(1) {
                match self.rx.try_recv() {
                    Ok(delivery) => self.pending.push_back(delivery),
                    Err(_) => break,
                }
            }
        }
        Ok(self.pending.iter().take(max.max(1)).map(|d| d.event.clone()).collect())
    }

    async fn ack(&mut self, seq: i64) -> Result<(), BusError> {
        // Acknowledging is by position in the batch: deliveries from several
        // partitions may arrive out of log order, so "every seq up to" would
        // also complete events the consumer has not handled yet.
        let upto = match self.pending.iter().position(|d| d.event.seq == seq) {
            Some(i) => i + 1,
            None => self.pending.iter().take_while(|d| d.event.seq <= seq).count(),
        };
        for delivery in self.pending.drain(..upto) {
            // The route may have stopped waiting (timed out); the sidecar then
            // redelivers and the consumer's inbox skips it.
            let _ = delivery.done.send(());
        }
        Ok(())
    }
}

/// The CloudEvent 1.0 the relay publishes: the sidecar keeps `id`, so a
/// redelivered message is recognisably the same event.
fn cloud_event(event: &StoredEvent) -> Value {
    let e = &event.envelope;
    let mut ce = json!({
        "specversion": "1.0",
        "id": e.event_id.to_string(),
        "source": e.source,
        "type": e.event_type(),
        "time": e.timestamp.to_rfc3339_opts(SecondsFormat::Micros, true),
        "datacontenttype": "application/json",
        "data": event,
    });
    if let Some(task) = e.task_id {
        ce["subject"] = Value::String(task.to_string());
    }
    if let Some(traceparent) = &e.metadata.traceparent {
        ce["traceparent"] = Value::String(traceparent.clone());
    }
    ce
}

/// The event inside a delivered CloudEvent: `data` is the envelope plus `seq`.
fn decode_cloud_event(body: &[u8]) -> Result<StoredEvent, String> {
    let ce: Value = serde_json::from_slice(body).map_err(|e| format!("not JSON: {e}"))?;
    let data = match ce.get("data") {
        Some(Value::Object(_)) => ce["data"].clone(),
        // Some publishers send JSON data as a string.
        Some(Value::String(s)) => serde_json::from_str(s).map_err(|e| format!("data is not JSON: {e}"))?,
        _ => return Err("the CloudEvent has no JSON data".into()),
    };
    let seq = data.get("seq").and_then(Value::as_i64).ok_or("data has no seq")?;
    let envelope: EventEnvelope = serde_json::from_value(data).map_err(|e| format!("data is not an event: {e}"))?;
    Ok(StoredEvent { seq, envelope })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(seq: i64) -> StoredEvent {
        let user = ontask_domain::UserId::new();
        let created = ontask_testkit::events::of_kind(EventType::TaskCreated, user, ontask_domain::TaskId::new(), "x");
        let envelope = EventEnvelope::new(created, "api", user, Default::default());
        StoredEvent { seq, envelope }
    }

    #[test]
    fn cloud_events_round_trip() {
        let e = event(7);
        let ce = cloud_event(&e);
        assert_eq!(ce["id"], e.envelope.event_id.to_string());
        assert_eq!(decode_cloud_event(ce.to_string().as_bytes()).unwrap(), e);
        assert!(decode_cloud_event(b"{\"data\": 3}").is_err());
        assert!(decode_cloud_event(b"nope").is_err());
    }

    #[tokio::test]
    async fn acks_complete_deliveries_by_position() {
        let (tx, rx) = mpsc::channel(8);
        let mut sub = PushSubscription { rx, pending: VecDeque::new() };
        let mut acks = Vec::new();
        for seq in [5, 3, 9] {
            let (done, ack) = oneshot::channel();
            tx.send(Delivery { event: event(seq), done }).await.unwrap();
            acks.push(ack);
        }
        let batch = sub.next(10).await.unwrap();
        assert_eq!(batch.iter().map(|e| e.seq).collect::<Vec<_>>(), [5, 3, 9]);
        sub.ack(5).await.unwrap();
        // 3 was handed out after 5 and is not acknowledged by ack(5).
        assert_eq!(sub.next(10).await.unwrap().iter().map(|e| e.seq).collect::<Vec<_>>(), [3, 9]);
        sub.ack(9).await.unwrap();
        for ack in acks {
            ack.await.unwrap();
        }
    }
}
