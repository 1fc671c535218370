//! Store tests against a real SQLite file.
use chrono::{SubsecRound, Utc};
use ontask_domain::{EventEnvelope, EventMetadata, EventType, Task, TaskDraft, TaskSnapshot, Title, UserId};
use ontask_store::tasks::{SortKey, TaskQuery};
use ontask_store::users::UserRow;
use ontask_store::{Db, DbOptions, events, tasks, users};

struct TestDb {
    db: Db,
    _dir: tempdir::TempDir,
}

mod tempdir {
    /// A directory removed on drop.
    pub struct TempDir(pub std::path::PathBuf);
    impl TempDir {
        pub fn new() -> Self {
            let dir = std::env::temp_dir().join(format!("ontask-store-{}", uuid::Uuid::now_v7()));
            std::fs::create_dir_all(&dir).expect("create temp dir");
            Self(dir)
        }
    }
    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

async fn test_db() -> TestDb {
    let dir = tempdir::TempDir::new();
    let url = format!("sqlite://{}?mode=rwc", dir.0.join("test.db").display());
    let db = Db::connect(&DbOptions::new(url)).await.expect("connect");
    db.migrate().await.expect("migrate");
    TestDb { db, _dir: dir }
}

async fn user(db: &Db) -> UserId {
    let id = UserId::new();
    let mut tx = db.begin().await.unwrap();
    users::insert(
        &mut tx,
        &UserRow {
            id,
            email: format!("{id}@example.com"),
            name: String::new(),
            password_hash: None,
            role: "user".into(),
            external_subject: None,
            created_at: Utc::now(),
        },
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    id
}

fn task(owner: UserId, title: &str) -> TaskSnapshot {
    let draft = TaskDraft { title: Some(Title::parse(title).unwrap()), ..Default::default() };
    TaskSnapshot::from(&Task::create(owner, draft, Utc::now().trunc_subsecs(3)).unwrap())
}

#[tokio::test]
async fn task_and_event_commit_together_and_read_back() {
    let t = test_db().await;
    let owner = user(&t.db).await;
    let snap = task(owner, "Pay rent");
    let mut tx = t.db.begin().await.unwrap();
    tasks::insert(&mut tx, &snap).await.unwrap();
    let event = EventEnvelope::new(
        EventType::TaskCreated,
        "test",
        owner,
        Some(snap.id),
        serde_json::json!({"task": snap}),
        EventMetadata { correlation_id: "c1".into(), ..Default::default() },
    );
    let seq = events::append(&mut tx, &event).await.unwrap();
    tx.commit().await.unwrap();

    let mut conn = t.db.read().await.unwrap();
    assert_eq!(tasks::get(&mut conn, owner, snap.id).await.unwrap(), Some(snap.clone()));
    let stranger = UserId::new();
    assert_eq!(tasks::get(&mut conn, stranger, snap.id).await.unwrap(), None);
    let pending = events::unpublished(&mut conn, 10).await.unwrap();
    assert_eq!(pending.len(), 1);
    assert_eq!(pending[0].seq, seq);
    assert_eq!(pending[0].envelope, event);
}

#[tokio::test]
async fn rolled_back_transaction_leaves_no_event() {
    let t = test_db().await;
    let owner = user(&t.db).await;
    let snap = task(owner, "x");
    let mut tx = t.db.begin().await.unwrap();
    tasks::insert(&mut tx, &snap).await.unwrap();
    drop(tx);
    let mut conn = t.db.read().await.unwrap();
    assert_eq!(tasks::get(&mut conn, owner, snap.id).await.unwrap(), None);
    assert!(events::unpublished(&mut conn, 10).await.unwrap().is_empty());
}

#[tokio::test]
async fn full_text_search_and_keyset_pages() {
    let t = test_db().await;
    let owner = user(&t.db).await;
    let mut tx = t.db.begin().await.unwrap();
    for i in 0..25 {
        let title = if i % 5 == 0 { format!("Buy milk {i}") } else { format!("Other thing {i}") };
        tasks::insert(&mut tx, &task(owner, &title)).await.unwrap();
    }
    tx.commit().await.unwrap();
    let mut conn = t.db.read().await.unwrap();
    let q = TaskQuery { text: Some("mil".into()), limit: 50, ..Default::default() };
    assert_eq!(tasks::list(&mut conn, owner, &q).await.unwrap().len(), 5);
    let q = TaskQuery { text: Some("\"unbalanced AND (".into()), limit: 50, ..Default::default() };
    assert!(tasks::list(&mut conn, owner, &q).await.unwrap().is_empty());

    let mut seen = Vec::new();
    let mut after = None;
    loop {
        let q = TaskQuery {
            sort: SortKey::Created,
            descending: true,
            limit: 10,
            after: after.clone(),
            ..Default::default()
        };
        let page = tasks::list(&mut conn, owner, &q).await.unwrap();
        if page.is_empty() {
            break;
        }
        let last = page.last().unwrap();
        after = Some((SortKey::Created.key_of(last, true), last.id.to_string()));
        seen.extend(page.into_iter().map(|t| t.id));
    }
    assert_eq!(seen.len(), 25);
    let mut dedup = seen.clone();
    dedup.sort();
    dedup.dedup();
    assert_eq!(dedup.len(), 25, "no task appears on two pages");
}
