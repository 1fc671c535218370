//! Many writers at once, some of them failing: each keeps its own outcome, and
//! the log stays in commit order. Queued writes (`tasks::create`) are
//! group-committed on both backends; members (`Db::begin`) are too on SQLite
//! (one transaction, a savepoint each), and have a transaction each on
//! PostgreSQL. The tests hold for both.
use std::collections::HashSet;
use std::sync::Arc;

use ontask_store::{Db, DbOptions, StoreError, events, tasks};
use tokio::sync::Barrier;

use crate::{created_event, insert_with_event, on_both_backends, task, user};

const WRITERS: usize = 48;

/// One writer's work: a task and its event. Of every six writers one
/// commits, one fails after it (a duplicate id, as a constraint violation
/// would), one drops its transaction, and one fails inside the create itself
/// (its event's id is taken, so the task row sent in the same round trip must
/// go); the other two create through the writer's queue (`tasks::create`),
/// one of them with a taken event id.
async fn write(
    db: Db,
    n: usize,
    owner: ontask_domain::UserId,
    taken: ontask_domain::TaskSnapshot,
    taken_event: uuid::Uuid,
) -> Result<i64, StoreError> {
    let snap = task(owner, &format!("writer {n}"));
    let mut event = created_event(owner, &snap);
    if n % 6 == 3 || n % 6 == 5 {
        event.event_id = taken_event;
    }
    if n % 6 >= 4 {
        return tasks::create(&db, &snap, &event).await;
    }
    let mut tx = db.begin().await?;
    let seq = tasks::insert_with_event(&mut tx, &snap, &event).await?;
    match n % 6 {
        // A member whose second statement fails: its first one must go too.
        1 => {
            tasks::insert(&mut tx, &taken).await?;
            unreachable!("the duplicate insert is refused");
        }
        // A member that gives up (an error elsewhere, a cancelled request).
        2 => {
            drop(tx);
            Err(StoreError::Conflict(format!("writer {n} gave up")))
        }
        _ => {
            tx.commit().await?;
            Ok(seq)
        }
    }
}

/// A task with its event, committed: writers that reuse its id or its event's
/// id fail on a duplicate key.
async fn already_there(db: &Db, owner: ontask_domain::UserId) -> (ontask_domain::TaskSnapshot, uuid::Uuid) {
    let taken = task(owner, "already there");
    let event = created_event(owner, &taken);
    let mut tx = db.begin().await.unwrap();
    tasks::insert_with_event(&mut tx, &taken, &event).await.unwrap();
    tx.commit().await.unwrap();
    (taken, event.event_id)
}

