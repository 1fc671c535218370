//! The store's one test suite, run on both backends: every test below runs once
//! against a real SQLite file and once against a real PostgreSQL database (a
//! fresh database in the cluster the test command started, or in one that
//! `ontask-testkit` starts; see `crates/testkit/src/pg.rs`).
use chrono::{DateTime, SubsecRound, Utc};
use ontask_domain::{
    Event, EventEnvelope, EventMetadata, Priority, Tags, Task, TaskDraft, TaskSnapshot, TaskState, Title, UserId,
};
use ontask_store::users::UserRow;
use ontask_store::{Db, DbOptions, WriteTx, tasks, users};

mod accounts;
mod events_log;
mod group_commit;
mod outbound;
mod projects_table;
mod retention;
mod schedule;
mod schema;
mod tasks_table;

/// Defines each test once and runs it on both backends: `<module>::sqlite::<name>`
/// and `<module>::postgres::<name>`.
#[macro_export]
macro_rules! on_both_backends {
    ($(async fn $name:ident($db:ident: Db) $body:block)*) => {
        $(async fn $name($db: Db) $body)*

        mod sqlite {
            $(#[tokio::test]
            async fn $name() {
                let t = $crate::TestDb::sqlite().await;
                super::$name(t.db.clone()).await;
            })*
        }

        mod postgres {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() {
                let t = $crate::TestDb::postgres().await;
                super::$name(t.db.clone()).await;
            })*
        }
    };
}

/// A migrated database and what keeps it alive.
pub struct TestDb {
    pub db: Db,
    _sqlite_dir: Option<tempfile::TempDir>,
    _postgres: Option<ontask_testkit::pg::TestDatabase>,
}

impl TestDb {
    pub async fn sqlite() -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let url = format!("sqlite://{}?mode=rwc", dir.path().join("test.db").display());
        Self { db: connect(&url).await, _sqlite_dir: Some(dir), _postgres: None }
    }

    pub async fn postgres() -> Self {
        let database = ontask_testkit::pg::database().expect("a PostgreSQL test database");
        let mut options = DbOptions::new(database.url());
        options.max_connections = 8;
        let db = Db::connect(&options).await.expect("connect");
        db.migrate().await.expect("migrate");
        Self { db, _sqlite_dir: None, _postgres: Some(database) }
    }
}

async fn connect(url: &str) -> Db {
    let db = Db::connect(&DbOptions::new(url)).await.expect("connect");
    db.migrate().await.expect("migrate");
    db
}

pub fn now() -> DateTime<Utc> {
    Utc::now().trunc_subsecs(3)
}

pub async fn user(db: &Db) -> UserId {
    let id = UserId::new();
    let mut tx = db.begin().await.unwrap();
    users::insert(
        &mut tx,
        &UserRow {
            id,
            email: format!("{id}@example.com"),
            name: String::new(),
            password_hash: None,
            role: ontask_domain::Role::User,
            external_subject: None,
            created_at: now(),
            session_generation: 0,
            timezone: None,
        },
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    id
}

/// Inserts tasks (without events) in one transaction.
pub async fn insert_all(db: &Db, all: &[TaskSnapshot]) {
    let mut tx = db.begin().await.unwrap();
    for t in all {
        tasks::insert(&mut tx, t).await.unwrap();
    }
    tx.commit().await.unwrap();
}

pub fn task(owner: UserId, title: &str) -> TaskSnapshot {
    task_with(owner, TaskDraft { title: Some(Title::parse(title).unwrap()), ..Default::default() })
}

pub fn task_with(owner: UserId, draft: TaskDraft) -> TaskSnapshot {
    let at = ontask_domain::Placement::project(home(owner));
    TaskSnapshot::from(&Task::create(owner, at, draft, now()).unwrap())
}

/// The project the store tests put each owner's tasks in (the store does not
/// need the project's row; the application keeps them in step).
pub fn home(owner: UserId) -> ontask_domain::ProjectId {
    ontask_domain::ProjectId::from_uuid(owner.as_uuid())
}

pub fn tagged(owner: UserId, title: &str, priority: Priority, tags: &[&str]) -> TaskSnapshot {
    task_with(
        owner,
        TaskDraft {
            title: Some(Title::parse(title).unwrap()),
            priority,
            tags: Tags::parse(tags).unwrap(),
            ..Default::default()
        },
    )
}

pub fn created_event(owner: UserId, snap: &TaskSnapshot) -> EventEnvelope {
    EventEnvelope::new(
        Event::TaskCreated(TaskState { task: snap.clone() }),
        "test",
        owner,
        EventMetadata { correlation_id: "c1".into(), ..Default::default() },
    )
}

/// Inserts a task with its `task.created` event in one transaction.
pub async fn insert_with_event(db: &Db, snap: &TaskSnapshot) -> i64 {
    let mut tx: WriteTx = db.begin().await.unwrap();
    let seq = tasks::insert_with_event(&mut tx, snap, &created_event(snap.owner_id, snap)).await.unwrap();
    tx.commit().await.unwrap();
    seq
}
