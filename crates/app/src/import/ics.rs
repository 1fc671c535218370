//! iCalendar files: every VTODO becomes a task of one project (the
//! mapping is `ontask_ical`'s), subtasks by RELATED-TO.
use std::collections::{HashMap, HashSet};

use chrono_tz::Tz;

use super::ImportError;
use super::plan::{Issue, Plan, PlannedProject, PlannedTask, digest};

pub fn read(text: &str, project: &str) -> Result<Plan, ImportError> {
    let read = ontask_ical::read(text, Tz::UTC).map_err(|e| ImportError::NotWhatItClaims(e.to_string()))?;
    let mut plan = Plan::default();
    for s in read.skipped {
        plan.issues.push(Issue::new(s.line, s.what, format!("not imported: {}", s.reason)));
    }
    let key_of = |uid: &Option<String>, line: usize, title: &str| match uid {
        Some(uid) => format!("ics:task:{}", digest(&[uid])),
        None => format!("ics:task:{}", digest(&[project, &line.to_string(), title])),
    };
    let uids: HashMap<String, String> =
        read.todos.iter().filter_map(|t| Some((t.uid.clone()?, key_of(&t.uid, t.line, "")))).collect();
    let mut tasks = Vec::new();
    for todo in read.todos {
        for u in &todo.unmapped {
            plan.issues.push(Issue::new(u.line, u.what.clone(), u.reason.clone()));
        }
        let title = todo.draft.title.as_ref().map(|t| t.as_str().to_owned()).unwrap_or_default();
        let parent = match &todo.parent_uid {
            Some(uid) => match uids.get(uid) {
                Some(key) => Some(key.clone()),
                None => {
                    plan.issues.push(Issue::new(
                        todo.line,
                        "RELATED-TO",
                        format!("the parent {uid:?} is not in the file; imported as a top-level task"),
                    ));
                    None
                }
            },
            None => None,
        };
        let mut draft = todo.draft;
        draft.position = Some(tasks.len() as i64);
        let completed_at = match todo.status {
            ontask_domain::Status::Completed => Some(todo.completed_at.unwrap_or_else(crate::now)),
            ontask_domain::Status::Open => None,
        };
        tasks.push(PlannedTask {
            key: key_of(&todo.uid, todo.line, &title),
            line: todo.line,
            section: None,
            parent,
            draft,
            completed_at,
            recurrence_anchor: None,
            comments: Vec::new(),
        });
    }
    plan.projects.push(PlannedProject {
        key: format!("ics:project:{}", digest(&[project])),
        name: project.to_owned(),
        inbox: false,
        colour: None,
        description: None,
        position: None,
        sections: Vec::new(),
        tasks: parents_first(tasks, &mut plan.issues),
    });
    Ok(plan)
}

/// Orders tasks so every subtask follows its parent; a cycle of parents is
/// broken (and reported) by making its tasks top-level.
pub(super) fn parents_first(tasks: Vec<PlannedTask>, issues: &mut Vec<Issue>) -> Vec<PlannedTask> {
    let mut placed: HashSet<String> = HashSet::new();
    let mut out = Vec::with_capacity(tasks.len());
    let mut left = tasks;
    while !left.is_empty() {
        let before = left.len();
        let (ready, wait): (Vec<_>, Vec<_>) =
            left.into_iter().partition(|t| t.parent.as_ref().is_none_or(|p| placed.contains(p)));
        placed.extend(ready.iter().map(|t| t.key.clone()));
        out.extend(ready);
        left = wait;
        if left.len() == before {
            for mut t in left.drain(..) {
                issues.push(Issue::new(t.line, "RELATED-TO", "the parents form a cycle; imported as a top-level task"));
                t.parent = None;
                placed.insert(t.key.clone());
                out.push(t);
            }
        }
    }
    out
}
