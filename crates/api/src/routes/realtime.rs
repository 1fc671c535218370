//! Realtime delivery of the caller's events: Server-Sent Events and WebSocket.
//! Both resume from a log position (`Last-Event-ID` / `last_event_id`), reading
//! the gap from the log and then following live events.
use std::convert::Infallible;
use std::sync::Arc;

use axum::extract::rejection::QueryRejection;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures_util::Stream;
use std::collections::{HashSet, VecDeque};

use ontask_domain::{Event as Change, ProjectId, UserId};
use ontask_store::events::StoredEvent;
use ontask_telemetry::metrics as m;
use serde::Deserialize;
use tokio::sync::broadcast::{self, error::RecvError};
use tokio::sync::mpsc;
use tokio_stream::StreamExt;
use tokio_stream::wrappers::ReceiverStream;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::extract::Caller;
use crate::{ApiError, ApiState};

const BACKLOG_PAGE: i64 = 500;

pub fn router() -> OpenApiRouter<ApiState> {
    OpenApiRouter::new().routes(routes!(sse)).routes(routes!(websocket))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct StreamQuery {
    /// Resume after this log position (for clients that cannot send `Last-Event-ID`).
    last_event_id: Option<i64>,
    /// A bearer token, for clients that cannot send headers.
    #[allow(dead_code)]
    access_token: Option<String>,
}

fn resume_position(headers: &HeaderMap, query: &StreamQuery) -> Result<Option<i64>, ApiError> {
    match headers.get("last-event-id").and_then(|v| v.to_str().ok()) {
        Some(raw) => raw
            .trim()
            .parse()
            .map(Some)
            .map_err(|_| ApiError::BadRequest("Last-Event-ID must be a log position (an integer)".into())),
        None => Ok(query.last_event_id),
    }
}

/// Counts an open realtime connection for as long as it lives.
struct ConnectionGauge(&'static str);

impl ConnectionGauge {
    fn open(transport: &'static str) -> Self {
        metrics::gauge!(m::REALTIME_CONNECTIONS, "transport" => transport).increment(1.0);
        Self(transport)
    }
}

impl Drop for ConnectionGauge {
    fn drop(&mut self) {
        metrics::gauge!(m::REALTIME_CONNECTIONS, "transport" => self.0).decrement(1.0);
    }
}

/// Whose events a stream carries: those of the projects the person is a member
/// of, and their own about no project. Membership is read when the stream
/// opens and then follows the stream's own `member.*` events, so someone
/// removed from a project stops receiving its events at once (after the
/// `member.removed` that tells them), and someone added starts at once.
struct Viewer {
    user: UserId,
    projects: HashSet<ProjectId>,
}

impl Viewer {
    async fn load(state: &ApiState, user: UserId) -> Result<Self, ontask_app::AppError> {
        let projects = state.app.live().projects_of(user).await?.into_iter().collect();
        Ok(Self { user, projects })
    }

    /// Whether the stream carries `event`; keeps the membership up to date.
    fn sees(&mut self, event: &StoredEvent) -> bool {
        let e = &event.envelope;
        match &e.event {
            // A project of one's own has no `member.added`: its owner is in it from the start.
            Change::ProjectCreated(p) if p.project.owner_id == self.user => {
                self.projects.insert(p.project.id);
                return true;
            }
            Change::MemberAdded(m) if m.member.user_id == self.user => {
                self.projects.insert(m.member.project_id);
                return true;
            }
            Change::MemberRemoved(m) if m.member.user_id == self.user => {
                return self.projects.remove(&m.member.project_id);
            }
            Change::ProjectDeleted(p) => return self.projects.remove(&p.project.id),
            _ => {}
        }
        match e.project_id {
            Some(project) => self.projects.contains(&project),
            None => e.user_id == self.user,
        }
    }

    fn project_ids(&self) -> Vec<ProjectId> {
        self.projects.iter().copied().collect()
    }
}

/// Feeds `out` with the user's events after `resume_from`, then live ones,
/// until the receiver goes away or the server shuts down.
///
/// `live` must be subscribed before the client gets its answer: an event the
/// client causes right after connecting would otherwise be published before the
/// subscription exists and never reach it. It is also taken before the backlog is
/// read, so nothing falls between the two.
async fn feed(
    state: ApiState,
    user: UserId,
    resume_from: Option<i64>,
    mut live: broadcast::Receiver<Arc<StoredEvent>>,
    out: mpsc::Sender<Arc<StoredEvent>>,
) {
    let mut viewer = match Viewer::load(&state, user).await {
        Ok(viewer) => viewer,
        Err(e) => {
            tracing::warn!(error = %ontask_telemetry::error_chain(&e), "realtime stream could not read memberships");
            return;
        }
    };
    let mut sent = Sent::after(resume_from.unwrap_or(0));
    if resume_from.is_some() && !catch_up(&state, &mut viewer, &mut sent, &out).await {
        return;
    }
    loop {
        let received = tokio::select! {
            () = state.shutdown.cancelled() => return,
            () = out.closed() => return,
            r = live.recv() => r,
        };
        match received {
            Ok(event) => {
                if sent.has(event.seq) || !viewer.sees(&event) {
                    continue;
                }
                sent.record(event.seq);
                if out.send(event).await.is_err() {
                    return;
                }
            }
            // Too slow for the live feed: read what was missed from the log.
            Err(RecvError::Lagged(_)) => {
                if !catch_up(&state, &mut viewer, &mut sent, &out).await {
                    return;
                }
            }
            Err(RecvError::Closed) => return,
        }
    }
}

/// How many live positions a stream remembers having sent.
const REMEMBERED: usize = 4096;

/// Which log positions a stream has sent: every one up to `floor` (read from
/// the log, where position order is commit order), and the most recent live
/// ones after it. The live feed need not come in log order: on Kafka the
/// updates topic is keyed by the writer, and a stream of a shared project
/// shows several writers' events from different partitions. So a position
/// below the highest one sent is not proof that it was sent; only this is.
struct Sent {
    floor: i64,
    recent: HashSet<i64>,
    order: VecDeque<i64>,
}

impl Sent {
    fn after(floor: i64) -> Self {
        Self { floor, recent: HashSet::new(), order: VecDeque::new() }
    }

    fn has(&self, seq: i64) -> bool {
        seq <= self.floor || self.recent.contains(&seq)
    }

    fn record(&mut self, seq: i64) {
        if self.recent.insert(seq) {
            self.order.push_back(seq);
            if self.order.len() > REMEMBERED
                && let Some(oldest) = self.order.pop_front()
            {
                self.recent.remove(&oldest);
            }
        }
    }
}

/// Sends the person's events after `sent.floor` from the log (those not sent
/// live already), then moves the floor to the last one read. False when the
/// client left or the log cannot be read.
async fn catch_up(
    state: &ApiState,
    viewer: &mut Viewer,
    sent: &mut Sent,
    out: &mpsc::Sender<Arc<StoredEvent>>,
) -> bool {
    loop {
        // Read with every project the person was ever in during the gap, then
        // filter event by event, so membership changes in the gap apply in order.
        let page = state.app.live().events_after(viewer.user, viewer.project_ids(), sent.floor, BACKLOG_PAGE).await;
        let page = match page {
            Ok(p) => p,
            Err(e) => {
                tracing::warn!(error = %ontask_telemetry::error_chain(&e), "realtime catch-up failed");
                return false;
            }
        };
        let full = page.len() as i64 == BACKLOG_PAGE;
        for event in page {
            let seq = event.seq;
            let new = !sent.has(seq);
            sent.floor = seq;
            if new && viewer.sees(&event) && out.send(Arc::new(event)).await.is_err() {
                return false;
            }
        }
        if !full {
            return true;
        }
    }
}

/// The caller's events as Server-Sent Events (`id` = log position, `event` =
/// event type, `data` = the envelope).
#[utoipa::path(get, path = "/stream", tag = "realtime", security(("bearer" = [])), params(StreamQuery),
    responses(crate::responses::SignedIn, crate::responses::QueryInput,
        (status = 200, description = "text/event-stream of the caller's events")))]
