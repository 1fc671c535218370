//! The tasks table: writes with optimistic concurrency, every list filter and
//! sort with keyset pages, search, tags and recurrence links.
use chrono::Duration;
use ontask_domain::{Due, Priority, Status, TaskDraft, TaskSnapshot, Title};
use ontask_store::tasks::{self, SortKey, TaskQuery};
use ontask_store::{Backend, Db, StoreError};

use crate::{created_event, insert_all, now, on_both_backends, tagged, task, task_with, user};

async fn list(db: &Db, owner: ontask_domain::UserId, q: TaskQuery) -> Vec<String> {
    let mut conn = db.read().await.unwrap();
    let q = TaskQuery { limit: if q.limit == 0 { 100 } else { q.limit }, ..q };
    tasks::list(&mut conn, &[crate::home(owner)], &q).await.unwrap().into_iter().map(|t| t.title).collect()
}

fn due_in(owner: ontask_domain::UserId, title: &str, hours: i64) -> TaskSnapshot {
    let at = (now() + Duration::hours(hours)).to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    task_with(
        owner,
        TaskDraft {
            title: Some(Title::parse(title).unwrap()),
            due: Some(Due::parse(&at).unwrap()),
            ..Default::default()
        },
    )
}

/// Follows the keyset cursor page by page and returns the titles in order.
async fn walk(db: &Db, owner: ontask_domain::UserId, sort: SortKey, descending: bool, page: i64) -> Vec<String> {
    let mut conn = db.read().await.unwrap();
    let mut out = Vec::new();
    let mut after = None;
    loop {
        let q = TaskQuery { sort, descending, limit: page, after: after.clone(), ..Default::default() };
        let rows = tasks::list(&mut conn, &[crate::home(owner)], &q).await.unwrap();
        let Some(last) = rows.last() else { break };
        after = Some((sort.key_of(last, descending), last.id.to_string()));
        out.extend(rows.into_iter().map(|t| t.title));
    }
    out
}

