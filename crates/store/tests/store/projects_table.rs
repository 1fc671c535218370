//! Projects, members and sections, and the task queries that projects bring:
//! lists over several projects, subtrees and ancestors, and the rows a
//! database from before projects leaves to adopt.
use ontask_domain::{Member, Name, Priority, Project, ProjectRole, Section, TaskId};
use ontask_store::tasks::{SortKey, TaskQuery};
use ontask_store::{Db, StoreError, projects, sections, tasks};

use crate::{insert_all, now, on_both_backends, task, user};

fn project(owner: ontask_domain::UserId, name: &str) -> Project {
    let draft = ontask_domain::ProjectDraft::parse(name, None, None, None).unwrap();
    Project::create(owner, draft, now())
}

async fn insert_project(db: &Db, p: &Project) {
    let mut tx = db.begin().await.unwrap();
    projects::insert(&mut tx, p).await.unwrap();
    tx.commit().await.unwrap();
}

on_both_backends! {
    async fn members_roles_and_what_each_member_sees(db: Db) {
        let (alice, bob) = (user(&db).await, user(&db).await);
        let home = project(alice, "Home");
        let mut trip = project(alice, "Trip");
        trip.position = home.position + 1;
        insert_project(&db, &home).await;
        insert_project(&db, &trip).await;

        let mut tx = db.begin().await.unwrap();
        let bob_in_trip = Member { project_id: trip.id, user_id: bob, role: ProjectRole::Viewer, added_at: now() };
        projects::add_member(&mut tx, &bob_in_trip).await.unwrap();
        tx.commit().await.unwrap();
        let mut tx = db.begin().await.unwrap();
        assert!(matches!(projects::add_member(&mut tx, &bob_in_trip).await, Err(StoreError::Conflict(_))));
        drop(tx);

        let mut conn = db.read().await.unwrap();
        assert_eq!(projects::role_of(&mut conn, trip.id, bob).await.unwrap(), Some(ProjectRole::Viewer));
        assert_eq!(projects::role_of(&mut conn, home.id, bob).await.unwrap(), None);
        assert_eq!(projects::visible_ids(&db, alice).await.unwrap(), vec![home.id, trip.id]);
        assert_eq!(projects::visible_ids(&db, bob).await.unwrap(), vec![trip.id]);
        let of_alice = projects::of_member(&mut conn, alice, false).await.unwrap();
        assert_eq!(of_alice.iter().map(|p| (p.project.name.as_str(), p.role, p.members)).collect::<Vec<_>>(), [
            ("Home", ProjectRole::Owner, 1),
            ("Trip", ProjectRole::Owner, 2)
        ]);
        let members = projects::members(&mut conn, trip.id).await.unwrap();
        assert_eq!(members.iter().map(|m| (m.member.user_id, m.member.role)).collect::<Vec<_>>(), [
            (alice, ProjectRole::Owner),
            (bob, ProjectRole::Viewer)
        ]);
        drop(conn);

        let mut tx = db.begin().await.unwrap();
        assert!(projects::set_role(&mut tx, trip.id, bob, ProjectRole::Editor).await.unwrap());
        let mut archived = trip.clone();
        archived.archived = true;
        archived.version += 1;
        assert!(projects::update(&mut tx, &archived, trip.version).await.unwrap());
        assert!(!projects::update(&mut tx, &archived, trip.version).await.unwrap(), "a stale version writes nothing");
        tx.commit().await.unwrap();
        let mut conn = db.read().await.unwrap();
        assert_eq!(projects::visible_ids(&db, bob).await.unwrap(), vec![], "an archived project leaves the lists");
        assert_eq!(projects::member_of(&mut conn, bob).await.unwrap(), vec![trip.id], "but not the membership");
        assert_eq!(projects::of_member(&mut conn, bob, true).await.unwrap()[0].role, ProjectRole::Editor);
        drop(conn);

        let mut tx = db.begin().await.unwrap();
        assert!(projects::remove_member(&mut tx, trip.id, bob).await.unwrap());
        assert!(projects::delete(&mut tx, home.id).await.unwrap());
        tx.commit().await.unwrap();
        let mut conn = db.read().await.unwrap();
        assert!(projects::member_of(&mut conn, bob).await.unwrap().is_empty());
        assert_eq!(projects::get(&mut conn, home.id).await.unwrap(), None);
        assert_eq!(projects::member_of(&mut conn, alice).await.unwrap(), vec![trip.id], "its memberships went with it");
    }

    async fn an_account_has_one_inbox_and_old_rows_are_found_for_adoption(db: Db) {
        let (alice, bob) = (user(&db).await, user(&db).await);
        let inbox = Project::inbox_of(alice, now());
        insert_project(&db, &inbox).await;
        let mut tx = db.begin().await.unwrap();
        let second = projects::insert(&mut tx, &Project::inbox_of(alice, now())).await;
        assert!(matches!(second, Err(StoreError::Conflict(_))), "{second:?}");
        drop(tx);
        let mut conn = db.read().await.unwrap();
        assert_eq!(projects::inbox_of(&mut conn, alice).await.unwrap(), Some(inbox));
        assert_eq!(projects::users_without_inbox(&mut conn, 10).await.unwrap(), vec![bob]);
        drop(conn);

        let mut old = task(bob, "from before projects");
        old.project_id = None;
        insert_all(&db, &[old.clone(), task(bob, "new")]).await;
        let mut conn = db.read().await.unwrap();
        let orphans = tasks::orphans(&mut conn, 10).await.unwrap();
        assert_eq!(orphans.iter().map(|t| t.id).collect::<Vec<_>>(), [old.id]);
    }

    async fn sections_keep_their_order(db: Db) {
        let alice = user(&db).await;
        let p = project(alice, "Board");
        insert_project(&db, &p).await;
        let doing = Section::create(p.id, Name::parse("Doing").unwrap(), Some(2), now());
        let todo = Section::create(p.id, Name::parse("To do").unwrap(), Some(1), now());
        let mut tx = db.begin().await.unwrap();
        sections::insert(&mut tx, &doing).await.unwrap();
        sections::insert(&mut tx, &todo).await.unwrap();
        let mut done = doing.clone();
        assert!(done.apply(Some(Name::parse("Done").unwrap()), Some(3), now()));
        assert!(sections::update(&mut tx, &done, doing.version).await.unwrap());
        tx.commit().await.unwrap();
        let mut conn = db.read().await.unwrap();
        let names: Vec<_> = sections::of_project(&mut conn, p.id).await.unwrap().into_iter().map(|s| s.name).collect();
        assert_eq!(names.iter().map(Name::as_str).collect::<Vec<_>>(), ["To do", "Done"]);
        assert_eq!(sections::get(&mut conn, done.id).await.unwrap(), Some(done.clone()));
        drop(conn);
        let mut tx = db.begin().await.unwrap();
        assert!(sections::delete(&mut tx, done.id).await.unwrap());
        tx.commit().await.unwrap();
        assert_eq!(sections::get(&mut db.read().await.unwrap(), done.id).await.unwrap(), None);
    }

    async fn a_list_over_several_projects_is_one_page_in_one_order(db: Db) {
        let (alice, bob) = (user(&db).await, user(&db).await);
        // Three projects' tasks, interleaved by priority and position.
        let mut all = Vec::new();
        for (i, owner) in [alice, bob, alice, bob, alice, bob, alice].into_iter().enumerate() {
            let mut t = task(owner, &format!("t{i}"));
            t.position = i as i64;
            t.priority = if i % 2 == 0 { Priority::High } else { Priority::Low };
            all.push(t);
        }
        let mut third = task(alice, "elsewhere");
        let elsewhere = ontask_domain::ProjectId::new();
        third.project_id = Some(elsewhere);
        third.position = 100;
        all.push(third.clone());
        insert_all(&db, &all).await;
        let projects = [crate::home(alice), crate::home(bob), elsewhere];
        let mut conn = db.read().await.unwrap();

        let by_position = TaskQuery { limit: 4, ..TaskQuery::default() };
        let page: Vec<_> = tasks::list(&mut conn, &projects, &by_position).await.unwrap();
        assert_eq!(page.iter().map(|t| t.title.as_str()).collect::<Vec<_>>(), ["t0", "t1", "t2", "t3"]);
        let last = page.last().unwrap();
        let next = TaskQuery { after: Some((last.position, last.id.to_string())), limit: 10, ..by_position.clone() };
        let rest: Vec<_> = tasks::list(&mut conn, &projects, &next).await.unwrap();
        assert_eq!(rest.iter().map(|t| t.title.as_str()).collect::<Vec<_>>(), ["t4", "t5", "t6", "elsewhere"]);

        let high_first = TaskQuery { sort: SortKey::Priority, descending: true, limit: 3, ..TaskQuery::default() };
        let high = tasks::list(&mut conn, &projects, &high_first).await.unwrap();
        assert!(high.iter().all(|t| t.priority == Priority::High), "{high:?}");
        let only_bob = tasks::list(&mut conn, &[crate::home(bob)], &TaskQuery { limit: 10, ..TaskQuery::default() }).await.unwrap();
        assert_eq!(only_bob.len(), 3);
        assert!(tasks::list(&mut conn, &[], &by_position).await.unwrap().is_empty());
        drop(conn);

        // The committed read (on SQLite without sqlx) answers the same pages.
        for query in [&by_position, &next, &high_first] {
            let committed = tasks::list_committed(&db, &projects, query).await.unwrap();
            assert_eq!(committed, tasks::list(&mut db.read().await.unwrap(), &projects, query).await.unwrap());
        }
        assert!(tasks::list_committed(&db, &[], &by_position).await.unwrap().is_empty());
    }

    async fn subtasks_are_found_below_and_above(db: Db) {
        let alice = user(&db).await;
        let root = task(alice, "root");
        let mut child = task(alice, "child");
        child.parent_id = Some(root.id);
        let mut grandchild = task(alice, "grandchild");
        grandchild.parent_id = Some(child.id);
        let mut done = task(alice, "done child");
        done.parent_id = Some(root.id);
        done.status = ontask_domain::Status::Completed;
        insert_all(&db, &[root.clone(), child.clone(), grandchild.clone(), done.clone()]).await;
        let mut conn = db.read().await.unwrap();
        let below: Vec<TaskId> = tasks::subtree(&mut conn, root.id).await.unwrap().iter().map(|t| t.id).collect();
        assert_eq!(below.len(), 3);
        assert_eq!(below.last(), Some(&grandchild.id), "parents come before their children");
        let above: Vec<TaskId> = tasks::ancestors(&mut conn, grandchild.id).await.unwrap().iter().map(|t| t.id).collect();
        assert_eq!(above, [child.id, root.id]);
        assert_eq!(tasks::progress(&mut conn, &[root.id, child.id]).await.unwrap().into_iter().collect::<std::collections::BTreeSet<_>>(),
            [(root.id, 2, 1), (child.id, 1, 0)].into_iter().collect());
        let top = TaskQuery { parent: Some(None), limit: 10, ..TaskQuery::default() };
        assert_eq!(tasks::list(&mut conn, &[crate::home(alice)], &top).await.unwrap().len(), 1);
        let children = TaskQuery { parent: Some(Some(root.id)), limit: 10, ..TaskQuery::default() };
        assert_eq!(tasks::list(&mut conn, &[crate::home(alice)], &children).await.unwrap().len(), 2);
    }
}
