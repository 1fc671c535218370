//! Signed webhooks: a consumer that queues one delivery per (endpoint, event)
//! in the same transaction as its inbox row, and a delivery loop that sends
//! them the Standard Webhooks way (<https://www.standardwebhooks.com/>), with
//! retries, an attempt log, and endpoints disabled after repeated failure.
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use ontask_app::sealed::Sealer;
use ontask_app::webhooks::{WebhookSettings, forbidden_reason};
use ontask_bus::StoredEvent;
use ontask_domain::{EndpointId, Event, ImportStatus, ProjectId, UserId};
use ontask_store::projects;
use ontask_store::webhooks::{self, AttemptResult, DueDelivery, Endpoint, NewDelivery, Next};
use ontask_store::{AnyConnection, Db, StoreError, WriteTx};
use ontask_telemetry::breaker::{Breakers, Open, Peer, Permit};
use ontask_telemetry::metrics as m;
use sha2::Sha256;
use tokio::sync::{Notify, Semaphore};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::{Consumer, HandlerError};
use ontask_telemetry::error_chain;

/// The longest the delivery loop sleeps without looking at the queue, so that
/// deliveries queued by another process are picked up promptly.
const MAX_SLEEP: Duration = Duration::from_secs(1);
const BATCH: i64 = 100;
/// How long a claim outlives the request timeout before another worker may
/// take the delivery over (the claimant is presumed dead by then).
const LEASE_MARGIN: Duration = Duration::from_secs(30);
/// Longest error text kept in the log per attempt.
const MAX_ERROR_LEN: usize = 500;

/// Queues deliveries for every active endpoint whose account receives the
/// event (every member of its project) and whose filter takes it.
pub struct WebhookConsumer {
    wake: Arc<Notify>,
}

impl WebhookConsumer {
    pub fn new(wake: Arc<Notify>) -> Self {
        Self { wake }
    }
}

#[async_trait]
impl Consumer for WebhookConsumer {
    fn name(&self) -> &'static str {
        "webhooks"
    }

    /// Every event, except an import's ticks while it runs: a webhook hears
    /// that an import ended, not each half second of it.
    fn wants(&self, event: &StoredEvent) -> bool {
        !matches!(&event.envelope.event, Event::ImportProgressed(p) if p.status == ImportStatus::Running)
    }

    async fn handle(&self, tx: &mut WriteTx, event: &StoredEvent) -> Result<(), HandlerError> {
        let audience = Audience::of(tx.conn(), &[event]).await?;
        let endpoints = webhooks::active_endpoints_of_users(tx.conn(), audience.users()).await?;
        enqueue_for(tx, event, &endpoints, &audience).await
    }

    async fn acting_on<'a>(
        &self,
        conn: &mut AnyConnection,
        wanted: Vec<&'a StoredEvent>,
    ) -> Result<Vec<&'a StoredEvent>, HandlerError> {
        // Read outside the batch's transaction, it sees what a read inside it
        // would: both come after the events committed, and an endpoint only
        // takes events from after its registration (`takes`).
        let audience = Audience::of(conn, &wanted).await?;
        let endpoints = webhooks::active_endpoints_of_users(conn, audience.users()).await?;
        Ok(wanted.into_iter().filter(|e| endpoints.iter().any(|ep| takes(ep, e, &audience))).collect())
    }

    async fn handle_all(&self, tx: &mut WriteTx, events: &[&StoredEvent]) -> Result<(), HandlerError> {
        if events.is_empty() {
            return Ok(());
        }
        let audience = Audience::of(tx.conn(), events).await?;
        let endpoints = webhooks::active_endpoints_of_users(tx.conn(), audience.users()).await?;
        for event in events {
            enqueue_for(tx, event, &endpoints, &audience).await?;
        }
        Ok(())
    }

    fn committed(&self) {
        self.wake.notify_one();
    }
}

/// Who receives a batch's events: every member of an event's project (and,
/// for a membership change, the member it is about, who may have just left),
/// or the event's user when it is about no project.
struct Audience {
    members: HashMap<ProjectId, Vec<UserId>>,
    /// Everyone who receives any of the batch's events.
    everyone: Vec<UserId>,
}

