//! Reminder e-mails over SMTP. The consumer turns `reminder.due` into an
//! outbox row keyed by the event id, in the same transaction as its inbox row,
//! so each reminder queues exactly one e-mail. The mailer claims a row's
//! attempt with a conditional update, sends, then marks it sent.
//!
//! A crash between the relay accepting the message and the mark would send it
//! again after the claim lapses: the send is at least once, never "at most". The
//! message carries a `Message-ID` derived from the event id, so the second copy
//! is the same message, which mail systems and clients treat as a duplicate.
//! Marking before sending would instead risk losing the e-mail: a reminder that
//! never arrives is worse than one shown twice.
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use lettre::message::{Mailbox, header::ContentType};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use ontask_app::webhooks::SmtpSettings;
use ontask_bus::StoredEvent;
use ontask_domain::{Event, EventType};
use ontask_store::email::{self, DueEmail, NewEmail};
use ontask_store::{Db, StoreError, WriteTx, users};
use ontask_telemetry::breaker::{Breaker, Breakers, Peer};
use ontask_telemetry::metrics as m;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use crate::outbox::{self, OutboxSender, PeerAnswer};
use crate::{Consumer, HandlerError};
use ontask_telemetry::error_chain;

/// A reminder older than this is not e-mailed: on an installation that ran a
/// version without e-mail, the consumer starts at the beginning of the log and
/// must not mail every reminder of the past.
const MAX_AGE: chrono::TimeDelta = chrono::TimeDelta::hours(24);

/// Queues a reminder e-mail to the task's owner.
///
/// It runs with e-mail off too, wanting nothing: its offset keeps up with the
/// log, so its lag reads true and turning e-mail on later starts from now.
pub struct EmailConsumer {
    wake: Arc<Notify>,
    enabled: bool,
}

impl EmailConsumer {
    pub fn new(wake: Arc<Notify>) -> Self {
        Self { wake, enabled: true }
    }

    /// With `false`, the consumer takes no event (e-mail is off).
    pub fn enabled(mut self, enabled: bool) -> Self {
        self.enabled = enabled;
        self
    }
}

#[async_trait]
impl Consumer for EmailConsumer {
    fn name(&self) -> &'static str {
        "email"
    }

    fn wants(&self, event: &StoredEvent) -> bool {
        self.enabled && event.envelope.kind() == Some(EventType::ReminderDue)
    }

    async fn handle(&self, tx: &mut WriteTx, event: &StoredEvent) -> Result<(), HandlerError> {
        let e = &event.envelope;
        let now = ontask_app::now();
        if now - e.timestamp > MAX_AGE {
            return Ok(());
        }
        let Some(user) = users::by_id(tx.conn(), e.user_id).await? else { return Ok(()) };
        let Event::ReminderDue(reminder) = &e.event else { return Ok(()) };
        let title = &reminder.title;
        let mut body = format!("Reminder: {title}\n");
        if let Some(due) = &reminder.due {
            body.push_str(&format!("Due: {due}\n"));
        }
        body.push_str("\nYou get this e-mail because you set a reminder on this task in ontask.\n");
        let mail = NewEmail {
            event_id: e.event_id,
            user_id: e.user_id,
            recipient: user.email,
            subject: format!("Reminder: {title}"),
            body,
        };
        email::enqueue(tx, &mail, now).await?;
        Ok(())
    }

    fn committed(&self) {
        self.wake.notify_one();
    }
}

