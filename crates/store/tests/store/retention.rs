//! Retention: the batched deletes of the scheduler's housekeeping. Each one
//! deletes old finished rows a batch at a time, keeps recent ones and whatever
//! is still pending or unread, and reports what it deleted.
use chrono::{DateTime, Duration, Utc};
use ontask_domain::{DeliveryId, NotificationId, NotificationKind, TaskId, UserId};
use ontask_store::email::{self, NewEmail};
use ontask_store::idempotency::{self, Reservation, StoredResponse};
use ontask_store::notifications::{self, Notification};
use ontask_store::webhooks::{self, AttemptResult, Endpoint, NewDelivery, Next, PurgedDeliveries};
use ontask_store::{Db, events};
use uuid::Uuid;

use crate::{now, on_both_backends, user};

/// The ids (first column) `sql` selects, sorted.
async fn ids(db: &Db, sql: &str) -> Vec<String> {
    let mut conn = db.read().await.unwrap();
    let mut ids: Vec<String> = sqlx::query_scalar(sql).fetch_all(&mut *conn).await.unwrap();
    ids.sort();
    ids
}

/// Runs one batch in its own transaction, as the housekeeping loop does.
async fn inbox_batch(db: &Db, before: DateTime<Utc>, limit: i64) -> u64 {
    let mut tx = db.begin().await.unwrap();
    let n = events::purge_inbox(&mut tx, before, limit).await.unwrap();
    tx.commit().await.unwrap();
    n
}

async fn handled(db: &Db, consumer: &str, event: Uuid, at: DateTime<Utc>) {
    let mut tx = db.begin().await.unwrap();
    assert!(events::inbox_claim(&mut tx, consumer, event, at).await.unwrap());
    tx.commit().await.unwrap();
}

async fn endpoint(db: &Db, owner: UserId) -> Endpoint {
    let e = crate::outbound::endpoint(owner, &["*"]);
    let mut tx = db.begin().await.unwrap();
    webhooks::insert_endpoint(&mut tx, &e).await.unwrap();
    tx.commit().await.unwrap();
    e
}

/// A delivery enqueued at `at`, with one attempt whose outcome is `next`
/// (`None`: no attempt yet). Returns the delivery id.
async fn delivery(db: &Db, e: &Endpoint, at: DateTime<Utc>, next: Option<Next>) -> DeliveryId {
    let event_id = Uuid::now_v7();
    let new =
        NewDelivery { endpoint_id: e.id, user_id: e.user_id, event_id, event_type: "task.created", payload: "{}" };
    let mut tx = db.begin().await.unwrap();
    assert!(webhooks::enqueue(&mut tx, &new, at).await.unwrap());
    tx.commit().await.unwrap();
    let due = webhooks::due(&mut db.read().await.unwrap(), at, 100, 100).await.unwrap();
    let due = due.into_iter().find(|d| d.event_id == event_id).expect("the delivery is due");
    if let Some(next) = next {
        let mut tx = db.begin().await.unwrap();
        assert!(webhooks::claim(&mut tx, due.id, 0, at, at + Duration::minutes(1)).await.unwrap());
        let result = AttemptResult {
            attempt: 1,
            status_code: Some(if next == Next::Delivered { 204 } else { 500 }),
            error: (next != Next::Delivered).then(|| "the endpoint answered HTTP 500".to_owned()),
            duration_ms: 3,
            at,
        };
        webhooks::record_attempt(&mut tx, &due, &result, next).await.unwrap();
        tx.commit().await.unwrap();
    }
    due.id
}

async fn deliveries_batch(db: &Db, before: DateTime<Utc>, limit: i64) -> PurgedDeliveries {
    let mut tx = db.begin().await.unwrap();
    let purged = webhooks::purge_finished(&mut tx, before, limit).await.unwrap();
    tx.commit().await.unwrap();
    purged
}

/// An e-mail queued at `at` and then sent (`Some(true)`), given up on
/// (`Some(false)`) or left pending (`None`). Returns its event id.
async fn e_mail(db: &Db, owner: UserId, at: DateTime<Utc>, sent: Option<bool>) -> Uuid {
    let mail = NewEmail {
        event_id: Uuid::now_v7(),
        user_id: owner,
        recipient: "someone@example.com".into(),
        subject: "Reminder: Pay rent".into(),
        body: "Reminder: Pay rent\n".into(),
    };
    let mut tx = db.begin().await.unwrap();
    assert!(email::enqueue(&mut tx, &mail, at).await.unwrap());
    if let Some(sent) = sent {
        assert!(email::claim(&mut tx, mail.event_id, 0, at, at + Duration::minutes(1)).await.unwrap());
        let outcome = if sent { Ok(()) } else { Err(("550 no such mailbox", None)) };
        email::finish(&mut tx, mail.event_id, 1, outcome, at).await.unwrap();
    }
    tx.commit().await.unwrap();
    mail.event_id
}

