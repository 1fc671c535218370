//! Import: a file (Todoist's CSV, iCalendar VTODOs, or ontask's own export)
//! becomes projects, sections, tasks and comments of the person importing.
//!
//! A file is read whole first ([`ImportService::plan`]): one that is not
//! what it claims is refused before anything is written. Then every item is
//! created the way the API creates it ([`ImportService::run`]): a project
//! or section with its event, tasks through the bulk path (one `task.created`
//! each, many to a transaction), a comment with its event. Each created item
//! records its source key in the same transaction, so importing the same
//! file again creates nothing twice. What cannot be mapped is in the report
//! with its line and reason; a dry run reports what would be created and
//! writes nothing. The formats and mappings: `docs/import-export.md`.
mod ics;
mod ontask;
pub mod plan;
mod todoist;

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use ontask_domain::{
    CommentBody, Event, ImportJobId, ImportProgressed, ImportStatus, MAX_SUBTASK_DEPTH, Name, Placement, ProjectAction,
    ProjectDraft, ProjectId, SectionId, Task, TaskId, TaskSnapshot,
};
use ontask_store::imports::{self, Imported, ItemKind, JobRow};
use ontask_store::{events, tasks};
use serde::{Deserialize, Serialize};
use thiserror::Error;

pub use plan::{Issue, Plan};

use crate::{Actor, App, AppError, Context, Result, Scope, now, policy};

/// Tasks written per transaction: a large file commits in steps, each
/// step's items with their source keys, so progress shows and other writers
/// get their turns.
const TASKS_PER_COMMIT: usize = 500;

/// The largest file an import reads.
pub const MAX_IMPORT_BYTES: usize = 20 * 1024 * 1024;

/// What a file is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum ImportFormat {
    /// Todoist's CSV export.
    Todoist,
    /// iCalendar (RFC 5545) with VTODOs.
    Ics,
    /// ontask's own JSON export.
    Ontask,
}

impl ImportFormat {
    pub fn parse(raw: &str) -> Option<Self> {
        Some(match raw.trim().to_ascii_lowercase().as_str() {
            "todoist" | "csv" | "todoist_csv" => Self::Todoist,
            "ics" | "ical" | "icalendar" => Self::Ics,
            "ontask" | "json" => Self::Ontask,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Todoist => "todoist",
            Self::Ics => "ics",
            Self::Ontask => "ontask",
        }
    }

    /// The format of `text`, from what it begins with.
    pub fn detect(text: &str) -> Option<Self> {
        let head = text.trim_start_matches('\u{feff}').trim_start();
        if head.get(..15).is_some_and(|h| h.eq_ignore_ascii_case("BEGIN:VCALENDAR")) {
            Some(Self::Ics)
        } else if ontask::looks_like(head) {
            Some(Self::Ontask)
        } else if todoist::looks_like(head) {
            Some(Self::Todoist)
        } else {
            None
        }
    }
}

/// Why a file is refused (nothing of it is written).
#[derive(Debug, Error, PartialEq, Eq)]
pub enum ImportError {
    #[error("{0}")]
    NotWhatItClaims(String),
    #[error(
        "cannot tell what this file is: not a Todoist CSV, an iCalendar file or an ontask export (name it with format)"
    )]
    UnknownFormat,
    #[error("the file is not UTF-8 text")]
    NotText,
    #[error("the file is larger than {MAX_IMPORT_BYTES} bytes")]
    TooLarge,
}

impl From<ImportError> for AppError {
    fn from(e: ImportError) -> Self {
        AppError::validation("file", e.to_string())
    }
}

/// How many items of each kind.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Counts {
    pub projects: usize,
    pub sections: usize,
    pub tasks: usize,
    pub comments: usize,
}

/// What an import did (or, for a dry run, would do).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ImportReport {
    pub format: ImportFormat,
    pub dry_run: bool,
    /// Created (a dry run: would be created).
    pub created: Counts,
    /// Found already imported by an earlier import of the same items; not created again.
    pub already_imported: Counts,
    /// Everything of the file that was not imported, or imported under an
    /// assumption, with its line (1-based) and why.
    pub not_imported: Vec<IssueView>,
}

/// One line of the report.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct IssueView {
    pub line: usize,
    pub what: String,
    pub reason: String,
}

impl From<Issue> for IssueView {
    fn from(i: Issue) -> Self {
        Self { line: i.line, what: i.what, reason: i.reason }
    }
}