pub async fn sse(
    State(state): State<ApiState>,
    caller: Caller,
    headers: HeaderMap,
    query: Result<Query<StreamQuery>, QueryRejection>,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, ApiError> {
    let Query(query) = query.map_err(|e| ApiError::BadRequest(e.body_text()))?;
    let resume = resume_position(&headers, &query)?;
    let live = state.bus.live();
    let ping = state.config.realtime_ping;
    let (tx, rx) = mpsc::channel(256);
    tokio::spawn(feed(state, caller.actor.user_id, resume, live, tx));
    let gauge = ConnectionGauge::open("sse");
    let stream = ReceiverStream::new(rx).map(move |event| {
        let _alive = &gauge;
        let e = Event::default().id(event.seq.to_string()).event(event.envelope.event_type());
        Ok(e.json_data(&event.envelope).unwrap_or_else(|_| Event::default().comment("unserialisable event")))
    });
    Ok(Sse::new(stream).keep_alive(KeepAlive::new().interval(ping)))
}

/// The caller's events over a WebSocket: text frames `{"id": <position>, "event": <envelope>}`.
#[utoipa::path(get, path = "/ws", tag = "realtime", security(("bearer" = [])), params(StreamQuery),
    responses(crate::responses::SignedIn, crate::responses::QueryInput,
        (status = 101, description = "WebSocket upgrade")))]