async fn e_mails_batch(db: &Db, before: DateTime<Utc>, limit: i64) -> u64 {
    let mut tx = db.begin().await.unwrap();
    let n = email::purge_finished(&mut tx, before, limit).await.unwrap();
    tx.commit().await.unwrap();
    n
}

/// A notification created at `created_at`, read at `read_at`. Returns its id.
async fn notification(
    db: &Db,
    owner: UserId,
    created_at: DateTime<Utc>,
    read_at: Option<DateTime<Utc>>,
) -> NotificationId {
    let n = Notification {
        id: NotificationId::new(),
        user_id: owner,
        kind: NotificationKind::Reminder,
        title: "Pay rent".into(),
        body: String::new(),
        task_id: Some(TaskId::new()),
        event_id: Uuid::now_v7(),
        created_at,
        read_at,
    };
    let mut tx = db.begin().await.unwrap();
    assert!(notifications::insert(&mut tx, &n).await.unwrap());
    tx.commit().await.unwrap();
    n.id
}

async fn notifications_batch(db: &Db, before: DateTime<Utc>, limit: i64) -> u64 {
    let mut tx = db.begin().await.unwrap();
    let n = notifications::purge_read(&mut tx, before, limit).await.unwrap();
    tx.commit().await.unwrap();
    n
}

async fn keys_batch(db: &Db, before: DateTime<Utc>, limit: i64) -> u64 {
    let mut tx = db.begin().await.unwrap();
    let n = idempotency::purge(&mut tx, before, limit).await.unwrap();
    tx.commit().await.unwrap();
    n
}

