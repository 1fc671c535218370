//! Reminders, notifications and idempotency keys.
use chrono::Duration;
use ontask_domain::{NotificationId, NotificationKind, TaskId, UserId};
use ontask_store::Db;
use ontask_store::idempotency::{self, Reservation, StoredResponse};
use ontask_store::notifications::{self, Notification};
use ontask_store::reminders::{self, PendingReminder};

use crate::{now, on_both_backends, user};

fn notification(user: UserId, event: uuid::Uuid) -> Notification {
    Notification {
        id: NotificationId::new(),
        user_id: user,
        kind: NotificationKind::Reminder,
        title: "Pay rent".into(),
        body: String::new(),
        task_id: Some(TaskId::new()),
        event_id: event,
        created_at: now(),
        read_at: None,
    }
}

on_both_backends! {
    async fn reminders_are_rescheduled_and_claimed_once(db: Db) {
        let owner = user(&db).await;
        let task = TaskId::new();
        let soon = now() - Duration::minutes(1);
        let later = now() + Duration::hours(1);
        let mut tx = db.begin().await.unwrap();
        reminders::replace_pending(&mut tx, task, owner, &[soon, later]).await.unwrap();
        tx.commit().await.unwrap();

        let mut conn = db.read().await.unwrap();
        assert_eq!(reminders::next_fire_at(&mut conn).await.unwrap(), Some(soon));
        let due = reminders::due(&mut conn, now(), 10).await.unwrap();
        assert_eq!(due, vec![PendingReminder { task_id: task, owner_id: owner, fire_at: soon }]);
        drop(conn);

        // Two schedulers race for the same reminder: exactly one claim wins.
        let (a, b) = tokio::join!(
            async {
                let mut tx = db.begin().await.unwrap();
                let won = reminders::claim(&mut tx, &due[0], now()).await.unwrap();
                tx.commit().await.unwrap();
                won
            },
            async {
                let mut tx = db.begin().await.unwrap();
                let won = reminders::claim(&mut tx, &due[0], now()).await.unwrap();
                tx.commit().await.unwrap();
                won
            }
        );
        assert!(a ^ b, "exactly one claim wins ({a}, {b})");

        // Rescheduling keeps what already fired and replaces what is pending.
        let moved = now() + Duration::hours(2);
        let mut tx = db.begin().await.unwrap();
        reminders::replace_pending(&mut tx, task, owner, &[soon, moved]).await.unwrap();
        tx.commit().await.unwrap();
        let mut conn = db.read().await.unwrap();
        assert!(reminders::due(&mut conn, now(), 10).await.unwrap().is_empty(), "a fired reminder stays fired");
        assert_eq!(reminders::next_fire_at(&mut conn).await.unwrap(), Some(moved));
    }

    async fn notifications_once_per_event_with_unread_counts(db: Db) {
        let owner = user(&db).await;
        let event = uuid::Uuid::now_v7();
        let first = notification(owner, event);
        let mut tx = db.begin().await.unwrap();
        assert!(notifications::insert(&mut tx, &first).await.unwrap());
        assert!(!notifications::insert(&mut tx, &notification(owner, event)).await.unwrap(), "same event again");
        assert!(notifications::insert(&mut tx, &notification(owner, uuid::Uuid::now_v7())).await.unwrap());
        tx.commit().await.unwrap();

        let mut conn = db.read().await.unwrap();
        let (items, unread) = notifications::page_with_unread(&mut conn, owner, false, 10).await.unwrap();
        assert_eq!((items.len(), unread), (2, 2));
        drop(conn);
        let mut tx = db.begin().await.unwrap();
        let read = notifications::mark_read(&mut tx, owner, first.id, now()).await.unwrap().unwrap();
        assert!(read.read_at.is_some());
        assert!(notifications::mark_read(&mut tx, UserId::new(), first.id, now()).await.unwrap().is_none());
        tx.commit().await.unwrap();
        let mut conn = db.read().await.unwrap();
        assert_eq!(notifications::unread_count(&mut conn, owner).await.unwrap(), 1);
        assert_eq!(notifications::for_user(&mut conn, owner, true, 10).await.unwrap().len(), 1);
        drop(conn);
        let mut tx = db.begin().await.unwrap();
        assert_eq!(notifications::mark_all_read(&mut tx, owner, now()).await.unwrap(), 1);
        tx.commit().await.unwrap();
    }

    async fn idempotency_keys_reserve_replay_release_and_purge(db: Db) {
        let owner = user(&db).await;
        let mut tx = db.begin().await.unwrap();
        assert_eq!(idempotency::reserve(&mut tx, owner, "k1", "h1", now()).await.unwrap(), Reservation::Reserved);
        assert_eq!(idempotency::reserve(&mut tx, owner, "k1", "h1", now()).await.unwrap(), Reservation::Replay(None));
        assert_eq!(idempotency::reserve(&mut tx, owner, "k1", "other", now()).await.unwrap(), Reservation::Mismatch);
        let answer = StoredResponse { status: 201, headers: "{\"etag\":\"\\\"1\\\"\"}".into(), body: "{}".into() };
        idempotency::complete(&mut tx, owner, "k1", &answer).await.unwrap();
        assert_eq!(
            idempotency::reserve(&mut tx, owner, "k1", "h1", now()).await.unwrap(),
            Reservation::Replay(Some(answer))
        );
        assert_eq!(idempotency::reserve(&mut tx, owner, "k2", "h2", now()).await.unwrap(), Reservation::Reserved);
        idempotency::release(&mut tx, owner, "k2").await.unwrap();
        assert_eq!(idempotency::reserve(&mut tx, owner, "k2", "h3", now()).await.unwrap(), Reservation::Reserved);
        assert_eq!(idempotency::purge(&mut tx, now() + Duration::seconds(1), 100).await.unwrap(), 2);
        tx.commit().await.unwrap();
    }
}