/// A file as it arrives, with what the person said about it.
#[derive(Debug, Clone)]
pub struct ImportFile<'a> {
    pub bytes: &'a [u8],
    /// The file's name, whose stem names the project a Todoist CSV or an
    /// iCalendar file goes to when `project` is not given.
    pub file_name: Option<&'a str>,
    /// The format, when given; detected from the content otherwise.
    pub format: Option<ImportFormat>,
    /// The project a Todoist CSV or an iCalendar file goes to.
    pub project: Option<&'a str>,
}

/// A file read and checked, ready to import.
#[derive(Debug, Clone)]
pub struct ReadFile {
    pub format: ImportFormat,
    pub plan: Plan,
}

impl ReadFile {
    pub fn total(&self) -> usize {
        self.plan.task_count()
    }
}

/// Reads a file; refuses one that is not what it claims (or, with no format
/// given, not any format an import reads).
pub fn read(file: &ImportFile<'_>) -> std::result::Result<ReadFile, ImportError> {
    if file.bytes.len() > MAX_IMPORT_BYTES {
        return Err(ImportError::TooLarge);
    }
    let text = std::str::from_utf8(file.bytes).map_err(|_| ImportError::NotText)?;
    let format = match file.format {
        Some(f) => f,
        None => ImportFormat::detect(text).ok_or(ImportError::UnknownFormat)?,
    };
    let stem = file.file_name.map(|n| {
        let base = n.rsplit(['/', '\\']).next().unwrap_or(n);
        base.rsplit_once('.').map_or(base, |(stem, _)| stem).trim().to_owned()
    });
    let project = file
        .project
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(str::to_owned)
        .or(stem.filter(|s| !s.is_empty()))
        .unwrap_or_else(|| "Imported".to_owned());
    let plan = match format {
        ImportFormat::Todoist => todoist::read(text, &project)?,
        ImportFormat::Ics => ics::read(text, &project)?,
        ImportFormat::Ontask => {
            let mut plan = ontask::read(text)?;
            if file.project.is_some() {
                plan.issues.push(Issue::new(
                    0,
                    "project",
                    "an ontask export keeps its own projects; the name given was not used",
                ));
            }
            plan
        }
    };
    Ok(ReadFile { format, plan })
}

/// Where an import stands, for a progress bar or the job resource.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Progress {
    /// Tasks handled so far (created or found already imported).
    pub done: usize,
    pub total: usize,
}

pub struct ImportService<'a> {
    app: &'a App,
}

/// Items found or created so far, by source key.
#[derive(Default)]
struct Known {
    projects: HashMap<String, ProjectId>,
    sections: HashMap<String, SectionId>,
    tasks: HashMap<String, (TaskId, usize)>,
}

impl<'a> ImportService<'a> {
    pub(crate) fn new(app: &'a App) -> Self {
        Self { app }
    }

    /// Imports a read file as `actor`; `progress` hears after every step.
    #[tracing::instrument(skip_all, fields(user = %actor.user_id, format = file.format.as_str(), dry_run))]
    pub async fn run(
        &self,
        ctx: &Context,
        actor: &Actor,
        file: ReadFile,
        dry_run: bool,
        progress: &(dyn Fn(Progress) + Send + Sync),
    ) -> Result<ImportReport> {
        actor.require(Scope::TasksWrite)?;
        let total = file.total();
        let mut report = ImportReport {
            format: file.format,
            dry_run,
            created: Counts::default(),
            already_imported: Counts::default(),
            not_imported: Vec::new(),
        };
        let mut issues = file.plan.issues;
        let sources = imports::sources(&mut *self.app.db.read().await?, actor.user_id).await?;
        let mut known = Known::default();
        let mut done = 0;
        progress(Progress { done, total });
        for project in file.plan.projects {
            let Some(project_id) =
                self.project(ctx, actor, &project, &sources, dry_run, &mut report, &mut issues).await?
            else {
                done += project.tasks.len();
                progress(Progress { done, total });
                continue;
            };
            known.projects.insert(project.key.clone(), project_id);
            for section in &project.sections {
                self.section(ctx, actor, project_id, section, &sources, dry_run, &mut known, &mut report, &mut issues)
                    .await?;
            }
            for chunk in project.tasks.chunks(TASKS_PER_COMMIT) {
                self.tasks(ctx, actor, project_id, chunk, &sources, dry_run, &mut known, &mut report, &mut issues)
                    .await?;
                done += chunk.len();
                progress(Progress { done, total });
            }
        }
        report.not_imported = issues.into_iter().map(IssueView::from).collect();
        report.not_imported.sort_by_key(|i| i.line);
        Ok(report)
    }

