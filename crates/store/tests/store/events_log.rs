//! The event log: the outbox rows, the relay's position, consumers' offsets, inbox
//! and dead letters.
use std::collections::HashSet;

use ontask_store::{Db, StoreError, events, tasks};

use crate::{created_event, insert_with_event, now, on_both_backends, task, user};

/// An event of every kind as version 1 wrote it (see `crates/domain/tests/events_v1.rs`).
const V1_EXAMPLES: &str = include_str!("../../../../docs/events/v1-examples.jsonl");

on_both_backends! {
    async fn events_that_version_1_stored_read_back_through_the_types_unchanged(db: Db) {
        let examples: Vec<serde_json::Value> = V1_EXAMPLES.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
        // Stored as version 1 stored them: its columns (and `project_id`,
        // since projects), its timestamp format,
        // `data` and `metadata` as the JSON text it wrote.
        let mut tx = db.begin().await.unwrap();
        for e in &examples {
            let text = |key: &str| e[key].as_str().unwrap().to_owned();
            let at = chrono::DateTime::parse_from_rfc3339(&text("timestamp")).unwrap();
            sqlx::query(
                "INSERT INTO events (event_id, event_type, event_version, occurred_at, source, user_id, task_id, data, \
                 metadata, project_id) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
            )
            .bind(text("event_id"))
            .bind(text("event_type"))
            .bind(text("event_version"))
            .bind(at.to_rfc3339_opts(chrono::SecondsFormat::Micros, true))
            .bind(text("source"))
            .bind(text("user_id"))
            .bind(e["task_id"].as_str().map(str::to_owned))
            .bind(e["data"].to_string())
            .bind(e["metadata"].to_string())
            // Events of the kinds that came with projects name their project.
            .bind(e["project_id"].as_str().map(str::to_owned))
            .execute(tx.conn())
            .await
            .unwrap();
        }
        tx.commit().await.unwrap();

        let stored = events::all_after(&mut db.read().await.unwrap(), 0, 100).await.unwrap();
        assert_eq!(stored.len(), examples.len());
        for (event, example) in stored.iter().zip(&examples) {
            assert_eq!(&serde_json::to_value(&event.envelope).unwrap(), example);
        }
        assert!(stored.iter().any(|e| e.envelope.kind().is_none()), "the newer writer's event is kept");
    }

    async fn task_and_event_commit_together_and_read_back(db: Db) {
        let owner = user(&db).await;
        let snap = task(owner, "Pay rent");
        let event = created_event(owner, &snap);
        let mut tx = db.begin().await.unwrap();
        tasks::insert(&mut tx, &snap).await.unwrap();
        let seq = events::append(&mut tx, &event).await.unwrap();
        tx.commit().await.unwrap();

        let mut conn = db.read().await.unwrap();
        assert_eq!(tasks::get(&mut conn, snap.id).await.unwrap(), Some(snap.clone()));
        assert_eq!(tasks::get(&mut conn, ontask_domain::TaskId::new()).await.unwrap(), None);
        let pending = events::unpublished(&mut conn, 10).await.unwrap();
        assert_eq!(pending.len(), 1);
        assert_eq!(pending[0].seq, seq);
        assert_eq!(pending[0].envelope, event);
    }

    async fn rolled_back_transaction_leaves_no_event(db: Db) {
        let owner = user(&db).await;
        let snap = task(owner, "x");
        let mut tx = db.begin().await.unwrap();
        tasks::insert(&mut tx, &snap).await.unwrap();
        events::append(&mut tx, &created_event(owner, &snap)).await.unwrap();
        drop(tx);
        let mut conn = db.read().await.unwrap();
        assert_eq!(tasks::get(&mut conn, snap.id).await.unwrap(), None);
        assert!(events::unpublished(&mut conn, 10).await.unwrap().is_empty());
        assert_eq!(events::heads(&mut conn).await.unwrap(), (0, 0));
    }

    async fn relay_marks_move_the_published_head(db: Db) {
        let owner = user(&db).await;
        let mut seqs = Vec::new();
        for i in 0..5 {
            seqs.push(insert_with_event(&db, &task(owner, &format!("t{i}"))).await);
        }
        assert!(seqs.windows(2).all(|w| w[0] < w[1]), "log positions grow: {seqs:?}");
        let mut tx = db.begin().await.unwrap();
        events::mark_published(&mut tx, seqs[2], now()).await.unwrap();
        tx.commit().await.unwrap();
        // A late or repeated mark never moves the position back.
        let mut tx = db.begin().await.unwrap();
        events::mark_published(&mut tx, seqs[1], now()).await.unwrap();
        tx.commit().await.unwrap();

        let mut conn = db.read().await.unwrap();
        assert_eq!(events::heads(&mut conn).await.unwrap(), (seqs[4], seqs[2]));
        assert_eq!(events::unpublished_count(&mut conn).await.unwrap(), 2);
        let rest: Vec<i64> = events::unpublished(&mut conn, 10).await.unwrap().iter().map(|e| e.seq).collect();
        assert_eq!(rest, seqs[3..]);
        let ahead: Vec<i64> =
            events::unpublished_after(&mut conn, seqs[3], 10).await.unwrap().iter().map(|e| e.seq).collect();
        assert_eq!(ahead, seqs[4..], "reading ahead of a batch still on its way");
        let middle: Vec<i64> = events::range(&db, seqs[0], seqs[3], 10).await.unwrap().iter().map(|e| e.seq).collect();
        assert_eq!(middle, seqs[1..=3]);
        assert_eq!(events::all_after(&mut conn, 0, 2).await.unwrap().len(), 2);
    }

    async fn reads_by_project_and_by_task_are_scoped_and_ordered(db: Db) {
        let alice = user(&db).await;
        let bob = user(&db).await;
        let a1 = task(alice, "a1");
        let first = insert_with_event(&db, &a1).await;
        let b1 = task(bob, "b1");
        insert_with_event(&db, &b1).await;
        insert_with_event(&db, &task(alice, "a2")).await;

        let mut conn = db.read().await.unwrap();
        let mine = events::visible_after(&db, alice, &[crate::home(alice)], 0, 10).await.unwrap();
        assert_eq!(mine.len(), 2);
        assert!(mine.iter().all(|e| e.envelope.project_id == Some(crate::home(alice))));
        let after_first = events::visible_after(&db, alice, &[crate::home(alice)], first, 10).await.unwrap();
        assert_eq!(after_first.len(), 1);
        let shared = [crate::home(alice), crate::home(bob)];
        assert_eq!(events::visible_after(&db, alice, &shared, 0, 10).await.unwrap().len(), 3, "a member sees both");
        assert!(events::visible_after(&db, alice, &[], 0, 10).await.unwrap().is_empty(), "nothing of no project");
        assert_eq!(events::for_task(&mut conn, a1.id).await.unwrap().len(), 1);
        let newest = events::for_project(&mut conn, crate::home(alice), i64::MAX, 1).await.unwrap();
        assert_eq!(newest[0].envelope.task_id.map(|t| t != a1.id), Some(true), "activity is newest first");
        assert_eq!(events::for_project(&mut conn, crate::home(bob), i64::MAX, 10).await.unwrap()[0].envelope.task_id, Some(b1.id));
    }

    async fn a_batch_claims_each_event_once(db: Db) {
        let handled = uuid::Uuid::now_v7();
        let (fresh, twice) = (uuid::Uuid::now_v7(), uuid::Uuid::now_v7());
        let mut tx = db.begin().await.unwrap();
        assert!(events::inbox_claim(&mut tx, "webhooks", handled, now()).await.unwrap());
        // One handled before, one new, one delivered twice within the batch.
        let claimed = events::inbox_claim_all(&mut tx, "webhooks", &[handled, fresh, twice, twice], now()).await.unwrap();
        assert_eq!(claimed, HashSet::from([fresh, twice]));
        let again = events::inbox_claim_all(&mut tx, "webhooks", &[fresh, twice], now()).await.unwrap();
        assert!(again.is_empty(), "claimed already: {again:?}");
        assert_eq!(events::inbox_claim_all(&mut tx, "reminders", &[handled], now()).await.unwrap().len(), 1);
        assert!(events::inbox_claim_all(&mut tx, "reminders", &[], now()).await.unwrap().is_empty());
        // More ids than one statement takes.
        let many: Vec<_> = (0..1200).map(|_| uuid::Uuid::now_v7()).collect();
        assert_eq!(events::inbox_claim_all(&mut tx, "webhooks", &many, now()).await.unwrap().len(), many.len());
        tx.commit().await.unwrap();
        let mut conn = db.read().await.unwrap();
        assert_eq!(events::inbox_count(&mut conn, "webhooks").await.unwrap(), 3 + 1200);
    }

    async fn offsets_inbox_and_dead_letters(db: Db) {
        let owner = user(&db).await;
        let seq = insert_with_event(&db, &task(owner, "t")).await;
        let mut conn = db.read().await.unwrap();
        let event = events::range(&db, 0, seq, 1).await.unwrap().remove(0);
        assert_eq!(events::offset(&mut conn, "recurrence").await.unwrap(), 0);
        drop(conn);

        let mut tx = db.begin().await.unwrap();
        assert!(events::inbox_claim(&mut tx, "recurrence", event.envelope.event_id, now()).await.unwrap());
        assert!(!events::inbox_claim(&mut tx, "recurrence", event.envelope.event_id, now()).await.unwrap());
        assert!(events::inbox_claim(&mut tx, "notifications", event.envelope.event_id, now()).await.unwrap());
        events::set_offset(&mut tx, "recurrence", seq, now()).await.unwrap();
        events::set_offset(&mut tx, "recurrence", seq + 1, now()).await.unwrap();
        events::dead_letter(&mut tx, "reminders", &event, "boom", 5, now()).await.unwrap();
        events::dead_letter(&mut tx, "reminders", &event, "boom again", 5, now()).await.unwrap();
        tx.commit().await.unwrap();

        let mut conn = db.read().await.unwrap();
        assert_eq!(events::offset(&mut conn, "recurrence").await.unwrap(), seq + 1);
        assert_eq!(events::all_offsets(&mut conn).await.unwrap(), vec![("recurrence".to_owned(), seq + 1)]);
        assert_eq!(events::inbox_count(&mut conn, "recurrence").await.unwrap(), 1);
        let dead = events::dead_letters(&mut conn, 10).await.unwrap();
        assert_eq!(dead.len(), 1, "one dead letter per consumer and event");
        assert_eq!((dead[0].consumer.as_str(), dead[0].error.as_str(), dead[0].attempts), ("reminders", "boom", 5));
        assert_eq!(dead[0].event_id, event.envelope.event_id);
    }

    async fn duplicate_event_id_is_a_conflict(db: Db) {
        let owner = user(&db).await;
        let snap = task(owner, "t");
        let event = created_event(owner, &snap);
        let mut tx = db.begin().await.unwrap();
        events::append(&mut tx, &event).await.unwrap();
        let err = events::append(&mut tx, &event).await.unwrap_err();
        assert!(matches!(err, StoreError::Conflict(_)), "{err:?}");
    }

    // Readers resume "after the last position I saw" (relay, log consumers, SSE
    // resume). That is only safe if positions become visible in order: with
    // writers racing, a reader must never move past a position that commits
    // later. On PostgreSQL this is what the append lock guarantees.
    async fn positions_become_visible_in_order_under_concurrent_writers(db: Db) {
        const WRITERS: usize = 6;
        const PER_WRITER: usize = 40;
        let owner = user(&db).await;
        let mut writers = Vec::new();
        for w in 0..WRITERS {
            let db = db.clone();
            writers.push(tokio::spawn(async move {
                for i in 0..PER_WRITER {
                    insert_with_event(&db, &task(owner, &format!("w{w} #{i}"))).await;
                }
            }));
        }
        let reader = {
            let db = db.clone();
            tokio::spawn(async move {
                let mut seen = HashSet::new();
                let mut position = 0;
                while seen.len() < WRITERS * PER_WRITER {
                    let batch = events::range(&db, position, i64::MAX, 1000).await.unwrap();
                    for e in &batch {
                        assert!(seen.insert(e.envelope.event_id), "an event was read twice");
                    }
                    position = batch.last().map_or(position, |e| e.seq);
                    if batch.is_empty() {
                        tokio::task::yield_now().await;
                    }
                }
                seen.len()
            })
        };
        for w in writers {
            w.await.unwrap();
        }
        // If a position had been skipped, the reader would wait forever: check
        // against the table instead of hanging.
        let read = tokio::time::timeout(std::time::Duration::from_secs(60), reader).await;
        let mut conn = db.read().await.unwrap();
        let total = events::all_after(&mut conn, 0, 10_000).await.unwrap().len();
        assert_eq!(total, WRITERS * PER_WRITER);
        assert_eq!(read.expect("the reader saw every event by following positions").unwrap(), total);
    }
}