impl Audience {
    async fn of(conn: &mut AnyConnection, events: &[&StoredEvent]) -> Result<Self, HandlerError> {
        let mut projects: Vec<_> = events.iter().filter_map(|e| e.envelope.project_id).collect();
        projects.sort_unstable();
        projects.dedup();
        let mut members: HashMap<ProjectId, Vec<UserId>> = HashMap::new();
        for (project, user) in projects::members_of(conn, &projects).await? {
            members.entry(project).or_default().push(user);
        }
        let mut audience = Self { members, everyone: Vec::new() };
        let mut everyone: Vec<UserId> = events.iter().flat_map(|e| audience.users_of(&e.envelope)).collect();
        everyone.sort_unstable();
        everyone.dedup();
        audience.everyone = everyone;
        Ok(audience)
    }

    /// The accounts that receive `e`.
    fn users_of<'a>(&'a self, e: &'a ontask_domain::EventEnvelope) -> impl Iterator<Item = UserId> + 'a {
        let concerned = match &e.event {
            Event::MemberAdded(m) | Event::MemberRoleChanged(m) | Event::MemberRemoved(m) => Some(m.member.user_id),
            _ => None,
        };
        let members = e.project_id.and_then(|p| self.members.get(&p)).map(Vec::as_slice).unwrap_or_default();
        let own = e.project_id.is_none().then_some(e.user_id);
        members.iter().copied().chain(own).chain(concerned)
    }

    fn users(&self) -> &[UserId] {
        &self.everyone
    }
}

/// Whether `endpoint` gets a delivery of `event`: its account receives the
/// event, its filter takes it, and it was registered before the event
/// happened (a consumer catching up on old events must not replay history to
/// a new endpoint).
fn takes(endpoint: &Endpoint, event: &StoredEvent, audience: &Audience) -> bool {
    let e = &event.envelope;
    audience.users_of(e).any(|u| u == endpoint.user_id)
        && endpoint.wants(e.event_type())
        && e.timestamp >= endpoint.created_at
}

/// Queues one delivery of `event` per endpoint among `endpoints` that takes it.
async fn enqueue_for(
    tx: &mut WriteTx,
    event: &StoredEvent,
    endpoints: &[Endpoint],
    audience: &Audience,
) -> Result<(), HandlerError> {
    let e = &event.envelope;
    let mut payload = None;
    for endpoint in endpoints.iter().filter(|ep| takes(ep, event, audience)) {
        let payload = match &payload {
            Some(p) => p,
            None => payload.insert(serde_json::to_string(e).map_err(|e| HandlerError::Permanent(e.to_string()))?),
        };
        let delivery = NewDelivery {
            endpoint_id: endpoint.id,
            user_id: endpoint.user_id,
            event_id: e.event_id,
            event_type: e.event_type(),
            payload,
        };
        webhooks::enqueue(tx, &delivery, ontask_app::now()).await?;
    }
    Ok(())
}

/// The Standard Webhooks signature header value: `v1,` and the base64
/// HMAC-SHA256 of `{id}.{timestamp}.{body}` keyed with the secret's bytes.
pub fn sign(secret: &str, msg_id: &str, timestamp: i64, body: &[u8]) -> Result<String, String> {
    let key = STANDARD
        .decode(secret.strip_prefix("whsec_").unwrap_or(secret))
        .map_err(|e| format!("the endpoint's secret is not base64: {e}"))?;
    let mut mac = Hmac::<Sha256>::new_from_slice(&key).map_err(|e| e.to_string())?;
    mac.update(format!("{msg_id}.{timestamp}.").as_bytes());
    mac.update(body);
    Ok(format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes())))
}

/// Resolves host names and keeps only addresses webhooks may reach. reqwest
/// connects to exactly the addresses returned here, so the address checked is
/// the address used: a DNS answer that changes between a check and the
/// connection (DNS rebinding) cannot slip a private address through.
struct PublicOnlyResolver;

#[derive(Debug, thiserror::Error)]
#[error("{host} resolves only to addresses webhooks may not reach ({reason})")]
struct Blocked {
    host: String,
    reason: &'static str,
}