    /// The project the file's project goes to: found again, the Inbox, or new.
    #[allow(clippy::too_many_arguments)]
    async fn project(
        &self,
        ctx: &Context,
        actor: &Actor,
        project: &plan::PlannedProject,
        sources: &HashMap<String, Imported>,
        dry_run: bool,
        report: &mut ImportReport,
        issues: &mut Vec<Issue>,
    ) -> Result<Option<ProjectId>> {
        let mut conn = self.app.db.read().await?;
        if project.inbox {
            if let Some(inbox) = policy::own_inbox(&mut conn, actor).await? {
                return Ok(Some(inbox.project.id));
            }
            drop(conn);
            let mut tx = self.app.db.begin().await?;
            let id = crate::projects::inbox_in(&mut tx, self.app, ctx, actor.user_id).await?;
            tx.commit().await?;
            return Ok(Some(id));
        }
        if let Some(found) = sources.get(&project.key).and_then(|i| ProjectId::parse(&i.item_id).ok()) {
            match policy::project(&mut conn, actor, found, ProjectAction::Edit).await {
                Ok(_) => {
                    report.already_imported.projects += 1;
                    return Ok(Some(found));
                }
                Err(AppError::NotFound) => {
                    issues.push(Issue::new(
                        0,
                        format!("project {:?}", project.name),
                        "imported before and since deleted; not imported again",
                    ));
                    return Ok(None);
                }
                Err(e) => return Err(e),
            }
        }
        let draft = match ProjectDraft::parse(
            &project.name,
            project.colour.as_deref(),
            project.description.as_deref(),
            project.position,
        ) {
            Ok(d) => d,
            Err(e) => {
                issues.push(Issue::new(0, format!("project {:?}", project.name), format!("not imported: {e}")));
                return Ok(None);
            }
        };
        report.created.projects += 1;
        if dry_run {
            // Nothing is written; the rest is counted against a project that
            // does not exist, so the tasks are checked without a placement.
            return Ok(Some(ProjectId::new()));
        }
        drop(conn);
        let mut tx = self.app.db.begin().await?;
        let created = self.app.projects().create_in(&mut tx, ctx, actor, draft).await?;
        let item = Imported { kind: ItemKind::Project, item_id: created.id.to_string() };
        imports::record(&mut tx, actor.user_id, &project.key, &item, now()).await?;
        tx.commit().await?;
        Ok(Some(created.id))
    }

    #[allow(clippy::too_many_arguments)]
    async fn section(
        &self,
        ctx: &Context,
        actor: &Actor,
        project: ProjectId,
        section: &plan::PlannedSection,
        sources: &HashMap<String, Imported>,
        dry_run: bool,
        known: &mut Known,
        report: &mut ImportReport,
        issues: &mut Vec<Issue>,
    ) -> Result<()> {
        if let Some(found) = sources.get(&section.key).and_then(|i| SectionId::parse(&i.item_id).ok()) {
            report.already_imported.sections += 1;
            known.sections.insert(section.key.clone(), found);
            return Ok(());
        }
        let name = match Name::parse(&section.name) {
            Ok(n) => n,
            Err(e) => {
                issues.push(Issue::new(
                    0,
                    format!("section {:?}", section.name),
                    format!("not imported: the name {e}"),
                ));
                return Ok(());
            }
        };
        report.created.sections += 1;
        if dry_run {
            known.sections.insert(section.key.clone(), SectionId::new());
            return Ok(());
        }
        let mut tx = self.app.db.begin().await?;
        policy::project(tx.conn(), actor, project, ProjectAction::Edit).await?;
        let created =
            self.app.projects().create_section_in(&mut tx, ctx, actor, project, name, section.position).await?;
        let item = Imported { kind: ItemKind::Section, item_id: created.id.to_string() };
        imports::record(&mut tx, actor.user_id, &section.key, &item, now()).await?;
        tx.commit().await?;
        known.sections.insert(section.key.clone(), created.id);
        Ok(())
    }

