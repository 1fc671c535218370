//! Web Push delivery. The notifications consumer queues one message per
//! notification and device ([`queue`]) in the transaction that writes the
//! notification; the [`PushSender`] claims each, encrypts it for the device
//! (RFC 8291, aes128gcm), signs a VAPID JWT for the push service (RFC 8292),
//! and POSTs it to the subscription's endpoint (RFC 8030 section 5), the only
//! address it ever calls.
//!
//! A push service that answers 404 or 410 says the subscription is gone (RFC
//! 8030 section 7.3): the subscription is removed with its queued messages.
//! Other failures retry with backoff, like e-mail; a 4xx that retrying cannot
//! fix (a refused VAPID signature, a payload too large) gives up at once. As
//! with e-mail the send is at least once: a crash between the push service's
//! answer and the mark sends it again, and the notification's `tag` makes the
//! second copy replace the first on the device.
use std::sync::Arc;
use std::time::Duration;

use ontask_app::push::{PushSettings, Vapid};
use ontask_domain::Notification;
use ontask_store::push::{self, DueMessage, NewMessage};
use ontask_store::{Db, StoreError, WriteTx};
use ontask_telemetry::error_chain;
use ontask_telemetry::metrics::PUSH_MESSAGES_TOTAL;
use serde::Serialize;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use web_push::{ContentEncoding, SubscriptionInfo, VapidSignatureBuilder, WebPushMessageBuilder};

use crate::outbox::{self, OutboxSender, PeerAnswer};
use crate::webhooks::outbound_client;

/// What the service worker shows (`assets/sw.js`, the `push` handler).
#[derive(Debug, Serialize)]
struct Payload<'a> {
    title: &'a str,
    body: &'a str,
    /// The page a click opens.
    url: String,
    /// The same notification pushed twice replaces itself on the device.
    tag: String,
}

/// Queues `notification` for each of its person's devices.
pub(crate) async fn queue(tx: &mut WriteTx, notification: &Notification) -> Result<u64, StoreError> {
    let payload = Payload {
        title: &notification.title,
        body: &notification.body,
        url: notification.task_id.map_or_else(|| "/".to_owned(), |t| format!("/tasks/{t}")),
        tag: notification.id.to_string(),
    };
    let message = NewMessage {
        notification_id: notification.id,
        user_id: notification.user_id,
        payload: serde_json::to_string(&payload).map_err(|e| StoreError::Corrupt(e.to_string()))?,
    };
    push::enqueue_for_devices(tx, &message, ontask_app::now()).await
}

/// How one attempt ended.
#[derive(Debug)]
enum Sent {
    Delivered,
    /// 404/410: the subscription no longer exists.
    Gone(u16),
    Failed {
        error: String,
        permanent: bool,
    },
}