impl reqwest::dns::Resolve for PublicOnlyResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let resolved: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let mut reason = "no address";
            let allowed: Vec<SocketAddr> = resolved
                .into_iter()
                .filter(|a| match forbidden_reason(a.ip()) {
                    Some(r) => {
                        reason = r;
                        false
                    }
                    None => true,
                })
                .collect();
            if allowed.is_empty() {
                return Err(Box::new(Blocked { host, reason }) as Box<dyn std::error::Error + Send + Sync>);
            }
            Ok(Box::new(allowed.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

/// The HTTP client deliveries go out with.
pub fn http_client(settings: &WebhookSettings) -> reqwest::Result<reqwest::Client> {
    outbound_client(
        settings.timeout,
        settings.allow_private_targets,
        concat!("ontask-webhooks/", env!("CARGO_PKG_VERSION")),
    )
}

/// A client for requests to addresses users give (webhooks, push endpoints):
/// each request bounded by `timeout`, no redirects, no proxy, and unless
/// `allow_private`, only public addresses.
pub(crate) fn outbound_client(
    timeout: Duration,
    allow_private: bool,
    user_agent: &'static str,
) -> reqwest::Result<reqwest::Client> {
    let mut builder = reqwest::Client::builder()
        .timeout(timeout)
        .connect_timeout(timeout.min(Duration::from_secs(10)))
        // A redirect would be a second, unchecked target; a proxy would resolve
        // the name itself, past the resolver below.
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .user_agent(user_agent);
    if !allow_private {
        builder = builder.dns_resolver(Arc::new(PublicOnlyResolver));
    }
    builder.build()
}

/// Sends due deliveries. Several may run (one per worker process): each attempt
/// is claimed with a conditional update first.
///
/// Deliveries go out from a pool of `concurrency` slots that only webhooks
/// use (the mailer, the push sender and the relay have loops of their own),
/// and one endpoint takes at most [`Self::per_endpoint`] of them: a receiver
/// that answers slowly holds back its own deliveries, not everyone's. Each
/// endpoint has a circuit breaker: while it is open its deliveries wait,
/// without using an attempt, until the breaker lets a probe through.
pub struct WebhookDeliverer {
    db: Db,
    settings: WebhookSettings,
    /// Unseals the endpoints' signing secrets (stored sealed).
    sealer: Sealer,
    client: reqwest::Client,
    wake: Arc<Notify>,
    breakers: Breakers,
    /// The deliveries in flight, per endpoint.
    in_flight: Mutex<HashMap<EndpointId, usize>>,
}

impl WebhookDeliverer {
    pub fn new(
        db: Db,
        settings: WebhookSettings,
        sealer: Sealer,
        breakers: Breakers,
        wake: Arc<Notify>,
    ) -> reqwest::Result<Self> {
        let client = http_client(&settings)?;
        Ok(Self { db, settings, sealer, client, wake, breakers, in_flight: Mutex::default() })
    }

    /// The most deliveries to one endpoint in flight at once: a quarter of
    /// the pool, so three quarters stay for the other endpoints.
    fn per_endpoint(&self) -> usize {
        (self.settings.concurrency / 4).max(1)
    }

    pub async fn run(self, cancel: CancellationToken) {
        tracing::info!("webhook delivery started");
        match self.reseal_secrets().await {
            Ok(0) => {}
            Ok(n) => tracing::info!(endpoints = n, "webhook secrets sealed under the current server secret"),
            // Unsealing still tries the previous secrets: nothing is lost, the next start tries again.
            Err(e) => tracing::warn!(error = %ontask_telemetry::error_chain(&e), "re-sealing webhook secrets failed"),
        }
        let this = Arc::new(self);
        let pool = Arc::new(Semaphore::new(this.settings.concurrency.max(1)));
        let mut in_flight = JoinSet::new();
        loop {
            let sleep = match this.start_due(&pool, &mut in_flight).await {
                Ok(next) => next,
                Err(e) => {
                    tracing::warn!(error = %ontask_telemetry::error_chain(&e), "delivering webhooks failed; retrying");
                    MAX_SLEEP
                }
            };
            tokio::select! {
                () = cancel.cancelled() => break,
                () = this.wake.notified() => {}
                // A slot, or an endpoint's share of them, is free again.
                Some(_) = in_flight.join_next(), if !in_flight.is_empty() => {}
                () = tokio::time::sleep(sleep) => {}
            }
        }
        // A stop waits for the attempts in flight (each bounded by the timeout).
        while in_flight.join_next().await.is_some() {}
        tracing::info!("webhook delivery stopped");
    }

    /// Seals again, under the current server secret, every stored webhook
    /// secret that is sealed under a previous one (after a rotation of
    /// `auth.jwt_secret`), so the old secret can leave
    /// `auth.previous_jwt_secrets`. Each value is replaced only if it is still
    /// the one read, so a rotation meanwhile, or another worker doing the same,
    /// is never undone. Returns how many endpoints changed.
    #[tracing::instrument(skip_all)]
    pub async fn reseal_secrets(&self) -> Result<usize, StoreError> {
        let stored = {
            let mut conn = self.db.read().await?;
            webhooks::stored_secrets(&mut conn).await?
        };
        let mut changed = 0;
        for endpoint in stored {
            let current = self.sealer.reseal(&endpoint.secret).map(|new| (false, endpoint.secret, new));
            let previous =
                endpoint.previous_secret.and_then(|old| self.sealer.reseal(&old).map(|new| (true, old, new)));
            let updates: Vec<_> = current.into_iter().chain(previous).collect();
            if updates.is_empty() {
                continue;
            }
            let mut tx = self.db.begin().await?;
            for (is_previous, old, new) in &updates {
                webhooks::replace_stored_secret(&mut tx, endpoint.id, *is_previous, old, new).await?;
            }
            tx.commit().await?;
            changed += 1;
        }
        Ok(changed)
    }

    /// Starts an attempt of every due delivery that has a free slot and whose
    /// endpoint's breaker lets it through, and postpones the deliveries of
    /// endpoints whose breaker is open; returns how long to sleep (a finished
    /// attempt wakes the loop sooner).
    async fn start_due(
        self: &Arc<Self>,
        pool: &Arc<Semaphore>,
        in_flight: &mut JoinSet<()>,
    ) -> Result<Duration, StoreError> {
        let now = ontask_app::now();
        let per_endpoint = self.per_endpoint();
        let due = {
            let mut conn = self.db.read().await?;
            webhooks::due(&mut conn, now, per_endpoint as i64, BATCH).await?
        };
        let mut open: HashMap<EndpointId, Open> = HashMap::new();
        let mut starting = Vec::new();
        let mut waiting = false;
        for d in due.iter() {
            if open.contains_key(&d.endpoint_id) {
                continue;
            }
            let Some(share) = self.take_share(d.endpoint_id, per_endpoint) else {
                waiting = true;
                continue;
            };
            let Ok(slot) = pool.clone().try_acquire_owned() else {
                waiting = true;
                break;
            };
            match self.breakers.of(Peer::Webhook, &d.endpoint_id.to_string()).permit() {
                Ok(permit) => starting.push((d.clone(), permit, slot, share)),
                // A half-open breaker's probe starts in this round: the rest
                // wait for its outcome, still due.
                Err(_) if starting.iter().any(|(s, ..)| s.endpoint_id == d.endpoint_id) => waiting = true,
                Err(refused) => {
                    open.insert(d.endpoint_id, refused);
                }
            }
        }
        if !open.is_empty() || !starting.is_empty() {
            let lease_until =
                now + chrono::Duration::from_std(self.settings.timeout + LEASE_MARGIN).unwrap_or_default();
            let mut tx = self.db.begin().await?;
            for (endpoint, refused) in &open {
                let until = now + chrono::Duration::from_std(refused.retry_in).unwrap_or_default();
                webhooks::postpone_endpoint(&mut tx, *endpoint, now, until).await?;
            }
            let mut claimed = Vec::with_capacity(starting.len());
            for (d, permit, slot, share) in starting {
                // One not claimed (another worker was first) frees its slot, share and permit here.
                if webhooks::claim(&mut tx, d.id, d.attempts, now, lease_until).await? {
                    claimed.push((d, permit, slot, share));
                }
            }
            tx.commit().await?;
            for (d, permit, slot, share) in claimed {
                let this = self.clone();
                in_flight.spawn(async move {
                    this.attempt(d, permit).await;
                    drop((slot, share));
                });
            }
        }
        if waiting {
            return Ok(MAX_SLEEP);
        }
        if due.len() as i64 == BATCH {
            return Ok(Duration::ZERO);
        }
        let mut conn = self.db.read().await?;
        let next = webhooks::next_due_at(&mut conn).await?;
        let now = ontask_app::now();
        Ok(match next {
            Some(at) if at > now => (at - now).to_std().unwrap_or(MAX_SLEEP).min(MAX_SLEEP),
            Some(_) => Duration::from_millis(50),
            None => MAX_SLEEP,
        })
    }

    /// One of `endpoint`'s `per_endpoint` places in flight, if one is free.
    fn take_share(self: &Arc<Self>, endpoint: EndpointId, per_endpoint: usize) -> Option<Share> {
        let mut in_flight = self.in_flight.lock().unwrap_or_else(PoisonError::into_inner);
        let taken = in_flight.entry(endpoint).or_default();
        if *taken >= per_endpoint {
            return None;
        }
        *taken += 1;
        Some(Share { deliverer: self.clone(), endpoint })
    }

    /// One attempt of a claimed delivery, recorded whatever happens.
    #[tracing::instrument(skip_all, fields(delivery = %d.id, endpoint = %d.endpoint_id, event_id = %d.event_id, attempt = d.attempts + 1))]
    async fn attempt(&self, d: DueDelivery, permit: Permit) {
        let attempt = d.attempts + 1;
        let started = Instant::now();
        let sent = self.send(&d).await;
        let elapsed = started.elapsed();
        match &sent {
            Ok(code) if (200..300).contains(code) => permit.succeeded(),
            _ => permit.failed(),
        }
        metrics::histogram!(m::WEBHOOK_DELIVERY_DURATION).record(elapsed.as_secs_f64());
        let (status_code, error) = match &sent {
            Ok(code) if (200..300).contains(code) => (Some(i64::from(*code)), None),
            Ok(code) => (Some(i64::from(*code)), Some(format!("the endpoint answered HTTP {code}"))),
            Err(e) => (None, Some(e.clone())),
        };
        let next = if error.is_none() {
            Next::Delivered
        } else if attempt >= i64::from(self.settings.max_attempts) {
            Next::GiveUp
        } else {
            let delay = crate::backoff(
                u32::try_from(attempt).unwrap_or(u32::MAX),
                self.settings.retry_base,
                self.settings.retry_max,
            );
            Next::RetryAt(ontask_app::now() + chrono::Duration::from_std(delay).unwrap_or_default())
        };
        let outcome = match next {
            Next::Delivered => "delivered",
            Next::RetryAt(_) => "retry",
            Next::GiveUp => "failed",
        };
        metrics::counter!(m::WEBHOOK_DELIVERIES_TOTAL, "outcome" => outcome).increment(1);
        match &error {
            None => tracing::info!(status = status_code, duration_ms = elapsed.as_millis() as u64, "webhook delivered"),
            Some(e) => tracing::warn!(error = %e, status = status_code, outcome, "webhook attempt failed"),
        }
        let result = AttemptResult {
            attempt,
            status_code,
            error,
            duration_ms: i64::try_from(elapsed.as_millis()).unwrap_or(i64::MAX),
            at: ontask_app::now(),
        };
        if let Err(e) = self.record(&d, &result, next).await {
            // The claim lapses and the delivery is tried again: at least once.
            tracing::error!(error = %ontask_telemetry::error_chain(&e), "recording a webhook attempt failed");
        }
    }

    async fn record(&self, d: &DueDelivery, result: &AttemptResult, next: Next) -> Result<(), StoreError> {
        let mut tx = self.db.begin().await?;
        let recorded = webhooks::record_attempt(&mut tx, d, result, next).await?;
        let disabled = recorded.filter(|_| next == Next::GiveUp).and_then(|(failures, status)| {
            let disable_after = i64::from(self.settings.disable_after);
            ontask_app::webhooks::disable_reason(failures, status, disable_after, result.error.as_deref())
        });
        if let Some(reason) = &disabled {
            webhooks::disable_endpoint(&mut tx, d.endpoint_id, reason, result.at).await?;
        }
        tx.commit().await?;
        if let Some(reason) = disabled {
            tracing::warn!(endpoint = %d.endpoint_id, reason, "webhook endpoint disabled");
        }
        Ok(())
    }

    /// POSTs the payload; the status code, or why there is none.
    async fn send(&self, d: &DueDelivery) -> Result<u16, String> {
        let url = reqwest::Url::parse(&d.url).map_err(|e| format!("invalid URL: {e}"))?;
        // IP literals never reach the resolver: check them here.
        if !self.settings.allow_private_targets
            && let Some(host) = url.host_str()
            && let Ok(ip) = host.trim_start_matches('[').trim_end_matches(']').parse()
            && let Some(reason) = forbidden_reason(ip)
        {
            return Err(format!("blocked: {host} is {reason}"));
        }
        let timestamp = chrono::Utc::now().timestamp();
        let secret = self.sealer.unseal(&d.secret).map_err(|e| e.to_string())?;
        let msg_id = d.event_id.to_string();
        let mut signature = sign(&secret, &msg_id, timestamp, d.payload.as_bytes())?;
        // After a rotation the old secret signs too: Standard Webhooks receivers
        // accept several space-separated signatures if one verifies. One that
        // cannot be unsealed (rotated because the server secret changed) is skipped.
        if let Some(previous) = d.previous_secret.as_deref().and_then(|p| self.sealer.unseal(p).ok()) {
            signature.push(' ');
            signature.push_str(&sign(&previous, &msg_id, timestamp, d.payload.as_bytes())?);
        }
        let response = self
            .client
            .post(url)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header("webhook-id", &msg_id)
            .header("webhook-timestamp", timestamp.to_string())
            .header("webhook-signature", signature)
            .body(d.payload.clone())
            .send()
            .await
            // Without the URL: receivers put tokens in query strings, and this
            // text goes to the log and the delivery log.
            .map_err(|e| truncate(error_chain(&e.without_url())))?;
        Ok(response.status().as_u16())
    }
}

/// An endpoint's place among the deliveries in flight, given back when dropped.
struct Share {
    deliverer: Arc<WebhookDeliverer>,
    endpoint: EndpointId,
}

impl Drop for Share {
    fn drop(&mut self) {
        let mut in_flight = self.deliverer.in_flight.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(taken) = in_flight.get_mut(&self.endpoint) {
            *taken -= 1;
            if *taken == 0 {
                in_flight.remove(&self.endpoint);
            }
        }
    }
}

fn truncate(mut s: String) -> String {
    if s.len() > MAX_ERROR_LEN {
        let mut end = MAX_ERROR_LEN;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        s.truncate(end);
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A one-request HTTP server on loopback; returns its port.
    async fn one_shot_server() -> u16 {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        tokio::spawn(async move {
            while let Ok((mut socket, _)) = listener.accept().await {
                let mut buf = [0u8; 4096];
                let _ = socket.read(&mut buf).await;
                let _ = socket.write_all(b"HTTP/1.1 204 No Content\r\ncontent-length: 0\r\n\r\n").await;
            }
        });
        port
    }

    #[tokio::test]
    async fn names_that_resolve_to_private_addresses_are_not_connected_to() {
        let port = one_shot_server().await;
        let guarded = http_client(&WebhookSettings::default()).unwrap();
        let err = guarded.post(format!("http://localhost:{port}/")).send().await.unwrap_err();
        let chain = error_chain(&err);
        assert!(chain.contains("may not reach") && chain.contains("loopback"), "{chain}");

        // The same request with private targets allowed reaches the server.
        let open = http_client(&WebhookSettings { allow_private_targets: true, ..Default::default() }).unwrap();
        let response = open.post(format!("http://localhost:{port}/")).send().await.unwrap();
        assert_eq!(response.status(), 204);
    }

    /// The example from the Standard Webhooks specification's reference tests.
    #[test]
    fn signature_matches_the_reference_implementation() {
        let secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
        let id = "msg_p5jXN8AQM9LWM0D4loKWxJek";
        let body = br#"{"test": 2432232314}"#;
        assert_eq!(sign(secret, id, 1614265330, body).unwrap(), "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
    }
}