pub async fn websocket(
    State(state): State<ApiState>,
    caller: Caller,
    headers: HeaderMap,
    query: Result<Query<StreamQuery>, QueryRejection>,
    upgrade: WebSocketUpgrade,
) -> Result<Response, ApiError> {
    let Query(query) = query.map_err(|e| ApiError::BadRequest(e.body_text()))?;
    let resume = resume_position(&headers, &query)?;
    let user = caller.actor.user_id;
    let live = state.bus.live();
    Ok(upgrade.on_upgrade(move |socket| serve_socket(state, user, resume, live, socket)).into_response())
}

async fn serve_socket(
    state: ApiState,
    user: UserId,
    resume: Option<i64>,
    live: broadcast::Receiver<Arc<StoredEvent>>,
    mut socket: WebSocket,
) {
    let _gauge = ConnectionGauge::open("websocket");
    let (tx, mut rx) = mpsc::channel(256);
    let shutdown = state.shutdown.clone();
    // A peer that vanished without a close (a laptop shut, a NAT that forgot
    // the connection) is found by pinging: one that stays silent for two
    // intervals is dropped, with its feed, instead of being kept forever.
    let interval = state.config.realtime_ping;
    let mut ping = tokio::time::interval_at(tokio::time::Instant::now() + interval, interval);
    let mut last_heard = tokio::time::Instant::now();
    tokio::spawn(feed(state, user, resume, live, tx));
    loop {
        tokio::select! {
            event = rx.recv() => {
                let Some(event) = event else { break };
                let frame = serde_json::json!({ "id": event.seq, "event": event.envelope });
                // A peer that does not read fills its buffers; bound the wait.
                let sent = tokio::time::timeout(interval, socket.send(Message::Text(frame.to_string().into()))).await;
                if !matches!(sent, Ok(Ok(()))) {
                    return;
                }
            }
            incoming = socket.recv() => match incoming {
                Some(Ok(Message::Close(_))) | None | Some(Err(_)) => return,
                // Pongs (and pings, which the library answers) show the peer is
                // there; text from clients is ignored.
                Some(Ok(_)) => last_heard = tokio::time::Instant::now(),
            },
            _ = ping.tick() => {
                if last_heard.elapsed() > interval * 2 {
                    tracing::info!("dropping a WebSocket peer that stopped answering pings");
                    return;
                }
                let sent = tokio::time::timeout(interval, socket.send(Message::Ping(Default::default()))).await;
                if !matches!(sent, Ok(Ok(()))) {
                    return;
                }
            }
            () = shutdown.cancelled() => break,
        }
    }
    let _ = socket.send(Message::Close(None)).await;
}

#[cfg(test)]
mod tests {
    use super::Sent;

    #[test]
    fn a_late_live_event_below_the_highest_sent_is_still_sent_once() {
        let mut sent = Sent::after(10);
        assert!(sent.has(10), "read from the log");
        sent.record(12);
        assert!(!sent.has(11), "11 comes after 12 from another partition: not sent yet");
        sent.record(11);
        assert!(sent.has(11) && sent.has(12));
    }

    #[test]
    fn it_remembers_a_bounded_number_of_live_positions() {
        let mut sent = Sent::after(0);
        for seq in 1..=(super::REMEMBERED as i64 + 1) {
            sent.record(seq);
        }
        assert!(!sent.has(1), "the oldest is forgotten");
        assert!(sent.has(2));
        assert_eq!(sent.recent.len(), super::REMEMBERED);
    }
}
