//! `ontask events replay`: rebuilds every task from the event log alone and
//! compares the result with the tasks table. The log is the source of truth;
//! a difference means state changed without an event.
use std::collections::BTreeMap;

use ontask_domain::{Event, TaskId, TaskSnapshot, TaskState, TaskUpdated};
use ontask_store::{Db, events, tasks};

pub struct ReplayReport {
    pub events: usize,
    pub tasks: usize,
    pub differences: Vec<String>,
}

pub async fn replay(db: &Db) -> anyhow::Result<ReplayReport> {
    let mut rebuilt: BTreeMap<TaskId, TaskSnapshot> = BTreeMap::new();
    let mut conn = db.read().await?;
    let mut after = 0;
    let mut count = 0;
    loop {
        let page = events::all_after(&mut conn, after, 1000).await?;
        let Some(last) = page.last() else { break };
        after = last.seq;
        count += page.len();
        for event in page {
            match event.envelope.event {
                Event::TaskDeleted(deleted) => {
                    rebuilt.remove(&deleted.task.id);
                }
                Event::TaskCreated(TaskState { task })
                | Event::TaskCompleted(TaskState { task })
                | Event::TaskReopened(TaskState { task })
                | Event::TaskUpdated(TaskUpdated { task, .. }) => {
                    rebuilt.insert(task.id, task);
                }
                Event::Malformed(m) if m.kind.is_task_change() => {
                    anyhow::bail!("event {} ({}) cannot be replayed: {}", event.seq, m.kind, m.error)
                }
                Event::ReminderDue(_) | Event::ReminderSent(_) | Event::Malformed(_) | Event::Other(_) => {}
            }
        }
    }
    let mut stored: BTreeMap<TaskId, TaskSnapshot> = BTreeMap::new();
    let mut after_id = None;
    loop {
        let page = tasks::all_after(&mut conn, after_id, 1000).await?;
        let Some(last) = page.last() else { break };
        after_id = Some(last.id);
        stored.extend(page.into_iter().map(|t| (t.id, t)));
    }
    let mut differences = Vec::new();
    for (id, task) in &rebuilt {
        match stored.get(id) {
            None => differences.push(format!("task {id} is in the log but not in the table")),
            Some(s) if s != task => differences
                .push(format!("task {id} differs (log version {}, table version {})", task.version, s.version)),
            Some(_) => {}
        }
    }
    for id in stored.keys().filter(|id| !rebuilt.contains_key(id)) {
        differences.push(format!("task {id} is in the table but has no events"));
    }
    Ok(ReplayReport { events: count, tasks: rebuilt.len(), differences })
}