on_both_backends! {
    async fn concurrent_writers_keep_their_own_outcome(db: Db) {
        let owner = user(&db).await;
        let (taken, taken_event) = already_there(&db, owner).await;
        let before = events::heads(&mut db.read().await.unwrap()).await.unwrap().0;

        let start = Arc::new(Barrier::new(WRITERS));
        let writers: Vec<_> = (0..WRITERS)
            .map(|n| {
                let (db, start, taken) = (db.clone(), start.clone(), taken.clone());
                tokio::spawn(async move {
                    start.wait().await;
                    (n, write(db, n, owner, taken, taken_event).await)
                })
            })
            .collect();
        let mut committed = Vec::new();
        for writer in writers {
            let (n, outcome) = writer.await.expect("writer task");
            match (n % 6, outcome) {
                (0 | 4, Ok(seq)) => committed.push((n, seq)),
                (1..=3 | 5, Err(StoreError::Conflict(_))) => {}
                (_, other) => panic!("writer {n}: unexpected outcome {other:?}"),
            }
        }
        assert_eq!(committed.len(), WRITERS / 3);

        // Exactly the committed writers' tasks and events are there, nothing of the failed ones.
        let mut conn = db.read().await.unwrap();
        let log = events::range(&db, before, i64::MAX, 1000).await.unwrap();
        let titles: HashSet<String> =
            log.iter().map(|e| e.envelope.event.task().unwrap().title.clone()).collect();
        let expected: HashSet<String> = committed.iter().map(|(n, _)| format!("writer {n}")).collect();
        assert_eq!(titles, expected);
        // Each writer's answer names its own event, and the log has no holes.
        let seqs: HashSet<i64> = committed.iter().map(|(_, seq)| *seq).collect();
        assert_eq!(seqs, log.iter().map(|e| e.seq).collect::<HashSet<_>>());
        let query = tasks::TaskQuery { limit: 1000, ..Default::default() };
        let listed = tasks::list(&mut conn, &[crate::home(owner)], &query).await.unwrap();
        assert_eq!(listed.len(), committed.len() + 1, "the committed tasks and the first one");
    }

    // More queued creates than one batch takes, every seventh with a taken
    // event id: those fail alone, with nothing of theirs left, and the rest
    // commit with their own positions.
    async fn queued_creates_beyond_a_batch_with_failures_keep_their_own_outcome(db: Db) {
        const CREATES: usize = 300;
        let owner = user(&db).await;
        let (_, taken_event) = already_there(&db, owner).await;
        let before = events::heads(&mut db.read().await.unwrap()).await.unwrap().0;
        let creates: Vec<_> = (0..CREATES)
            .map(|n| {
                let db = db.clone();
                tokio::spawn(async move {
                    let snap = task(owner, &format!("queued {n}"));
                    let mut event = created_event(owner, &snap);
                    if n % 7 == 3 {
                        event.event_id = taken_event;
                    }
                    (n, snap.id, tasks::create(&db, &snap, &event).await)
                })
            })
            .collect();
        let mut conn = db.read().await.unwrap();
        let mut positions = HashSet::new();
        for create in creates {
            let (n, id, outcome) = create.await.expect("create task");
            let stored = tasks::get(&mut conn, id).await.unwrap();
            match outcome {
                Ok(seq) if n % 7 != 3 => {
                    assert!(stored.is_some(), "create {n} answered {seq} and is there");
                    positions.insert(seq);
                }
                Err(StoreError::Conflict(_)) if n % 7 == 3 => assert!(stored.is_none(), "create {n} left its task"),
                other => panic!("create {n}: unexpected outcome {other:?}"),
            }
        }
        let log = events::range(&db, before, i64::MAX, 1000).await.unwrap();
        assert_eq!(positions, log.iter().map(|e| e.seq).collect::<HashSet<_>>());
        assert_eq!(positions.len(), (0..CREATES).filter(|n| n % 7 != 3).count());
    }

    // A reader that follows the log while queued creates (single, several
    // tasks at once, some failing), members and the relay's position all
    // commit at once never finds an event behind one it has already read:
    // `seq` order is commit order. Every committed create's events are in
    // the log, at the positions its write answered, in its own order.
    async fn a_reader_following_the_log_misses_nothing_while_batches_commit(db: Db) {
        const WRITERS: usize = 120;
        let owner = user(&db).await;
        let (_, taken_event) = already_there(&db, owner).await;
        let start = events::heads(&mut db.read().await.unwrap()).await.unwrap().0;
        let done = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let reader = {
            let (db, done) = (db.clone(), done.clone());
            tokio::spawn(async move {
                let mut seen = Vec::new();
                let mut after = start;
                loop {
                    let finished = done.load(std::sync::atomic::Ordering::SeqCst);
                    let mut conn = db.read().await.unwrap();
                    let next = events::all_after(&mut conn, after, 1000).await.unwrap();
                    after = next.last().map_or(after, |e| e.seq);
                    seen.extend(next.into_iter().map(|e| e.seq));
                    if finished {
                        return seen;
                    }
                    tokio::task::yield_now().await;
                }
            })
        };
        let writers: Vec<_> = (0..WRITERS)
            .map(|n| {
                let db = db.clone();
                tokio::spawn(async move {
                    let snap = task(owner, &format!("follow {n}"));
                    let mut event = created_event(owner, &snap);
                    match n % 5 {
                        // Two tasks in one write, the second one's event taken: neither stays.
                        0 | 1 => {
                            let other = task(owner, &format!("follow {n} too"));
                            let mut other_event = created_event(owner, &other);
                            if n % 5 == 1 {
                                other_event.event_id = taken_event;
                            }
                            let items = [
                                (snap.clone(), event, format!("key {n}")),
                                (other.clone(), other_event, format!("key {n} too")),
                            ];
                            let outcome = ontask_store::imports::create_tasks(&db, owner, &items, crate::now()).await;
                            (n, vec![snap.id, other.id], outcome.map(|()| Vec::new()))
                        }
                        2 => {
                            let mut tx = db.begin().await.unwrap();
                            let seq = tasks::insert_with_event(&mut tx, &snap, &event).await;
                            let outcome = match seq {
                                Ok(seq) => tx.commit().await.map(|()| vec![seq]),
                                Err(e) => Err(e),
                            };
                            (n, vec![snap.id], outcome)
                        }
                        3 => {
                            // The relay's position moves in the same batches.
                            events::record_published(&db, start, crate::now()).await.unwrap();
                            (n, vec![snap.id], tasks::create(&db, &snap, &event).await.map(|seq| vec![seq]))
                        }
                        _ => {
                            if n % 10 == 4 {
                                event.event_id = taken_event;
                            }
                            (n, vec![snap.id], tasks::create(&db, &snap, &event).await.map(|seq| vec![seq]))
                        }
                    }
                })
            })
            .collect();
        let mut committed = HashSet::new();
        let mut answered = HashSet::new();
        let mut conn = db.read().await.unwrap();
        for writer in writers {
            let (n, ids, outcome) = writer.await.expect("writer task");
            let fails = n % 5 == 1 || n % 10 == 4;
            for id in ids {
                let stored = tasks::get(&mut conn, id).await.unwrap();
                assert_eq!(stored.is_some(), !fails, "writer {n}: {outcome:?}");
                if !fails {
                    committed.insert(id);
                }
            }
            match outcome {
                Ok(seqs) if !fails => answered.extend(seqs),
                Err(StoreError::Conflict(_)) if fails => {}
                other => panic!("writer {n}: unexpected outcome {other:?}"),
            }
        }
        done.store(true, std::sync::atomic::Ordering::SeqCst);
        let seen = reader.await.unwrap();
        let log = events::range(&db, start, i64::MAX, 1000).await.unwrap();
        assert_eq!(seen, log.iter().map(|e| e.seq).collect::<Vec<_>>(), "the reader saw the whole log, in order");
        let logged: HashSet<_> = log.iter().filter_map(|e| e.envelope.task_id).collect();
        assert_eq!(logged, committed, "an event for every committed task and no other");
        let positions: HashSet<i64> = log.iter().map(|e| e.seq).collect();
        assert!(answered.is_subset(&positions), "each write's answer is its own event's position");
        // A write of two tasks has their events in its own order.
        for n in (0..WRITERS).filter(|n| n % 5 == 0) {
            let title = |e: &events::StoredEvent| e.envelope.event.task().unwrap().title.to_string();
            let first = log.iter().find(|e| title(e) == format!("follow {n}")).unwrap().seq;
            let second = log.iter().find(|e| title(e) == format!("follow {n} too")).unwrap().seq;
            assert!(first < second, "writer {n}: its events in its order");
        }
    }

    async fn a_write_after_a_dropped_one_starts_clean(db: Db) {
        let owner = user(&db).await;
        let dropped = task(owner, "dropped");
        {
            let mut tx = db.begin().await.unwrap();
            tasks::insert(&mut tx, &dropped).await.unwrap();
        }
        let kept = task(owner, "kept");
        insert_with_event(&db, &kept).await;
        let mut conn = db.read().await.unwrap();
        assert!(tasks::get(&mut conn, dropped.id).await.unwrap().is_none());
        assert!(tasks::get(&mut conn, kept.id).await.unwrap().is_some());
    }
}

