//! What an import would create, read from a file before anything is
//! written: projects with their sections and tasks, each with the source
//! key that makes a second import of the same file create nothing again.
use chrono::{DateTime, Utc};
use ontask_domain::{Due, TaskDraft};
use serde::Serialize;

/// A project of the file. `inbox` projects go to the importer's Inbox.
#[derive(Debug, Clone)]
pub struct PlannedProject {
    pub key: String,
    pub name: String,
    pub inbox: bool,
    pub colour: Option<String>,
    pub description: Option<String>,
    pub position: Option<i64>,
    pub sections: Vec<PlannedSection>,
    /// Parents before their subtasks.
    pub tasks: Vec<PlannedTask>,
}

#[derive(Debug, Clone)]
pub struct PlannedSection {
    pub key: String,
    pub name: String,
    pub position: Option<i64>,
}

#[derive(Debug, Clone)]
pub struct PlannedTask {
    pub key: String,
    /// Where the task is in the file (1-based; 0 when the format has no lines).
    pub line: usize,
    pub section: Option<String>,
    pub parent: Option<String>,
    /// The task's fields; project, section and parent are set on import.
    pub draft: TaskDraft,
    /// Completed at that time (the import writes the task completed).
    pub completed_at: Option<DateTime<Utc>>,
    /// A recurring task's series start, when the file has one.
    pub recurrence_anchor: Option<Due>,
    pub comments: Vec<PlannedComment>,
}

#[derive(Debug, Clone)]
pub struct PlannedComment {
    pub key: String,
    pub line: usize,
    pub body: String,
}

/// Something of the file that is not imported (or imported under an
/// assumption), with where it is and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Issue {
    /// The file's line (1-based); 0 for the file as a whole.
    pub line: usize,
    /// The column, property or item concerned (`DATE`, `RRULE`, `VEVENT`).
    pub what: String,
    pub reason: String,
}

impl Issue {
    pub fn new(line: usize, what: impl Into<String>, reason: impl Into<String>) -> Self {
        Self { line, what: what.into(), reason: reason.into() }
    }
}

/// A file, read.
#[derive(Debug, Clone, Default)]
pub struct Plan {
    pub projects: Vec<PlannedProject>,
    pub issues: Vec<Issue>,
}

impl Plan {
    pub fn task_count(&self) -> usize {
        self.projects.iter().map(|p| p.tasks.len()).sum()
    }
}

/// A short, stable digest of the parts of a source key.
pub fn digest(parts: &[&str]) -> String {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    for p in parts {
        h.update(p.as_bytes());
        h.update([0]);
    }
    hex::encode(&h.finalize()[..16])
}
