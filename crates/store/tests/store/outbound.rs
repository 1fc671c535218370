//! Webhook deliveries and the e-mail outbox: enqueued once per event, each
//! attempt claimed by exactly one worker, endpoints disabled after repeated
//! failure, and nothing of an endpoint left behind when it is deleted.
use chrono::Duration;
use ontask_domain::{DeliveryId, DeliveryStatus, EndpointId, EndpointStatus, UserId};
use ontask_store::email::{self, NewEmail};
use ontask_store::webhooks::{self, AttemptResult, NewDelivery, Next};
use ontask_store::{Db, webhooks::Endpoint};

use crate::{now, on_both_backends, user};

/// An active endpoint of `user` taking `events` (not yet stored).
pub(crate) fn endpoint(user: UserId, events: &[&str]) -> Endpoint {
    Endpoint {
        id: EndpointId::new(),
        user_id: user,
        url: "https://hooks.example.com/ontask".into(),
        description: String::new(),
        events: events.iter().map(|e| (*e).to_owned()).collect(),
        secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw".into(),
        status: EndpointStatus::Active,
        disabled_reason: None,
        consecutive_failures: 0,
        created_at: now(),
        updated_at: now(),
    }
}

async fn register(db: &Db, e: &Endpoint) {
    let mut tx = db.begin().await.unwrap();
    webhooks::insert_endpoint(&mut tx, e).await.unwrap();
    tx.commit().await.unwrap();
}

/// Enqueues a delivery of a fresh event; returns the event id.
async fn enqueue(db: &Db, e: &Endpoint) -> uuid::Uuid {
    let event_id = uuid::Uuid::now_v7();
    let mut tx = db.begin().await.unwrap();
    let d = NewDelivery { endpoint_id: e.id, user_id: e.user_id, event_id, event_type: "task.created", payload: "{}" };
    assert!(webhooks::enqueue(&mut tx, &d, now()).await.unwrap());
    tx.commit().await.unwrap();
    event_id
}

/// Claims and records one attempt of every due delivery with the given outcome;
/// returns each endpoint's count of failed deliveries and its status after it.
async fn attempt_all(db: &Db, next: Next, status: Option<i64>) -> Vec<Option<(i64, EndpointStatus)>> {
    let due = webhooks::due(&mut db.read().await.unwrap(), now() + Duration::seconds(1), 100, 100).await.unwrap();
    let mut changes = Vec::new();
    for d in due {
        let mut tx = db.begin().await.unwrap();
        assert!(
            webhooks::claim(&mut tx, d.id, d.attempts, now() + Duration::seconds(1), now() + Duration::minutes(1))
                .await
                .unwrap()
        );
        let result = AttemptResult {
            attempt: d.attempts + 1,
            status_code: status,
            error: (next != Next::Delivered).then(|| "the endpoint answered HTTP 500".to_owned()),
            duration_ms: 3,
            at: now(),
        };
        changes.push(webhooks::record_attempt(&mut tx, &d, &result, next).await.unwrap());
        tx.commit().await.unwrap();
    }
    changes
}