/// Why the push sender cannot start.
#[derive(Debug, thiserror::Error)]
#[error("cannot build the push HTTP client: {0}")]
pub struct PushSenderError(#[from] reqwest::Error);

/// Sends queued push messages.
pub struct PushSender {
    db: Db,
    settings: PushSettings,
    vapid: Vapid,
    client: reqwest::Client,
    wake: Arc<Notify>,
}

impl PushSender {
    pub fn new(db: Db, settings: PushSettings, vapid: Vapid, wake: Arc<Notify>) -> Result<Self, PushSenderError> {
        let client = outbound_client(
            settings.timeout,
            settings.allow_private_endpoints,
            concat!("ontask-push/", env!("CARGO_PKG_VERSION")),
        )?;
        Ok(Self { db, settings, vapid, client, wake })
    }

    pub async fn run(self, cancel: CancellationToken) {
        outbox::run(&self, cancel).await;
    }

    #[tracing::instrument(skip_all, fields(notification_id = %m.notification_id, subscription_id = %m.subscription.id, attempt = m.attempts + 1))]
    async fn attempt(&self, m: &DueMessage) -> Result<PeerAnswer, StoreError> {
        let attempt = m.attempts + 1;
        let sent = self.send(m).await;
        let now = ontask_app::now();
        let mut tx = self.db.begin().await?;
        let label = match &sent {
            Sent::Delivered => {
                push::finish(&mut tx, m, attempt, Ok(()), now).await?;
                tracing::info!("push message sent");
                "sent"
            }
            Sent::Gone(status) => {
                push::expire(&mut tx, m.subscription.id).await?;
                tracing::info!(status, "the push service says the subscription is gone; removed it");
                "gone"
            }
            Sent::Failed { error, permanent } => {
                let retry_at = (!permanent && attempt < i64::from(self.settings.max_attempts)).then(|| {
                    let delay = crate::backoff(
                        u32::try_from(attempt).unwrap_or(u32::MAX),
                        self.settings.retry_base,
                        self.settings.retry_max,
                    );
                    now + chrono::Duration::from_std(delay).unwrap_or_default()
                });
                let label = if retry_at.is_some() { "retry" } else { "failed" };
                tracing::warn!(error, outcome = label, "pushing a message failed");
                push::finish(&mut tx, m, attempt, Err((error.as_str(), retry_at)), now).await?;
                label
            }
        };
        tx.commit().await?;
        metrics::counter!(PUSH_MESSAGES_TOTAL, "outcome" => label).increment(1);
        Ok(match sent {
            Sent::Failed { permanent: false, .. } => PeerAnswer::Failed,
            _ => PeerAnswer::Answered,
        })
    }

    async fn send(&self, m: &DueMessage) -> Sent {
        let request = match self.request(m) {
            Ok(request) => request,
            // Keys that do not encrypt, an endpoint that is not a URL: no retry helps.
            Err(error) => return Sent::Failed { error, permanent: true },
        };
        match self.client.execute(request).await {
            Ok(response) => match response.status().as_u16() {
                200..=299 => Sent::Delivered,
                status @ (404 | 410) => Sent::Gone(status),
                status => {
                    let body = response.text().await.unwrap_or_default();
                    let excerpt: String = body.chars().take(200).collect();
                    // 429 and 5xx pass; any other 4xx says this request will never be accepted.
                    let permanent = (400..500).contains(&status) && status != 429 && status != 408;
                    Sent::Failed { error: format!("the push service answered {status}: {excerpt}"), permanent }
                }
            },
            // Without the URL: the endpoint is a capability, and this goes to the log.
            Err(e) => Sent::Failed { error: error_chain(&e.without_url()), permanent: false },
        }
    }

    /// The encrypted, signed request for `m` (RFC 8030 section 5).
    fn request(&self, m: &DueMessage) -> Result<reqwest::Request, String> {
        let s = &m.subscription;
        let url = reqwest::Url::parse(&s.endpoint).map_err(|e| format!("invalid endpoint: {e}"))?;
        if !self.settings.allow_private_endpoints
            && let Some(host) = url.host_str()
            && let Ok(ip) = host.trim_start_matches('[').trim_end_matches(']').parse()
            && let Some(reason) = ontask_app::webhooks::forbidden_reason(ip)
        {
            return Err(format!("blocked: {host} is {reason}"));
        }
        let info = SubscriptionInfo::new(s.endpoint.as_str(), s.p256dh.as_str(), s.auth.as_str());
        let mut vapid = VapidSignatureBuilder::from_base64(self.vapid.key.private_base64(), &info)
            .map_err(|e| format!("the VAPID key: {e}"))?;
        vapid.add_claim("sub", self.vapid.subject.as_str());
        // The endpoint's origin, port included (RFC 8292 section 2): web-push's
        // default leaves a non-default port out.
        vapid.add_claim("aud", url.origin().ascii_serialization());
        let vapid = vapid.build().map_err(|e| format!("signing the VAPID JWT: {e}"))?;
        let mut builder = WebPushMessageBuilder::new(&info);
        builder.set_payload(ContentEncoding::Aes128Gcm, m.payload.as_bytes());
        builder.set_vapid_signature(vapid);
        builder.set_ttl(u32::try_from(self.settings.ttl.as_secs()).unwrap_or(u32::MAX));
        let message = builder.build().map_err(|e| format!("encrypting the message: {e}"))?;
        let payload = message.payload.ok_or("the message has no payload")?;
        let mut request = self
            .client
            .post(url)
            .header("TTL", message.ttl.to_string())
            .header(reqwest::header::CONTENT_ENCODING, payload.content_encoding.to_str())
            .header(reqwest::header::CONTENT_TYPE, "application/octet-stream");
        if let Some(urgency) = message.urgency {
            request = request.header("Urgency", urgency.to_string());
        }
        // The VAPID `Authorization` header (aes128gcm needs no other).
        for (name, value) in payload.crypto_headers {
            request = request.header(name, value);
        }
        request.body(payload.content).build().map_err(|e| error_chain(&e.without_url()))
    }
}

#[async_trait::async_trait]
impl OutboxSender for PushSender {
    type Row = DueMessage;

    const NAME: &'static str = "push sender";

    fn db(&self) -> &Db {
        &self.db
    }

    fn wake(&self) -> &Notify {
        &self.wake
    }

    fn send_timeout(&self) -> Duration {
        self.settings.timeout
    }

    async fn due(
        &self,
        conn: &mut ontask_store::AnyConnection,
        now: chrono::DateTime<chrono::Utc>,
        limit: i64,
    ) -> Result<Vec<DueMessage>, StoreError> {
        push::due(conn, now, limit).await
    }

    async fn claim(
        &self,
        tx: &mut WriteTx,
        message: &DueMessage,
        now: chrono::DateTime<chrono::Utc>,
        lease_until: chrono::DateTime<chrono::Utc>,
    ) -> Result<bool, StoreError> {
        push::claim(tx, message, now, lease_until).await
    }

    async fn attempt(&self, message: &DueMessage) -> Result<PeerAnswer, StoreError> {
        PushSender::attempt(self, message).await
    }

    async fn next_due_at(
        &self,
        conn: &mut ontask_store::AnyConnection,
    ) -> Result<Option<chrono::DateTime<chrono::Utc>>, StoreError> {
        push::next_due_at(conn).await
    }
}