/// A queued create that the writer cannot take in time fails as unavailable
/// and never runs later: the error leaves nothing behind.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_queued_create_that_waits_too_long_is_given_up_and_never_written() {
    let dir = tempfile::tempdir().unwrap();
    let mut options = DbOptions::new(format!("sqlite://{}?mode=rwc", dir.path().join("t.db").display()));
    options.acquire_timeout = std::time::Duration::from_millis(300);
    let db = Db::connect(&options).await.unwrap();
    db.migrate().await.unwrap();
    let owner = user(&db).await;
    // A write holds the connection longer than the queued create may wait.
    let holder = db.begin().await.unwrap();
    let late = task(owner, "late");
    let err = tasks::create(&db, &late, &created_event(owner, &late)).await.unwrap_err();
    assert!(err.is_unavailable(), "{err:?}");
    holder.commit().await.unwrap();
    // The next create goes through, and the given-up one is not there.
    let next = task(owner, "next");
    tasks::create(&db, &next, &created_event(owner, &next)).await.unwrap();
    let mut conn = db.read().await.unwrap();
    assert!(tasks::get(&mut conn, late.id).await.unwrap().is_none());
    assert!(tasks::get(&mut conn, next.id).await.unwrap().is_some());
}

/// Bursts of writes with a small WAL bound: the file never grows far past it,
/// though the writes add up to many times the bound.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sqlite_wal_stays_within_its_bound() {
    const LIMIT: u64 = 4 << 20;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("wal.db");
    let mut options = DbOptions::new(format!("sqlite://{}?mode=rwc", path.display()));
    options.wal_limit_bytes = LIMIT;
    let db = Db::connect(&options).await.unwrap();
    db.migrate().await.unwrap();
    let owner = user(&db).await;
    let wal = dir.path().join("wal.db-wal");
    let mut peak = 0;
    for round in 0..60 {
        let writers: Vec<_> = (0..64)
            .map(|n| {
                let db = db.clone();
                tokio::spawn(async move {
                    let mut snap = task(owner, &format!("round {round} writer {n}"));
                    snap.description = "x".repeat(2000);
                    // Half are members, half go through the writer's queue.
                    if n % 2 == 0 {
                        insert_with_event(&db, &snap).await;
                    } else {
                        tasks::create(&db, &snap, &created_event(owner, &snap)).await.unwrap();
                    }
                })
            })
            .collect();
        for w in writers {
            w.await.unwrap();
        }
        peak = peak.max(std::fs::metadata(&wal).map_or(0, |m| m.len()));
    }
    let database = std::fs::metadata(&path).unwrap().len();
    assert!(database > 2 * LIMIT, "the writes ({database} bytes) outgrew the bound, so it was tested");
    // A commit that passes the bound empties the file before the next write:
    // at most one batch past it.
    assert!(peak <= 2 * LIMIT, "WAL peaked at {peak} bytes with a bound of {LIMIT}");
    assert!(db.wal().is_some_and(|w| w.limit == LIMIT));
}