on_both_backends! {
    async fn a_delivery_is_enqueued_once_and_each_attempt_claimed_by_one_worker(db: Db) {
        let owner = user(&db).await;
        let e = endpoint(owner, &["*"]);
        register(&db, &e).await;
        let event_id = enqueue(&db, &e).await;
        // The same event again (a redelivery that slipped past the inbox) changes nothing.
        let mut tx = db.begin().await.unwrap();
        let again = NewDelivery { endpoint_id: e.id, user_id: owner, event_id, event_type: "task.created", payload: "{}" };
        assert!(!webhooks::enqueue(&mut tx, &again, now()).await.unwrap());
        tx.commit().await.unwrap();

        let due = webhooks::due(&mut db.read().await.unwrap(), now() + Duration::seconds(1), 100, 10).await.unwrap();
        assert_eq!(due.len(), 1);
        assert_eq!((due[0].attempts, due[0].url.as_str()), (0, e.url.as_str()));

        // Two workers that read the same state race for attempt 1: one wins.
        let claim = |db: Db, id: DeliveryId| async move {
            let mut tx = db.begin().await.unwrap();
            let won = webhooks::claim(&mut tx, id, 0, now() + Duration::seconds(1), now() + Duration::minutes(1))
                .await
                .unwrap();
            tx.commit().await.unwrap();
            won
        };
        let (a, b) = tokio::join!(
            tokio::spawn(claim(db.clone(), due[0].id)),
            tokio::spawn(claim(db.clone(), due[0].id))
        );
        assert!(a.unwrap() ^ b.unwrap(), "exactly one claim wins");
        // While claimed, it is not due for anyone else.
        assert!(webhooks::due(&mut db.read().await.unwrap(), now() + Duration::seconds(1), 100, 10).await.unwrap().is_empty());
        let log = webhooks::deliveries(&mut db.read().await.unwrap(), e.id, None, 10).await.unwrap();
        assert_eq!((log[0].attempts, log[0].status), (1, DeliveryStatus::Pending));
    }

    async fn a_batch_takes_a_few_of_each_endpoints_backlog_and_an_open_breaker_postpones_all_of_one(db: Db) {
        let owner = user(&db).await;
        let (busy, quiet) = (endpoint(owner, &["*"]), endpoint(owner, &["*"]));
        register(&db, &busy).await;
        register(&db, &quiet).await;
        for _ in 0..5 {
            enqueue(&db, &busy).await;
        }
        let quiet_event = enqueue(&db, &quiet).await;
        let at = now() + Duration::seconds(1);
        let due = webhooks::due(&mut db.read().await.unwrap(), at, 2, 100).await.unwrap();
        let of = |id: EndpointId| due.iter().filter(|d| d.endpoint_id == id).count();
        assert_eq!((of(busy.id), of(quiet.id)), (2, 1), "the quiet endpoint is not behind the busy one's backlog");
        assert!(due.iter().any(|d| d.event_id == quiet_event));

        // The busy endpoint's breaker opened: every due delivery of it waits,
        // without an attempt, and the other endpoint's stays due.
        let until = now() + Duration::minutes(1);
        let mut tx = db.begin().await.unwrap();
        assert_eq!(webhooks::postpone_endpoint(&mut tx, busy.id, at, until).await.unwrap(), 5);
        tx.commit().await.unwrap();
        let due = webhooks::due(&mut db.read().await.unwrap(), at, 2, 100).await.unwrap();
        assert_eq!(due.iter().map(|d| d.endpoint_id).collect::<Vec<_>>(), [quiet.id]);
        let log = webhooks::deliveries(&mut db.read().await.unwrap(), busy.id, None, 10).await.unwrap();
        assert!(log.iter().all(|d| d.attempts == 0 && d.next_attempt_at == Some(until)), "{log:?}");
    }

    async fn failed_deliveries_disable_the_endpoint_and_a_success_resets_the_count(db: Db) {
        let owner = user(&db).await;
        let e = endpoint(owner, &["task.*"]);
        register(&db, &e).await;

        // A retry keeps it pending; a success resets the failure count.
        enqueue(&db, &e).await;
        let later = now() + Duration::seconds(30);
        attempt_all(&db, Next::RetryAt(later), Some(500)).await;
        let log = webhooks::deliveries(&mut db.read().await.unwrap(), e.id, None, 10).await.unwrap();
        assert_eq!(log[0].next_attempt_at, Some(later));
        assert_eq!(log[0].last_status, Some(500));
        let mut conn = db.read().await.unwrap();
        assert_eq!(webhooks::next_due_at(&mut conn).await.unwrap(), Some(later));
        drop(conn);

        enqueue(&db, &e).await;
        assert_eq!(attempt_all(&db, Next::GiveUp, Some(500)).await, [Some((1, EndpointStatus::Active))]);
        let failures = |db: Db, id: EndpointId| async move {
            webhooks::endpoint(&mut db.read().await.unwrap(), owner, id).await.unwrap().unwrap()
        };
        assert_eq!(failures(db.clone(), e.id).await.consecutive_failures, 1);
        enqueue(&db, &e).await;
        attempt_all(&db, Next::Delivered, Some(204)).await;
        assert_eq!(failures(db.clone(), e.id).await.consecutive_failures, 0);

        // Two failed deliveries in a row count two; disabling it (the
        // application's rule decides when) fails what was still queued.
        enqueue(&db, &e).await;
        enqueue(&db, &e).await;
        enqueue(&db, &e).await;
        let due = webhooks::due(&mut db.read().await.unwrap(), now() + Duration::seconds(1), 100, 10).await.unwrap();
        let queued = due.last().unwrap().id;
        let mut tx = db.begin().await.unwrap();
        for d in &due[..2] {
            let (now, lease) = (now() + Duration::seconds(1), now() + Duration::minutes(1));
            assert!(webhooks::claim(&mut tx, d.id, 0, now, lease).await.unwrap());
            let error = Some("refused".to_owned());
            let result = AttemptResult { attempt: 1, status_code: None, error, duration_ms: 1, at: now };
            let recorded = webhooks::record_attempt(&mut tx, d, &result, Next::GiveUp).await.unwrap();
            assert!(matches!(recorded, Some((1 | 2, EndpointStatus::Active))), "{recorded:?}");
        }
        let reason = "disabled after 2 consecutive failed deliveries";
        webhooks::disable_endpoint(&mut tx, e.id, reason, now()).await.unwrap();
        tx.commit().await.unwrap();
        let disabled = failures(db.clone(), e.id).await;
        assert_eq!((disabled.status, disabled.consecutive_failures), (EndpointStatus::Disabled, 2));
        assert_eq!(disabled.disabled_reason.as_deref(), Some(reason));
        let log = webhooks::deliveries(&mut db.read().await.unwrap(), e.id, None, 10).await.unwrap();
        assert!(log.iter().all(|d| d.status != DeliveryStatus::Pending), "{log:?}");
        let never_sent = log.iter().find(|d| d.id == queued).unwrap();
        assert_eq!((never_sent.attempts, never_sent.last_error.as_deref()), (0, Some("endpoint disabled")));
        assert!(webhooks::active_endpoints_of(&mut db.read().await.unwrap(), owner).await.unwrap().is_empty());

        // Re-enabled, it is active with a clean count.
        let mut tx = db.begin().await.unwrap();
        assert!(webhooks::enable_endpoint(&mut tx, owner, e.id, now()).await.unwrap());
        tx.commit().await.unwrap();
        let enabled = failures(db.clone(), e.id).await;
        assert_eq!((enabled.status, enabled.consecutive_failures), (EndpointStatus::Active, 0));
    }

    async fn the_delivery_log_pages_and_goes_with_its_endpoint(db: Db) {
        let owner = user(&db).await;
        let stranger = user(&db).await;
        let e = endpoint(owner, &["*"]);
        register(&db, &e).await;
        for _ in 0..3 {
            enqueue(&db, &e).await;
        }
        attempt_all(&db, Next::Delivered, Some(200)).await;
        let mut conn = db.read().await.unwrap();
        let first = webhooks::deliveries(&mut conn, e.id, None, 2).await.unwrap();
        let rest = webhooks::deliveries(&mut conn, e.id, Some(first[1].id), 2).await.unwrap();
        assert_eq!((first.len(), rest.len()), (2, 1));
        assert!(first[0].id > first[1].id && first[1].id > rest[0].id, "newest first");
        let attempts = webhooks::attempts(&mut conn, rest[0].id).await.unwrap();
        assert_eq!(attempts.len(), 1);
        assert_eq!(attempts[0].status_code, Some(200));
        drop(conn);

        let mut tx = db.begin().await.unwrap();
        assert!(!webhooks::delete_endpoint(&mut tx, stranger, e.id).await.unwrap(), "not the stranger's");
        assert!(webhooks::delete_endpoint(&mut tx, owner, e.id).await.unwrap());
        tx.commit().await.unwrap();
        let mut conn = db.read().await.unwrap();
        assert!(webhooks::endpoint(&mut conn, owner, e.id).await.unwrap().is_none());
        assert!(webhooks::deliveries(&mut conn, e.id, None, 10).await.unwrap().is_empty());
        assert!(webhooks::attempts(&mut conn, rest[0].id).await.unwrap().is_empty());
    }

    async fn a_stored_secret_is_replaced_only_while_it_is_the_one_read(db: Db) {
        let owner = user(&db).await;
        let e = endpoint(owner, &["*"]);
        register(&db, &e).await;
        let mut tx = db.begin().await.unwrap();
        assert!(webhooks::set_secret(&mut tx, owner, e.id, "rotated", now() + Duration::days(1), now()).await.unwrap());
        tx.commit().await.unwrap();
        let read = || async {
            let mut conn = db.read().await.unwrap();
            let all = webhooks::stored_secrets(&mut conn).await.unwrap();
            all.into_iter().find(|s| s.id == e.id).expect("the endpoint's secrets")
        };
        let stored = read().await;
        assert_eq!((stored.secret.as_str(), stored.previous_secret.as_deref()), ("rotated", Some(e.secret.as_str())));

        let mut tx = db.begin().await.unwrap();
        assert!(webhooks::replace_stored_secret(&mut tx, e.id, false, "rotated", "resealed").await.unwrap());
        assert!(webhooks::replace_stored_secret(&mut tx, e.id, true, &e.secret, "resealed-previous").await.unwrap());
        // A value that changed since it was read (rotated meanwhile) is left alone.
        assert!(!webhooks::replace_stored_secret(&mut tx, e.id, false, "rotated", "stale").await.unwrap());
        tx.commit().await.unwrap();
        let stored = read().await;
        assert_eq!((stored.secret.as_str(), stored.previous_secret.as_deref()), ("resealed", Some("resealed-previous")));
    }

    async fn an_e_mail_is_queued_once_per_event_and_sent_once(db: Db) {
        let owner = user(&db).await;
        let mail = NewEmail {
            event_id: uuid::Uuid::now_v7(),
            user_id: owner,
            recipient: "someone@example.com".into(),
            subject: "Reminder: Pay rent".into(),
            body: "Reminder: Pay rent\n".into(),
        };
        let mut tx = db.begin().await.unwrap();
        assert!(email::enqueue(&mut tx, &mail, now()).await.unwrap());
        assert!(!email::enqueue(&mut tx, &mail, now()).await.unwrap(), "one e-mail per event");
        tx.commit().await.unwrap();

        let soon = now() + Duration::seconds(1);
        let due = email::due(&mut db.read().await.unwrap(), soon, 10).await.unwrap();
        assert_eq!(due.len(), 1);
        assert_eq!(due[0].subject, "Reminder: Pay rent");
        let mut tx = db.begin().await.unwrap();
        assert!(email::claim(&mut tx, mail.event_id, 0, soon, soon + Duration::minutes(1)).await.unwrap());
        assert!(!email::claim(&mut tx, mail.event_id, 0, soon, soon + Duration::minutes(1)).await.unwrap());
        // A transient failure schedules a retry ...
        let retry_at = now() + Duration::seconds(2);
        email::finish(&mut tx, mail.event_id, 1, Err(("421 try later", Some(retry_at))), now()).await.unwrap();
        tx.commit().await.unwrap();
        assert_eq!(email::next_due_at(&mut db.read().await.unwrap()).await.unwrap(), Some(retry_at));

        // ... and the next attempt, once sent, leaves nothing due.
        let later = retry_at + Duration::seconds(1);
        let due = email::due(&mut db.read().await.unwrap(), later, 10).await.unwrap();
        assert_eq!(due[0].attempts, 1);
        let mut tx = db.begin().await.unwrap();
        assert!(email::claim(&mut tx, mail.event_id, 1, later, later + Duration::minutes(1)).await.unwrap());
        email::finish(&mut tx, mail.event_id, 2, Ok(()), now()).await.unwrap();
        tx.commit().await.unwrap();
        assert!(email::due(&mut db.read().await.unwrap(), later + Duration::hours(1), 10).await.unwrap().is_empty());
        assert_eq!(email::next_due_at(&mut db.read().await.unwrap()).await.unwrap(), None);
    }
}