    /// One step of tasks (with their comments): placed, checked by the
    /// domain, then written together.
    #[allow(clippy::too_many_arguments)]
    async fn tasks(
        &self,
        ctx: &Context,
        actor: &Actor,
        project: ProjectId,
        chunk: &[plan::PlannedTask],
        sources: &HashMap<String, Imported>,
        dry_run: bool,
        known: &mut Known,
        report: &mut ImportReport,
        issues: &mut Vec<Issue>,
    ) -> Result<()> {
        let at = now();
        let mut new: Vec<(&plan::PlannedTask, TaskSnapshot)> = Vec::new();
        let mut conn = self.app.db.read().await?;
        for planned in chunk {
            if let Some(found) = sources.get(&planned.key).and_then(|i| TaskId::parse(&i.item_id).ok()) {
                report.already_imported.tasks += 1;
                report.already_imported.comments +=
                    planned.comments.iter().filter(|c| sources.contains_key(&c.key)).count();
                let depth = tasks::ancestors(&mut conn, found).await?.len();
                known.tasks.insert(planned.key.clone(), (found, depth));
                continue;
            }
            let parent = match &planned.parent {
                None => None,
                Some(key) => match known.tasks.get(key) {
                    Some(p) => Some(*p),
                    None => {
                        issues.push(Issue::new(
                            planned.line,
                            "parent",
                            "its parent task was not imported, so neither was it",
                        ));
                        continue;
                    }
                },
            };
            let depth = parent.map_or(0, |(_, d)| d + 1);
            if depth > MAX_SUBTASK_DEPTH {
                issues.push(Issue::new(
                    planned.line,
                    "parent",
                    format!("subtasks nest at most {MAX_SUBTASK_DEPTH} levels deep; not imported"),
                ));
                continue;
            }
            let section = planned.section.as_ref().and_then(|k| known.sections.get(k)).copied();
            let placement = Placement { project_id: project, section_id: section, parent_id: parent.map(|(id, _)| id) };
            let mut task = match Task::create(actor.user_id, placement, planned.draft.clone(), at) {
                Ok(t) => t,
                Err(e) => {
                    issues.push(Issue::new(planned.line, "task", format!("not imported: {e}")));
                    continue;
                }
            };
            if let Some(anchor) = planned.recurrence_anchor.filter(|_| task.recurrence.is_some()) {
                task.recurrence_anchor = Some(anchor);
            }
            if let Some(done_at) = planned.completed_at {
                // Written completed in its `task.created`: completing it
                // afterwards would start a recurring series' next occurrence.
                task.complete(done_at);
                task.version = 1;
                task.updated_at = at;
            }
            known.tasks.insert(planned.key.clone(), (task.id, depth));
            new.push((planned, TaskSnapshot::from(&task)));
        }
        drop(conn);
        report.created.tasks += new.len();
        let mut comments = Vec::new();
        for (planned, snapshot) in &new {
            for c in &planned.comments {
                match CommentBody::parse(&c.body) {
                    Ok(body) => comments.push((c, snapshot.id, body)),
                    Err(e) => issues.push(Issue::new(c.line, "comment", format!("not imported: {e}"))),
                }
            }
        }
        report.created.comments += comments.len();
        if dry_run || new.is_empty() {
            return Ok(());
        }
        policy::project(&mut *self.app.db.read().await?, actor, project, ProjectAction::Edit).await?;
        // The bulk path of creates: one queued write of the step's tasks,
        // each with its `task.created` event and its source key.
        let service = self.app.tasks();
        let items: Vec<_> = new
            .iter()
            .map(|(planned, snapshot)| (snapshot.clone(), service.created(ctx, snapshot), planned.key.clone()))
            .collect();
        imports::create_tasks(&self.app.db, actor.user_id, &items, at).await?;
        if comments.is_empty() {
            return Ok(());
        }
        let mut tx = self.app.db.begin().await?;
        let comment_service = self.app.comments();
        for (planned, task, body) in comments {
            let comment = comment_service.add_in(&mut tx, ctx, actor, task, project, body).await?;
            let item = Imported { kind: ItemKind::Comment, item_id: comment.id.to_string() };
            imports::record(&mut tx, actor.user_id, &planned.key, &item, at).await?;
        }
        tx.commit().await?;
        Ok(())
    }
}

/// An import started over the API, as its owner polls it.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ImportJob {
    pub id: String,
    pub format: ImportFormat,
    pub dry_run: bool,
    pub status: ImportStatus,
    /// Tasks handled so far, of `total`.
    pub done: i64,
    pub total: i64,
    /// Once `done`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub report: Option<ImportReport>,
    /// Once `failed`: why (the items written before it stay, and a second
    /// import of the file completes it without duplicates).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub created_at: DateTime<Utc>,
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub updated_at: DateTime<Utc>,
}

