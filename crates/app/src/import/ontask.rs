//! ontask's own export (`GET /api/v1/export`): every project, section,
//! task and comment comes back, keyed by its original id. The Inbox's tasks
//! go to the importer's Inbox; shared projects become the importer's own.
use ontask_domain::{Task, TaskDraft};

use super::ImportError;
use super::plan::{Issue, Plan, PlannedComment, PlannedProject, PlannedSection, PlannedTask};
use crate::export::{EXPORT_FORMAT, EXPORT_VERSION, ExportDocument};

pub fn looks_like(text: &str) -> bool {
    text.trim_start_matches('\u{feff}').trim_start().starts_with('{')
}

pub fn read(text: &str) -> Result<Plan, ImportError> {
    let value: serde_json::Value = serde_json::from_str(text.trim_start_matches('\u{feff}'))
        .map_err(|e| ImportError::NotWhatItClaims(format!("not an ontask export: not JSON ({e})")))?;
    if value.get("format").and_then(|f| f.as_str()) != Some(EXPORT_FORMAT) {
        return Err(ImportError::NotWhatItClaims(format!(
            "not an ontask export: its \"format\" is not {EXPORT_FORMAT:?}"
        )));
    }
    if value.get("version").and_then(serde_json::Value::as_u64) != Some(u64::from(EXPORT_VERSION)) {
        return Err(ImportError::NotWhatItClaims(format!("an ontask export of a version other than {EXPORT_VERSION}")));
    }
    let doc: ExportDocument = serde_path_to_error::deserialize(value).map_err(|e| {
        ImportError::NotWhatItClaims(format!("not a valid ontask export: at {}: {}", e.path(), e.inner()))
    })?;
    let mut plan = Plan::default();
    for p in doc.projects {
        let mut project = PlannedProject {
            key: format!("ontask:project:{}", p.project.id),
            name: p.project.name.as_str().to_owned(),
            inbox: p.project.inbox,
            colour: Some(p.project.colour.as_str().to_owned()),
            description: Some(p.project.description.as_str().to_owned()),
            position: Some(p.project.position),
            sections: p
                .sections
                .iter()
                .map(|s| PlannedSection {
                    key: format!("ontask:section:{}", s.id),
                    name: s.name.as_str().to_owned(),
                    position: Some(s.position),
                })
                .collect(),
            tasks: Vec::new(),
        };
        for (i, exported) in p.tasks.into_iter().enumerate() {
            let snapshot = exported.task;
            let task = match Task::try_from(&snapshot) {
                Ok(t) => t,
                Err(e) => {
                    plan.issues.push(Issue::new(0, format!("task {}", snapshot.id), format!("not imported: {e}")));
                    continue;
                }
            };
            let draft = TaskDraft {
                title: Some(task.title.clone()),
                description: task.description.clone(),
                priority: task.priority,
                tags: task.tags.clone(),
                due: task.due,
                reminders: task.reminders.clone(),
                recurrence: task.recurrence.clone(),
                position: Some(task.position),
                ..TaskDraft::default()
            };
            if snapshot.assignee_id.is_some_and(|a| a != doc.user.id) {
                plan.issues.push(Issue::new(
                    0,
                    format!("task {}", snapshot.id),
                    "its assignee was not kept (not a member here)",
                ));
            }
            project.tasks.push(PlannedTask {
                key: format!("ontask:task:{}", snapshot.id),
                line: i + 1,
                section: task.section_id.map(|s| format!("ontask:section:{s}")),
                parent: task.parent_id.map(|t| format!("ontask:task:{t}")),
                draft,
                completed_at: task.completed_at.filter(|_| task.status == ontask_domain::Status::Completed),
                recurrence_anchor: task.recurrence_anchor,
                comments: exported
                    .comments
                    .into_iter()
                    .map(|c| PlannedComment {
                        key: format!("ontask:comment:{}", c.id),
                        line: i + 1,
                        body: c.body.as_str().to_owned(),
                    })
                    .collect(),
            });
        }
        project.tasks = super::ics::parents_first(project.tasks, &mut plan.issues);
        plan.projects.push(project);
    }
    Ok(plan)
}
