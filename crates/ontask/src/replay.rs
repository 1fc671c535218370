//! `ontask events replay`: rebuilds every task and project from the event
//! log alone and compares the result with the tables. The log is the source
//! of truth; a difference means state changed without an event.
use std::collections::{BTreeMap, BTreeSet};

use ontask_domain::{Event, Project, ProjectId, ProjectRole, TaskId, TaskSnapshot, UserId};
use ontask_store::{Db, events, projects, tasks, users};

pub struct ReplayReport {
    pub events: usize,
    pub tasks: usize,
    pub projects: usize,
    pub differences: Vec<String>,
}

/// What the log says exists.
#[derive(Default)]
struct Rebuilt {
    tasks: BTreeMap<TaskId, TaskSnapshot>,
    projects: BTreeMap<ProjectId, Project>,
    members: BTreeMap<(ProjectId, UserId), ProjectRole>,
}

impl Rebuilt {
    fn apply(&mut self, seq: i64, event: Event) -> anyhow::Result<()> {
        match event {
            Event::TaskDeleted(deleted) => {
                self.tasks.remove(&deleted.task.id);
            }
            Event::TaskCreated(s) | Event::TaskCompleted(s) | Event::TaskReopened(s) => {
                self.tasks.insert(s.task.id, s.task);
            }
            Event::TaskUpdated(u) => {
                self.tasks.insert(u.task.id, u.task);
            }
            Event::TaskMoved(m) => {
                self.tasks.insert(m.task.id, m.task);
            }
            Event::TaskAssigned(a) => {
                self.tasks.insert(a.task.id, a.task);
            }
            Event::ProjectCreated(p) => {
                self.members.insert((p.project.id, p.project.owner_id), ProjectRole::Owner);
                self.projects.insert(p.project.id, p.project);
            }
            Event::ProjectUpdated(p) | Event::ProjectArchived(p) | Event::ProjectUnarchived(p) => {
                self.projects.insert(p.project.id, p.project);
            }
            Event::ProjectDeleted(p) => {
                self.projects.remove(&p.project.id);
                self.members.retain(|(project, _), _| *project != p.project.id);
            }
            Event::MemberAdded(m) | Event::MemberRoleChanged(m) => {
                self.members.insert((m.member.project_id, m.member.user_id), m.member.role);
            }
            Event::MemberRemoved(m) => {
                self.members.remove(&(m.member.project_id, m.member.user_id));
            }
            Event::Malformed(m) if m.kind.is_task_change() || m.kind.as_str().starts_with("project.") => {
                anyhow::bail!("event {seq} ({}) cannot be replayed: {}", m.kind, m.error)
            }
            // Sections are a project's layout, comments a task's talk: their
            // rows go with the project or the task.
            Event::CommentAdded(_)
            | Event::CommentEdited(_)
            | Event::CommentDeleted(_)
            | Event::SectionCreated(_)
            | Event::SectionUpdated(_)
            | Event::SectionDeleted(_)
            | Event::ReminderDue(_)
            | Event::ReminderSent(_)
            | Event::ImportProgressed(_)
            | Event::Malformed(_)
            | Event::Other(_) => {}
        }
        Ok(())
    }
}

pub async fn replay(db: &Db) -> anyhow::Result<ReplayReport> {
    let mut rebuilt = Rebuilt::default();
    let mut conn = db.read().await?;
    let mut after = 0;
    let mut count = 0;
    loop {
        let page = events::all_after(&mut conn, after, 1000).await?;
        let Some(last) = page.last() else { break };
        after = last.seq;
        count += page.len();
        for event in page {
            rebuilt.apply(event.seq, event.envelope.event)?;
        }
    }
    let mut differences = Vec::new();

    let mut stored: BTreeMap<TaskId, TaskSnapshot> = BTreeMap::new();
    let mut after_id = None;
    loop {
        let page = tasks::all_after(&mut conn, after_id, 1000).await?;
        let Some(last) = page.last() else { break };
        after_id = Some(last.id);
        stored.extend(page.into_iter().map(|t| (t.id, t)));
    }
    compare("task", &rebuilt.tasks, &stored, |t| t.version, &mut differences);

    let mut stored_projects = BTreeMap::new();
    let mut stored_members = BTreeSet::new();
    let mut page = users::all_ids(&mut conn).await?;
    for user in page.drain(..) {
        for p in projects::of_member(&mut conn, user, false)
            .await?
            .into_iter()
            .chain(projects::of_member(&mut conn, user, true).await?)
        {
            stored_members.insert((p.project.id, user, p.role));
            stored_projects.insert(p.project.id, p.project);
        }
    }
    compare("project", &rebuilt.projects, &stored_projects, |p| p.version, &mut differences);
    let rebuilt_members: BTreeSet<_> = rebuilt.members.iter().map(|((p, u), r)| (*p, *u, *r)).collect();
    for (project, user, role) in rebuilt_members.symmetric_difference(&stored_members) {
        let side = if stored_members.contains(&(*project, *user, *role)) { "table" } else { "log" };
        differences.push(format!("member {user} of project {project} as {} is only in the {side}", role.as_str()));
    }
    Ok(ReplayReport { events: count, tasks: rebuilt.tasks.len(), projects: rebuilt.projects.len(), differences })
}

/// Every difference between what the log rebuilt and what a table holds.
fn compare<K: Ord + std::fmt::Display, V: PartialEq>(
    what: &str,
    rebuilt: &BTreeMap<K, V>,
    stored: &BTreeMap<K, V>,
    version: impl Fn(&V) -> i64,
    differences: &mut Vec<String>,
) {
    for (id, value) in rebuilt {
        match stored.get(id) {
            None => differences.push(format!("{what} {id} is in the log but not in the table")),
            Some(s) if s != value => differences.push(format!(
                "{what} {id} differs (log version {}, table version {})",
                version(value),
                version(s)
            )),
            Some(_) => {}
        }
    }
    for id in stored.keys().filter(|id| !rebuilt.contains_key(id)) {
        differences.push(format!("{what} {id} is in the table but has no events"));
    }
}