impl TryFrom<JobRow> for ImportJob {
    type Error = AppError;

    fn try_from(row: JobRow) -> Result<Self> {
        let status = row.status;
        let (report, error) = match (status, row.report) {
            (ImportStatus::Done, Some(r)) => (Some(serde_json::from_str(&r).map_err(AppError::internal)?), None),
            (ImportStatus::Failed, r) => (None, r),
            _ => (None, None),
        };
        Ok(Self {
            id: row.id.to_string(),
            format: ImportFormat::parse(&row.format).unwrap_or(ImportFormat::Ontask),
            dry_run: row.dry_run,
            status,
            done: row.done,
            total: row.total,
            report,
            error,
            created_at: row.created_at,
            updated_at: row.updated_at,
        })
    }
}

impl ImportService<'_> {
    /// Starts importing a read file in the background and returns its job.
    #[tracing::instrument(skip_all, fields(user = %actor.user_id))]
    pub async fn start(&self, ctx: Context, actor: Actor, file: ReadFile, dry_run: bool) -> Result<ImportJob> {
        actor.require(Scope::TasksWrite)?;
        let at = now();
        let row = JobRow {
            id: ImportJobId::new(),
            user_id: actor.user_id,
            format: file.format.as_str().to_owned(),
            dry_run,
            status: ImportStatus::Running,
            done: 0,
            total: file.total() as i64,
            report: None,
            created_at: at,
            updated_at: at,
        };
        let mut tx = self.app.db.begin().await?;
        imports::insert_job(&mut tx, &row).await?;
        tx.commit().await?;
        let app = self.app.clone();
        let job = row.clone();
        tokio::spawn(async move {
            let (sender, mut receiver) = tokio::sync::watch::channel(Progress { done: 0, total: job.total as usize });
            let progress = move |p: Progress| {
                let _ = sender.send(p);
            };
            let recorder = {
                let (app, ctx, mut job) = (app.clone(), ctx.clone(), job.clone());
                async move {
                    // The latest progress, written at most every half second.
                    while receiver.changed().await.is_ok() {
                        let p = *receiver.borrow_and_update();
                        job.done = p.done as i64;
                        job.updated_at = now();
                        if let Err(e) = record(&app, &ctx, &job).await {
                            tracing::warn!(job = %job.id, error = %e, "cannot record an import's progress");
                        }
                        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
                    }
                }
            };
            let recording = tokio::spawn(recorder);
            let outcome = app.imports().run(&ctx, &actor, file, dry_run, &progress).await;
            drop(progress);
            let _ = recording.await;
            let mut job = job;
            job.updated_at = now();
            match outcome.and_then(|r| serde_json::to_string(&r).map_err(AppError::internal).map(|t| (r, t))) {
                Ok((report, text)) => {
                    job.status = ImportStatus::Done;
                    job.done = job.total;
                    job.report = Some(text);
                    tracing::info!(job = %job.id, tasks = report.created.tasks, "import done");
                }
                Err(e) => {
                    tracing::error!(job = %job.id, error = %e, "import failed");
                    job.status = ImportStatus::Failed;
                    job.report = Some(e.to_string());
                }
            }
            if let Err(e) = record(&app, &ctx, &job).await {
                tracing::error!(job = %job.id, error = %e, "cannot record the end of an import");
            }
        });
        ImportJob::try_from(row)
    }

    /// One of the actor's import jobs.
    pub async fn job(&self, actor: &Actor, id: &str) -> Result<ImportJob> {
        // An id that is not one (not a UUID) is as unknown as a missing one.
        let id = ImportJobId::parse(id).map_err(|_| AppError::NotFound)?;
        let row = imports::job(&mut *self.app.db.read().await?, actor.user_id, id).await?.ok_or(AppError::NotFound)?;
        ImportJob::try_from(row)
    }
}

/// Writes where a job is, with its `import.progressed` event (so the
/// person's realtime stream shows it, whichever replica serves the stream).
async fn record(app: &App, ctx: &Context, job: &JobRow) -> Result<()> {
    let progress = ImportProgressed {
        job_id: job.id,
        status: job.status,
        done: job.done.max(0) as u64,
        total: job.total.max(0) as u64,
    };
    let event = crate::projects::event_by(app, ctx, job.user_id, Event::ImportProgressed(progress));
    let mut tx = app.db.begin().await?;
    imports::update_job(&mut tx, job).await?;
    events::append(&mut tx, &event).await?;
    tx.commit().await?;
    Ok(())
}