on_both_backends! {
    async fn full_text_search_matches_word_prefixes_and_never_fails_on_syntax(db: Db) {
        let owner = user(&db).await;
        let other = user(&db).await;
        let mut all: Vec<TaskSnapshot> =
            (0..20).map(|i| task(owner, &if i % 5 == 0 { format!("Buy milk {i}") } else { format!("Other {i}") })).collect();
        all.push(task(other, "Buy milk for someone else"));
        insert_all(&db, &all).await;
        assert_eq!(list(&db, owner, TaskQuery { text: Some("mil".into()), ..Default::default() }).await.len(), 4);
        assert_eq!(list(&db, owner, TaskQuery { text: Some("BUY Milk".into()), ..Default::default() }).await.len(), 4);
        for hostile in ["\"unbalanced AND (", "a:* & !b | ')", "NEAR(x y)"] {
            let found = list(&db, owner, TaskQuery { text: Some(hostile.into()), ..Default::default() }).await;
            assert!(found.is_empty(), "{hostile:?} found {found:?}");
        }
        let no_words = list(&db, owner, TaskQuery { text: Some("-- ;".into()), ..Default::default() }).await;
        assert_eq!(no_words.len(), 20, "text without words filters nothing");
    }

    async fn search_follows_title_changes(db: Db) {
        let owner = user(&db).await;
        let mut t = task(owner, "Draft the report");
        insert_all(&db, std::slice::from_ref(&t)).await;
        t.title = "Send the invoice".into();
        t.version += 1;
        let mut tx = db.begin().await.unwrap();
        assert!(tasks::update(&mut tx, &t, t.version - 1).await.unwrap());
        tx.commit().await.unwrap();
        assert!(list(&db, owner, TaskQuery { text: Some("report".into()), ..Default::default() }).await.is_empty());
        assert_eq!(list(&db, owner, TaskQuery { text: Some("invoice".into()), ..Default::default() }).await.len(), 1);
    }

    // Tasks created through the writer's queue (whose thread indexes a batch's
    // text at once) and as members (indexed by their own statement) are all
    // found, also after a change and a delete, and SQLite's text index agrees
    // with the table row for row.
    async fn search_finds_tasks_however_they_were_written(db: Db) {
        let owner = user(&db).await;
        let queued: Vec<_> = (0..40)
            .map(|i| {
                let db = db.clone();
                tokio::spawn(async move {
                    let t = task(owner, &format!("Queued errand {i}"));
                    tasks::create(&db, &t, &created_event(owner, &t)).await.unwrap();
                    t
                })
            })
            .collect();
        let mut created = Vec::new();
        for q in queued {
            created.push(q.await.unwrap());
        }
        insert_all(&db, &[task(owner, "Member errand")]).await;
        let mut renamed = created[0].clone();
        renamed.title = "Renamed chore".into();
        renamed.version += 1;
        let mut tx = db.begin().await.unwrap();
        assert!(tasks::update(&mut tx, &renamed, renamed.version - 1).await.unwrap());
        assert!(tasks::delete(&mut tx, created[1].id).await.unwrap());
        tx.commit().await.unwrap();

        let search = |text: &str| TaskQuery { text: Some(text.into()), limit: 100, ..Default::default() };
        assert_eq!(list(&db, owner, search("errand")).await.len(), 39, "38 queued and the member");
        assert_eq!(list(&db, owner, search("chore")).await.len(), 1);
        assert_eq!(list(&db, owner, search("queued 17")).await.len(), 1);
        if db.backend() == Backend::Sqlite {
            let mut tx = db.begin().await.unwrap();
            sqlx::query("INSERT INTO tasks_fts (tasks_fts, rank) VALUES ('integrity-check', 1)")
                .execute(tx.conn())
                .await
                .expect("the text index matches the tasks table");
            tx.commit().await.unwrap();
        }
    }

    async fn filters_combine(db: Db) {
        let owner = user(&db).await;
        let mut done = tagged(owner, "done home", Priority::High, &["home"]);
        done.status = Status::Completed;
        done.completed_at = Some(now());
        insert_all(&db, &[
            tagged(owner, "home high", Priority::High, &["home", "errand"]),
            tagged(owner, "home low", Priority::Low, &["home"]),
            tagged(owner, "work high", Priority::High, &["work"]),
            done,
        ]).await;
        let mut q = TaskQuery { tags: vec!["home".into()], ..Default::default() };
        assert_eq!(list(&db, owner, q.clone()).await.len(), 3);
        q.status = Some(Status::Open);
        assert_eq!(list(&db, owner, q.clone()).await.len(), 2);
        q.priorities = vec![Priority::High];
        assert_eq!(list(&db, owner, q.clone()).await, vec!["home high"]);
        let both = TaskQuery { tags: vec!["home".into(), "errand".into()], ..Default::default() };
        assert_eq!(list(&db, owner, both).await, vec!["home high"], "every tag must match");
        let either = TaskQuery { priorities: vec![Priority::High, Priority::Low], status: Some(Status::Open), ..Default::default() };
        assert_eq!(list(&db, owner, either).await.len(), 3);

        let mut conn = db.read().await.unwrap();
        let counts = tasks::tag_counts(&mut conn, &[crate::home(owner)]).await.unwrap();
        let home = counts.iter().find(|c| c.tag == "home").unwrap();
        assert_eq!((home.tasks, home.open), (3, 2));
    }

    // The row's `tags` text only narrows a tag filter: a tag that holds
    // another one as a quoted substring is not a match.
    async fn a_tag_filter_matches_whole_tags_only(db: Db) {
        let owner = user(&db).await;
        let mut lookalike = tagged(owner, "lookalike", Priority::None, &[]);
        lookalike.tags = vec!["a\"home".into(), "x".into()];
        insert_all(&db, &[tagged(owner, "home", Priority::None, &["home"]), lookalike]).await;
        let home = TaskQuery { tags: vec!["home".into()], ..Default::default() };
        assert_eq!(list(&db, owner, home).await, vec!["home"]);
        let quoted = TaskQuery { tags: vec!["a\"home".into()], ..Default::default() };
        assert_eq!(list(&db, owner, quoted).await, vec!["lookalike"]);
    }

    // A search with few matches reads them and sorts (`Plan::TextMatches`),
    // one with many walks the sort index: both page through the same tasks
    // in the same order, over a transaction's connection and the committed state.
    async fn rare_and_common_searches_page_in_order(db: Db) {
        let owner = user(&db).await;
        let mut all = Vec::new();
        for i in 0..700_i64 {
            let title = if i % 10 == 0 { format!("common rare t{i:04}") } else { format!("common t{i:04}") };
            let mut t = if i % 3 == 0 { task(owner, &title) } else { due_in(owner, &title, i % 50 - 25) };
            t.position = (i * 7919) % 700;
            all.push(t);
        }
        insert_all(&db, &all).await;
        for (word, sort) in [("rare", SortKey::Position), ("rare", SortKey::Due), ("common", SortKey::Position),
            ("common", SortKey::Due)]
        {
            let mut expected: Vec<&TaskSnapshot> = all.iter().filter(|t| t.title.contains(word)).collect();
            expected.sort_by_key(|t| (sort.key_of(t, false), t.id.to_string()));
            let expected: Vec<String> = expected.iter().map(|t| t.title.clone()).collect();

            let mut seen = Vec::new();
            let mut after = None;
            loop {
                let q =
                    TaskQuery { text: Some(word.into()), sort, limit: 30, after: after.clone(), ..Default::default() };
                let committed = tasks::list_committed(&db, &[crate::home(owner)], &q).await.unwrap();
                let mut conn = db.read().await.unwrap();
                let in_conn = tasks::list(&mut conn, &[crate::home(owner)], &q).await.unwrap();
                assert_eq!(committed, in_conn);
                let Some(last) = committed.last() else { break };
                after = Some((sort.key_of(last, false), last.id.to_string()));
                seen.extend(committed.into_iter().map(|t| t.title));
            }
            assert_eq!(seen, expected, "q={word} sort={sort:?}");
        }
    }

    async fn due_ranges_and_overdue(db: Db) {
        let owner = user(&db).await;
        let mut late_done = due_in(owner, "late but done", -3);
        late_done.status = Status::Completed;
        insert_all(&db, &[
            due_in(owner, "late", -2),
            due_in(owner, "soon", 2),
            due_in(owner, "later", 48),
            task(owner, "whenever"),
            late_done,
        ]).await;
        let overdue = list(&db, owner, TaskQuery { overdue_at: Some(now()), ..Default::default() }).await;
        assert_eq!(overdue, vec!["late"]);
        let window = TaskQuery {
            due_after: Some(now()),
            due_before: Some(now() + Duration::hours(24)),
            ..Default::default()
        };
        assert_eq!(list(&db, owner, window).await, vec!["soon"]);
    }

    // Past the count where an overdue list walks the sort index instead of
    // sorting the range (`FEW`), pages hold the same tasks in
    // the same order, over a transaction's connection and the committed state.
    async fn a_wide_overdue_range_pages_in_order(db: Db) {
        let owner = user(&db).await;
        let mut all = Vec::new();
        for i in 0..1300_i64 {
            let mut t = due_in(owner, &format!("t{i:04}"), if i % 2 == 0 { -1 - i % 5 } else { 1 + i % 5 });
            t.position = (i * 7919) % 1300;
            if i % 13 == 0 {
                t.status = Status::Completed;
            }
            all.push(t);
        }
        insert_all(&db, &all).await;
        let mut expected: Vec<&TaskSnapshot> =
            all.iter().filter(|t| t.status == Status::Open && t.due_at.is_some_and(|d| d < now())).collect();
        expected.sort_by_key(|t| t.position);
        let expected: Vec<String> = expected.iter().map(|t| t.title.clone()).collect();
        assert!(expected.len() > 500, "the range is wide: {}", expected.len());

        let mut seen = Vec::new();
        let mut after = None;
        loop {
            let q = TaskQuery { overdue_at: Some(now()), limit: 50, after: after.clone(), ..Default::default() };
            let committed = tasks::list_committed(&db, &[crate::home(owner)], &q).await.unwrap();
            let mut conn = db.read().await.unwrap();
            let in_conn = tasks::list(&mut conn, &[crate::home(owner)], &q).await.unwrap();
            assert_eq!(committed, in_conn);
            let Some(last) = committed.last() else { break };
            after = Some((SortKey::Position.key_of(last, false), last.id.to_string()));
            seen.extend(committed.into_iter().map(|t| t.title));
        }
        assert_eq!(seen, expected);
    }

    async fn every_sort_pages_without_gaps_or_repeats(db: Db) {
        let owner = user(&db).await;
        let mut all = Vec::new();
        for i in 0..23 {
            let mut t = if i % 3 == 0 { task(owner, &format!("t{i:02}")) } else { due_in(owner, &format!("t{i:02}"), i % 7) };
            t.priority = [Priority::Low, Priority::Medium, Priority::High][i as usize % 3];
            t.position = (i * 7) % 23;
            all.push(t);
        }
        insert_all(&db, &all).await;
        for sort in [SortKey::Due, SortKey::Priority, SortKey::Created, SortKey::Updated, SortKey::Position] {
            for descending in [false, true] {
                let whole = list(&db, owner, TaskQuery { sort, descending, limit: 100, ..Default::default() }).await;
                assert_eq!(whole.len(), 23);
                let paged = walk(&db, owner, sort, descending, 4).await;
                assert_eq!(paged, whole, "pages of 4 agree with one page ({sort:?}, descending {descending})");
            }
        }
        let by_due = list(&db, owner, TaskQuery { sort: SortKey::Due, limit: 100, ..Default::default() }).await;
        assert!(by_due[15..].iter().all(|t| ["t00", "t03", "t06", "t09", "t12", "t15", "t18", "t21"].contains(&t.as_str())),
            "tasks without a due sort last: {by_due:?}");
        let by_due_desc = list(&db, owner, TaskQuery { sort: SortKey::Due, descending: true, limit: 100, ..Default::default() }).await;
        assert!(by_due_desc[15..].iter().all(|t| by_due[15..].contains(t)), "…both ways: {by_due_desc:?}");
    }

    async fn updates_are_conditional_on_the_version(db: Db) {
        let owner = user(&db).await;
        let mut t = task(owner, "v1");
        insert_all(&db, std::slice::from_ref(&t)).await;
        t.title = "v2".into();
        t.version += 1;
        let mut tx = db.begin().await.unwrap();
        assert!(tasks::update(&mut tx, &t, t.version - 1).await.unwrap());
        let mut stale = t.clone();
        stale.title = "lost update".into();
        assert!(!tasks::update(&mut tx, &stale, t.version - 1).await.unwrap(), "a stale version writes nothing");
        assert!(!tasks::delete(&mut tx, ontask_domain::TaskId::new()).await.unwrap(), "no such task");
        tx.commit().await.unwrap();
        let mut conn = db.read().await.unwrap();
        assert_eq!(tasks::get(&mut conn, t.id).await.unwrap().unwrap().title, "v2");
        drop(conn);
        let mut tx = db.begin().await.unwrap();
        assert!(tasks::delete(&mut tx, t.id).await.unwrap());
        tx.commit().await.unwrap();
        let mut conn = db.read().await.unwrap();
        assert_eq!(tasks::get(&mut conn, t.id).await.unwrap(), None);
    }

    // A rendered page is the committed page, its JSON the snapshot's, and a
    // remembered rendering gives way to the task's next version.
    async fn a_rendered_page_is_the_committed_page_and_follows_each_change(db: Db) {
        let owner = user(&db).await;
        let all: Vec<TaskSnapshot> = (0..12).map(|i| task(owner, &format!("t{i:02}"))).collect();
        insert_all(&db, &all).await;
        let q = TaskQuery { limit: 100, ..Default::default() };
        let projects = [crate::home(owner)];
        let rendered_page = || async { tasks::list_rendered(&db, &projects, &q).await.unwrap() };
        let check = |rendered: &[std::sync::Arc<tasks::RenderedTask>], committed: &[TaskSnapshot]| {
            let snapshots: Vec<&TaskSnapshot> = rendered.iter().map(|r| &r.snapshot).collect();
            assert_eq!(snapshots, committed.iter().collect::<Vec<_>>());
            for r in rendered {
                assert_eq!(r.json.get(), serde_json::to_string(&r.snapshot).unwrap());
            }
        };
        let first = rendered_page().await;
        check(&first, &tasks::list_committed(&db, &projects, &q).await.unwrap());
        let again = rendered_page().await;
        assert!(first.iter().zip(&again).all(|(a, b)| std::sync::Arc::ptr_eq(a, b)), "a listed version is remembered");

        let mut renamed = all[3].clone();
        renamed.title = "renamed".into();
        renamed.version += 1;
        let mut tx = db.begin().await.unwrap();
        assert!(tasks::update(&mut tx, &renamed, renamed.version - 1).await.unwrap());
        assert!(tasks::delete(&mut tx, all[5].id).await.unwrap());
        tx.commit().await.unwrap();
        let after = rendered_page().await;
        check(&after, &tasks::list_committed(&db, &projects, &q).await.unwrap());
        let shown = after.iter().find(|r| r.snapshot.id == renamed.id).unwrap();
        assert_eq!(shown.snapshot, renamed);
        assert!(shown.json.get().contains("\"title\":\"renamed\""), "{}", shown.json.get());
        assert!(after.iter().all(|r| r.snapshot.id != all[5].id), "a deleted task is not listed");
    }

    async fn one_next_occurrence_per_completed_task(db: Db) {
        let owner = user(&db).await;
        let previous = task(owner, "water plants");
        let mut next = task(owner, "water plants");
        next.recurs_from = Some(previous.id);
        let mut again = task(owner, "water plants");
        again.recurs_from = Some(previous.id);
        insert_all(&db, &[previous.clone(), next.clone()]).await;
        let mut tx = db.begin().await.unwrap();
        let err = tasks::insert(&mut tx, &again).await.unwrap_err();
        assert!(matches!(err, StoreError::Conflict(_)), "{err:?}");
        drop(tx);
        let mut conn = db.read().await.unwrap();
        assert_eq!(tasks::find_next_occurrence(&mut conn, previous.id).await.unwrap().map(|t| t.id), Some(next.id));
        let everyone = tasks::all_after(&mut conn, None, 10).await.unwrap();
        assert_eq!(everyone.len(), 2);
    }
}