on_both_backends! {
    async fn the_inbox_forgets_old_events_a_batch_at_a_time(db: Db) {
        let cutoff = now() - Duration::days(14);
        let old: Vec<Uuid> = (0..5).map(|_| Uuid::now_v7()).collect();
        for (i, event) in old.iter().enumerate() {
            let consumer = if i % 2 == 0 { "recurrence" } else { "notifications" };
            handled(&db, consumer, *event, cutoff - Duration::hours(1 + i as i64)).await;
        }
        let recent = Uuid::now_v7();
        handled(&db, "recurrence", recent, now()).await;
        // Right at the cutoff is not older than it.
        let borderline = Uuid::now_v7();
        handled(&db, "notifications", borderline, cutoff).await;

        assert_eq!(inbox_batch(&db, cutoff, 2).await, 2);
        assert_eq!(inbox_batch(&db, cutoff, 2).await, 2);
        assert_eq!(inbox_batch(&db, cutoff, 2).await, 1, "a short batch: the last old row");
        assert_eq!(inbox_batch(&db, cutoff, 2).await, 0);

        let kept = ids(&db, "SELECT event_id FROM inbox").await;
        let mut expected = vec![recent.to_string(), borderline.to_string()];
        expected.sort();
        assert_eq!(kept, expected);
        // A kept row still guards against redelivery; a forgotten one no longer does.
        let mut tx = db.begin().await.unwrap();
        assert!(!events::inbox_claim(&mut tx, "recurrence", recent, now()).await.unwrap());
        assert!(events::inbox_claim(&mut tx, "recurrence", old[0], now()).await.unwrap());
        tx.commit().await.unwrap();
    }

    async fn concurrent_purges_delete_every_old_row_exactly_once(db: Db) {
        let cutoff = now() - Duration::days(14);
        for i in 0..30 {
            handled(&db, "recurrence", Uuid::now_v7(), cutoff - Duration::minutes(1 + i)).await;
        }
        // Two schedulers clean the same table at once, each until a short batch.
        let drain = || async {
            let mut total = 0;
            loop {
                let n = inbox_batch(&db, cutoff, 4).await;
                total += n;
                if n < 4 {
                    return total;
                }
            }
        };
        let (a, b) = tokio::join!(drain(), drain());
        assert_eq!(a + b, 30, "every row counted once ({a} + {b})");
        assert!(ids(&db, "SELECT event_id FROM inbox").await.is_empty());
    }

    async fn idempotency_keys_are_forgotten_after_their_window(db: Db) {
        let owner = user(&db).await;
        let cutoff = now() - Duration::hours(24);
        let answer = StoredResponse { status: 201, headers: "{}".into(), body: "{}".into() };
        let mut tx = db.begin().await.unwrap();
        for (i, key) in ["old-1", "old-2", "old-3"].into_iter().enumerate() {
            let at = cutoff - Duration::minutes(1 + i as i64);
            assert_eq!(idempotency::reserve(&mut tx, owner, key, "h", at).await.unwrap(), Reservation::Reserved);
            idempotency::complete(&mut tx, owner, key, &answer).await.unwrap();
        }
        assert_eq!(idempotency::reserve(&mut tx, owner, "recent", "h", now()).await.unwrap(), Reservation::Reserved);
        idempotency::complete(&mut tx, owner, "recent", &answer).await.unwrap();
        tx.commit().await.unwrap();

        assert_eq!(keys_batch(&db, cutoff, 2).await, 2);
        assert_eq!(keys_batch(&db, cutoff, 2).await, 1);
        assert_eq!(keys_batch(&db, cutoff, 2).await, 0);

        assert_eq!(ids(&db, "SELECT key FROM idempotency_keys").await, vec!["recent".to_owned()]);
        let mut tx = db.begin().await.unwrap();
        assert_eq!(
            idempotency::reserve(&mut tx, owner, "recent", "h", now()).await.unwrap(),
            Reservation::Replay(Some(answer)),
            "a recent key still replays"
        );
        assert_eq!(
            idempotency::reserve(&mut tx, owner, "old-1", "another body", now()).await.unwrap(),
            Reservation::Reserved,
            "a forgotten key is new again"
        );
        tx.commit().await.unwrap();
    }

    async fn finished_webhook_deliveries_go_with_their_attempts_and_pending_ones_stay(db: Db) {
        let owner = user(&db).await;
        let e = endpoint(&db, owner).await;
        let cutoff = now() - Duration::days(30);
        let old = cutoff - Duration::days(10);
        let delivered = [
            delivery(&db, &e, old, Some(Next::Delivered)).await,
            delivery(&db, &e, old, Some(Next::Delivered)).await,
        ];
        let failed = delivery(&db, &e, old, Some(Next::GiveUp)).await;
        let retrying = delivery(&db, &e, old, Some(Next::RetryAt(now() + Duration::minutes(5)))).await;
        let untried = delivery(&db, &e, old, None).await;
        let recent = delivery(&db, &e, now() - Duration::days(1), Some(Next::Delivered)).await;

        assert_eq!(deliveries_batch(&db, cutoff, 2).await, PurgedDeliveries { deliveries: 2, attempts: 2 });
        assert_eq!(deliveries_batch(&db, cutoff, 2).await, PurgedDeliveries { deliveries: 1, attempts: 1 });
        assert_eq!(deliveries_batch(&db, cutoff, 2).await, PurgedDeliveries::default());

        let mut expected: Vec<String> = [retrying, untried, recent].iter().map(ToString::to_string).collect();
        expected.sort();
        assert_eq!(ids(&db, "SELECT id FROM webhook_deliveries").await, expected);
        let mut conn = db.read().await.unwrap();
        assert_eq!(webhooks::attempts(&mut conn, retrying).await.unwrap().len(), 1, "a pending delivery keeps its log");
        assert_eq!(webhooks::attempts(&mut conn, recent).await.unwrap().len(), 1);
        for gone in delivered.iter().chain([&failed]) {
            assert!(webhooks::attempts(&mut conn, *gone).await.unwrap().is_empty(), "no attempt outlives its delivery");
        }
    }

    async fn sent_and_failed_e_mails_go_and_pending_ones_stay(db: Db) {
        let owner = user(&db).await;
        let cutoff = now() - Duration::days(30);
        let old = cutoff - Duration::hours(1);
        e_mail(&db, owner, old, Some(true)).await;
        e_mail(&db, owner, old, Some(true)).await;
        e_mail(&db, owner, old, Some(false)).await;
        let pending = e_mail(&db, owner, old, None).await;
        let recent = e_mail(&db, owner, now(), Some(true)).await;

        assert_eq!(e_mails_batch(&db, cutoff, 2).await, 2);
        assert_eq!(e_mails_batch(&db, cutoff, 2).await, 1);
        assert_eq!(e_mails_batch(&db, cutoff, 2).await, 0);

        let mut expected = vec![pending.to_string(), recent.to_string()];
        expected.sort();
        assert_eq!(ids(&db, "SELECT event_id FROM email_outbox").await, expected);
        let due = email::due(&mut db.read().await.unwrap(), now(), 10).await.unwrap();
        assert_eq!(due.iter().map(|d| d.event_id).collect::<Vec<_>>(), vec![pending]);
    }

    async fn read_notifications_go_and_unread_ones_stay(db: Db) {
        let owner = user(&db).await;
        let cutoff = now() - Duration::days(90);
        let long_ago = cutoff - Duration::days(30);
        for _ in 0..3 {
            notification(&db, owner, long_ago, Some(long_ago + Duration::hours(1))).await;
        }
        let unread = notification(&db, owner, long_ago, None).await;
        // Old, but read only recently: it goes when its reading is as old.
        let read_lately = notification(&db, owner, long_ago, Some(now() - Duration::days(1))).await;
        let recent = notification(&db, owner, now(), Some(now())).await;

        assert_eq!(notifications_batch(&db, cutoff, 2).await, 2);
        assert_eq!(notifications_batch(&db, cutoff, 2).await, 1);
        assert_eq!(notifications_batch(&db, cutoff, 2).await, 0);

        let mut expected: Vec<String> = [unread, read_lately, recent].iter().map(ToString::to_string).collect();
        expected.sort();
        assert_eq!(ids(&db, "SELECT id FROM notifications").await, expected);
        assert_eq!(notifications::unread_count(&mut db.read().await.unwrap(), owner).await.unwrap(), 1);
    }
}