/// Why the mailer cannot start.
#[derive(Debug, thiserror::Error)]
pub enum MailerError {
    #[error("smtp.url and smtp.from are not both set")]
    NoRelay,
    #[error("smtp.url: {0}")]
    Url(#[from] lettre::transport::smtp::Error),
    #[error("smtp.from: {0}")]
    From(#[from] lettre::address::AddressError),
}

/// Sends queued e-mails.
pub struct Mailer {
    db: Db,
    settings: SmtpSettings,
    from: Mailbox,
    transport: AsyncSmtpTransport<Tokio1Executor>,
    wake: Arc<Notify>,
    /// The relay's: while it is open, e-mails wait in the outbox unattempted.
    breaker: Breaker,
}

impl Mailer {
    pub fn new(db: Db, settings: SmtpSettings, breakers: &Breakers, wake: Arc<Notify>) -> Result<Self, MailerError> {
        let (url, from) = settings.relay().ok_or(MailerError::NoRelay)?;
        let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(url)?.timeout(Some(settings.timeout)).build();
        let from: Mailbox = from.parse()?;
        Ok(Self { db, settings, from, transport, wake, breaker: breakers.of(Peer::Smtp, "") })
    }

    pub async fn run(self, cancel: CancellationToken) {
        let relay = self.settings.relay().map(|(url, _)| ontask_store::redact(url));
        tracing::info!(relay = relay.as_deref().unwrap_or_default(), "mailer configured");
        outbox::run(&self, cancel).await;
    }

    #[tracing::instrument(skip_all, fields(event_id = %mail.event_id, attempt = mail.attempts + 1))]
    async fn send(&self, mail: &DueEmail) -> Result<PeerAnswer, StoreError> {
        let attempt = mail.attempts + 1;
        let result = match self.message(mail) {
            Ok(message) => self.transport.send(message).await.map(|_| ()).map_err(|e| {
                let permanent = e.is_permanent();
                (error_chain(&e), permanent)
            }),
            Err(e) => Err((e, true)),
        };
        let now = ontask_app::now();
        let outcome = match &result {
            Ok(()) => Ok(()),
            Err((error, permanent)) => {
                let retry_at = (!permanent && attempt < i64::from(self.settings.max_attempts)).then(|| {
                    let delay = crate::backoff(
                        u32::try_from(attempt).unwrap_or(u32::MAX),
                        self.settings.retry_base,
                        self.settings.retry_max,
                    );
                    now + chrono::Duration::from_std(delay).unwrap_or_default()
                });
                Err((error.as_str(), retry_at))
            }
        };
        let label = match &outcome {
            Ok(()) => "sent",
            Err((_, Some(_))) => "retry",
            Err((_, None)) => "failed",
        };
        metrics::counter!(m::EMAILS_SENT_TOTAL, "outcome" => label).increment(1);
        match &outcome {
            Ok(()) => tracing::info!("reminder e-mail sent"),
            Err((error, _)) => tracing::warn!(error, outcome = label, "sending a reminder e-mail failed"),
        }
        let mut tx = self.db.begin().await?;
        email::finish(&mut tx, mail.event_id, attempt, outcome, now).await?;
        tx.commit().await?;
        // A permanent refusal (no such mailbox) is the relay answering.
        Ok(match result {
            Err((_, false)) => PeerAnswer::Failed,
            _ => PeerAnswer::Answered,
        })
    }

    fn message(&self, mail: &DueEmail) -> Result<Message, String> {
        let to: Mailbox = mail.recipient.parse().map_err(|e| format!("recipient {:?}: {e}", mail.recipient))?;
        let domain = self.from.email.domain().to_owned();
        Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(&mail.subject)
            // Stable across retries: a resend after a crash is the same message.
            .message_id(Some(format!("<{}@{domain}>", mail.event_id)))
            .date(std::time::SystemTime::from(mail.created_at))
            .header(ContentType::TEXT_PLAIN)
            .body(mail.body.clone())
            .map_err(|e| e.to_string())
    }
}

#[async_trait]
impl OutboxSender for Mailer {
    type Row = DueEmail;

    const NAME: &'static str = "mailer";

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
    ) -> Result<Vec<DueEmail>, StoreError> {
        email::due(conn, now, limit).await
    }

    async fn claim(
        &self,
        tx: &mut WriteTx,
        mail: &DueEmail,
        now: chrono::DateTime<chrono::Utc>,
        lease_until: chrono::DateTime<chrono::Utc>,
    ) -> Result<bool, StoreError> {
        email::claim(tx, mail.event_id, mail.attempts, now, lease_until).await
    }

    async fn attempt(&self, mail: &DueEmail) -> Result<PeerAnswer, StoreError> {
        self.send(mail).await
    }

    fn breaker(&self) -> Option<&Breaker> {
        Some(&self.breaker)
    }

    async fn next_due_at(
        &self,
        conn: &mut ontask_store::AnyConnection,
    ) -> Result<Option<chrono::DateTime<chrono::Utc>>, StoreError> {
        email::next_due_at(conn).await
    }
}
