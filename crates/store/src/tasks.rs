//! The tasks table: rows are written from a valid [`Task`](ontask_domain::Task)
//! and read back as [`TaskSnapshot`]s without re-parsing (the hot read path).
use std::sync::Arc;

use chrono::{DateTime, Utc};
use ontask_domain::{EventEnvelope, Priority, ProjectId, RepeatFrom, SectionId, Status, TaskId, TaskSnapshot, UserId};
use serde::Serialize;
use serde_json::value::RawValue;
use sqlx::{AnyConnection, Row as _};

use crate::projects::{maybe_uuid_of, uuid_of};
use crate::row::Row;
use crate::sql::{Arg, Script, Sql};
use crate::{Backend, Db, Memo, Result, StoreError, WriteTx, events, time};

const COLUMNS: &str = "id, owner_id, project_id, section_id, parent_id, assignee_id, title, description, status, \
                       completed_at, priority, tags, due, due_at, reminders, recurrence, repeat_from, recurrence_anchor, \
                       recurs_from, position, version, created_at, updated_at";

const NO_DUE_ASC: i64 = i64::MAX;
const NO_DUE_DESC: i64 = -i64::MAX;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SortKey {
    Due,
    Priority,
    Created,
    Updated,
    #[default]
    Position,
}

impl SortKey {
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "due" => Self::Due,
            "priority" => Self::Priority,
            "created" => Self::Created,
            "updated" => Self::Updated,
            "position" => Self::Position,
            _ => return None,
        })
    }

    fn expr(self, descending: bool) -> &'static str {
        match (self, descending) {
            (Self::Due, false) => "COALESCE(due_at, 9223372036854775807)",
            (Self::Due, true) => "COALESCE(due_at, -9223372036854775807)",
            (Self::Priority, _) => "priority",
            (Self::Created, _) => "created_at",
            (Self::Updated, _) => "updated_at",
            (Self::Position, _) => "position",
        }
    }

    /// The sort key of a task, as the cursor records it.
    pub fn key_of(self, t: &TaskSnapshot, descending: bool) -> i64 {
        match self {
            Self::Due => t.due_at.map(time::to_ms).unwrap_or(if descending { NO_DUE_DESC } else { NO_DUE_ASC }),
            Self::Priority => t.priority.rank(),
            Self::Created => time::to_ms(t.created_at),
            Self::Updated => time::to_ms(t.updated_at),
            Self::Position => t.position,
        }
    }
}

/// What to list. Filters combine with AND.
#[derive(Debug, Clone, Default)]
pub struct TaskQuery {
    /// `Some(None)`: tasks in no section; `Some(Some(s))`: in section `s`.
    pub section: Option<Option<SectionId>>,
    /// `Some(None)`: top-level tasks only; `Some(Some(t))`: subtasks of `t`.
    pub parent: Option<Option<TaskId>>,
    pub assignee: Option<UserId>,
    pub status: Option<Status>,
    pub priorities: Vec<Priority>,
    /// Every one of these tags must be on the task.
    pub tags: Vec<String>,
    /// Full-text search over title and description.
    pub text: Option<String>,
    pub due_before: Option<DateTime<Utc>>,
    pub due_after: Option<DateTime<Utc>>,
    /// Only open tasks whose due is before this instant.
    pub overdue_at: Option<DateTime<Utc>>,
    pub sort: SortKey,
    pub descending: bool,
    pub limit: i64,
    /// Keyset cursor: the sort key and id of the last task already seen.
    pub after: Option<(i64, String)>,
}

pub async fn insert(tx: &mut WriteTx, t: &TaskSnapshot) -> Result<()> {
    let mut script = Script::new(tx.backend());
    push_insert(&mut script, t)?;
    script.run(tx).await?;
    Ok(())
}

/// Inserts a task and appends its event, in one round trip on SQLite (the
/// hot path of every create); returns the event's log position.
pub async fn insert_with_event(tx: &mut WriteTx, t: &TaskSnapshot, event: &EventEnvelope) -> Result<i64> {
    let mut script = Script::new(tx.backend());
    push_insert(&mut script, t)?;
    events::push_append(&mut script, tx.has_appended(), event)?;
    events::position(&script.run(tx).await?)
}

/// Creates a task with its event in a write of its own; returns the event's
/// log position once committed. On SQLite the writer runs it with the other
/// creates waiting, without a round trip to the caller between them (see
/// `Db::run_alone`). Not while the caller holds a [`WriteTx`].
pub async fn create(db: &Db, t: &TaskSnapshot, event: &EventEnvelope) -> Result<i64> {
    let mut script = Script::new(db.backend());
    push_insert(&mut script, t)?;
    events::push_append(&mut script, false, event)?;
    events::position(&db.run_alone(script).await?)
}

/// How the SQLite writer thread indexes the text of every task a batch
/// inserted, in one statement (see `Script::text_index_statement`): the last
/// rowid before the batch, then every task after it. A new row's rowid is
/// always past the largest one.
pub(crate) const LAST_ROWID: &str = "SELECT coalesce(max(rowid), 0) FROM tasks";
pub(crate) const INDEX_TEXT_AFTER_ROWID: &str =
    "INSERT INTO tasks_fts (rowid, title, description) SELECT rowid, title, description FROM tasks WHERE rowid > $1";

pub(crate) fn push_insert(script: &mut Script, t: &TaskSnapshot) -> Result<()> {
    let row = vec![
        Arg::text(t.id.to_string()),
        Arg::text(t.owner_id.to_string()),
        Arg::maybe_text(t.project_id.map(|id| id.to_string())),
        Arg::maybe_text(t.section_id.map(|id| id.to_string())),
        Arg::maybe_text(t.parent_id.map(|id| id.to_string())),
        Arg::maybe_text(t.assignee_id.map(|id| id.to_string())),
        Arg::text(t.title.as_str()),
        Arg::text(t.description.as_str()),
        Arg::text(t.status.as_str()),
        Arg::MaybeI64(t.completed_at.map(time::to_ms)),
        Arg::I64(t.priority.rank()),
        Arg::text(serde_json::to_string(&t.tags)?),
        Arg::maybe_text(t.due.as_deref()),
        Arg::MaybeI64(t.due_at.map(time::to_ms)),
        Arg::text(serde_json::to_string(&t.reminders)?),
        Arg::maybe_text(t.recurrence.as_deref()),
        Arg::maybe_text(repeat_from_column(t.repeat_from)),
        Arg::maybe_text(t.recurrence_anchor.as_deref()),
        Arg::maybe_text(t.recurs_from.map(|id| id.to_string())),
        Arg::I64(t.position),
        Arg::I64(t.version),
        Arg::I64(time::to_ms(t.created_at)),
        Arg::I64(time::to_ms(t.updated_at)),
    ];
    script.insert("tasks", COLUMNS, [row], None);
    if script.backend() == Backend::Sqlite {
        // PostgreSQL keeps its search column itself.
        let index = script.text_index_statement();
        let id = index.text(t.id.to_string());
        index.push(&format!(
            "INSERT INTO tasks_fts (rowid, title, description) SELECT rowid, title, description FROM tasks WHERE id = {id}"
        ));
    }
    push_tags(script, t);
    Ok(())
}

/// Writes a changed task if its stored version is still `expected_version`.
/// Returns false when someone else changed it first.
pub async fn update(tx: &mut WriteTx, t: &TaskSnapshot, expected_version: i64) -> Result<bool> {
    let done = sqlx::query(
        "UPDATE tasks SET title = $1, description = $2, status = $3, completed_at = $4, priority = $5, tags = $6, \
         due = $7, due_at = $8, reminders = $9, recurrence = $10, recurrence_anchor = $11, position = $12, \
         version = $13, updated_at = $14, project_id = $15, section_id = $16, parent_id = $17, assignee_id = $18, \
         repeat_from = $19 WHERE id = $20 AND version = $21",
    )
    .bind(&t.title)
    .bind(&t.description)
    .bind(t.status.as_str())
    .bind(t.completed_at.map(time::to_ms))
    .bind(t.priority.rank())
    .bind(serde_json::to_string(&t.tags)?)
    .bind(t.due.as_deref())
    .bind(t.due_at.map(time::to_ms))
    .bind(serde_json::to_string(&t.reminders)?)
    .bind(t.recurrence.as_deref())
    .bind(t.recurrence_anchor.as_deref())
    .bind(t.position)
    .bind(t.version)
    .bind(time::to_ms(t.updated_at))
    .bind(t.project_id.map(|id| id.to_string()))
    .bind(t.section_id.map(|id| id.to_string()))
    .bind(t.parent_id.map(|id| id.to_string()))
    .bind(t.assignee_id.map(|id| id.to_string()))
    .bind(repeat_from_column(t.repeat_from))
    .bind(t.id.to_string())
    .bind(expected_version)
    .execute(tx.conn())
    .await?;
    if done.rows_affected() == 0 {
        return Ok(false);
    }
    let mut script = Script::new(tx.backend());
    let sql = script.statement();
    let id = sql.text(t.id.to_string());
    sql.push(&format!("DELETE FROM task_tags WHERE task_id = {id}"));
    push_tags(&mut script, t);
    script.run(tx).await?;
    Ok(true)
}

/// The task's tag rows, in one statement whatever their number.
fn push_tags(script: &mut Script, t: &TaskSnapshot) {
    if t.tags.is_empty() {
        return;
    }
    let (task, owner) = (t.id.to_string(), t.owner_id.to_string());
    let rows =
        t.tags.iter().map(|tag| vec![Arg::text(task.as_str()), Arg::text(owner.as_str()), Arg::text(tag.as_str())]);
    script.insert("task_tags", "task_id, owner_id, tag", rows, None);
}

/// Deletes a task and its comments (its `task.deleted` event says both).
pub async fn delete(tx: &mut WriteTx, id: TaskId) -> Result<bool> {
    sqlx::query("DELETE FROM comments WHERE task_id = $1").bind(id.to_string()).execute(tx.conn()).await?;
    let done = sqlx::query("DELETE FROM tasks WHERE id = $1").bind(id.to_string()).execute(tx.conn()).await?;
    Ok(done.rows_affected() == 1)
}

/// A task by id, whoever may see it (the caller asks the policy).
pub async fn get(conn: &mut AnyConnection, id: TaskId) -> Result<Option<TaskSnapshot>> {
    let row = sqlx::query(&format!("SELECT {COLUMNS} FROM tasks WHERE id = $1"))
        .bind(id.to_string())
        .fetch_optional(conn)
        .await?;
    row.as_ref().map(|row| decode(row)).transpose()
}

/// Every task below `root` (subtasks, their subtasks, ...), parents before
/// their children, without `root` itself.
pub async fn subtree(conn: &mut AnyConnection, root: TaskId) -> Result<Vec<TaskSnapshot>> {
    let rows = sqlx::query(&format!(
        "WITH RECURSIVE below(id, depth) AS ( \
             SELECT id, 1 FROM tasks WHERE parent_id = $1 \
             UNION ALL SELECT t.id, below.depth + 1 FROM tasks t JOIN below ON t.parent_id = below.id \
         ) SELECT {COLUMNS} FROM tasks WHERE id IN (SELECT id FROM below) \
         ORDER BY (SELECT MIN(depth) FROM below WHERE below.id = tasks.id), position, id"
    ))
    .bind(root.to_string())
    .fetch_all(conn)
    .await?;
    rows.iter().map(|row| decode(row)).collect()
}

/// The tasks above `task`: its parent, the parent's parent, ... (nearest first).
pub async fn ancestors(conn: &mut AnyConnection, task: TaskId) -> Result<Vec<TaskSnapshot>> {
    let mut found: Vec<TaskSnapshot> = Vec::new();
    let mut next = get(conn, task).await?.and_then(|t| t.parent_id);
    // Depth is bounded (MAX_SUBTASK_DEPTH), and a cycle cannot be written; the
    // bound only keeps a corrupt row from looping.
    while let Some(id) = next {
        if found.len() > ontask_domain::MAX_SUBTASK_DEPTH || found.iter().any(|t| t.id == id) {
            return Err(StoreError::Corrupt(format!("task {task} has a parent chain that loops or is too deep")));
        }
        let Some(parent) = get(conn, id).await? else { break };
        next = parent.parent_id;
        found.push(parent);
    }
    Ok(found)
}

/// How many subtasks each of `parents` has, and how many of them are done.
pub async fn progress(conn: &mut AnyConnection, parents: &[TaskId]) -> Result<Vec<(TaskId, i64, i64)>> {
    if parents.is_empty() {
        return Ok(Vec::new());
    }
    let mut sql = Sql::new(
        "SELECT parent_id, COUNT(*) AS total, SUM(CASE WHEN status = 'completed' THEN 1 ELSE 0 END) AS done FROM tasks WHERE parent_id IN (",
    );
    let list: Vec<String> = parents.iter().map(|p| sql.text(p.to_string())).collect();
    sql.push(&list.join(", ")).push(") GROUP BY parent_id");
    let rows = sql.query().fetch_all(conn).await?;
    rows.iter()
        .map(|row| {
            let id: String = row.try_get("parent_id")?;
            let id = TaskId::parse(&id).map_err(|e| StoreError::Corrupt(e.to_string()))?;
            Ok((id, row.try_get("total")?, row.try_get("done")?))
        })
        .collect()
}

/// Tasks written before projects existed (no project yet), a page at a time.
pub async fn orphans(conn: &mut AnyConnection, limit: i64) -> Result<Vec<TaskSnapshot>> {
    let rows = sqlx::query(&format!("SELECT {COLUMNS} FROM tasks WHERE project_id IS NULL ORDER BY id LIMIT $1"))
        .bind(limit)
        .fetch_all(conn)
        .await?;
    rows.iter().map(|row| decode(row)).collect()
}

/// The occurrence created from `previous` (a recurring task), if any.
pub async fn find_next_occurrence(conn: &mut AnyConnection, previous: TaskId) -> Result<Option<TaskSnapshot>> {
    let row = sqlx::query(&format!("SELECT {COLUMNS} FROM tasks WHERE recurs_from = $1"))
        .bind(previous.to_string())
        .fetch_optional(conn)
        .await?;
    row.as_ref().map(|row| decode(row)).transpose()
}

/// Beyond this many projects a list is one query over all of them with a
/// sort, instead of one index walk per project.
const MAX_WALKED_PROJECTS: usize = 64;

/// The tasks of `projects` that match `q`, a page in `q`'s order.
///
/// One project is one walk of its sort index that stops at the page limit.
/// Several are one such walk per project, each limited to a page, merged by
/// the sort key (`UNION ALL` of the walks): so a page costs about the same
/// whether a person has one project or fifty, however many tasks they hold.
/// A narrow filter is the exception: a rare search or a narrow due range is
/// read and sorted instead ([`Plan`]).
pub async fn list(conn: &mut AnyConnection, projects: &[ProjectId], q: &TaskQuery) -> Result<Vec<TaskSnapshot>> {
    let backend = Backend::of(conn);
    let mut plan = Plan::Chosen;
    for (probe, decision) in probes(backend, projects, q) {
        let count = probe.query().fetch_one(&mut *conn).await?.try_get("n")?;
        if let Some(decided) = decision.of(count) {
            plan = decided;
            break;
        }
    }
    let Some(sql) = list_query(backend, projects, q, plan, COLUMNS) else { return Ok(Vec::new()) };
    let rows = sql.query().fetch_all(conn).await?;
    rows.iter().map(|row| decode(row)).collect()
}

/// [`list`] over the committed state, outside any transaction: on SQLite
/// without sqlx (`Db::fetch_all`).
pub async fn list_committed(db: &Db, projects: &[ProjectId], q: &TaskQuery) -> Result<Vec<TaskSnapshot>> {
    let Some(sql) = committed_query(db, projects, q, COLUMNS).await? else { return Ok(Vec::new()) };
    db.fetch_all(sql, decode).await
}

/// [`list_committed`] with each task's JSON, the path of every page a person
/// lists. A task is decoded and rendered once per version: its JSON is a
/// function of its row, every change to the row raises `version`, and a
/// task's id is never reused, so an id and version name one rendering on
/// every replica.
///
/// The page is read as ids and versions first: SQLite computes every column
/// of every row it returns, and two columns instead of all of them are most
/// of a page's cost when its tasks are remembered. Only the tasks not
/// remembered at their version are then read whole. A task deleted between
/// the two reads would leave a hole (and could hide the next page), so the
/// page is read again; after a few tries, in one read.
pub async fn list_rendered(db: &Db, projects: &[ProjectId], q: &TaskQuery) -> Result<Vec<Arc<RenderedTask>>> {
    const TRIES: usize = 3;
    let rendered = db.rendered().clone();
    for _ in 0..TRIES {
        let Some(sql) = committed_query(db, projects, q, "id, version").await? else { return Ok(Vec::new()) };
        let known = rendered.clone();
        let listed = db
            .fetch_all(sql, move |row| {
                let id = TaskId::from_uuid(uuid_of(row, "id")?);
                let version = row.int("version")?;
                Ok(known.get(&id).filter(|task| task.snapshot.version == version).ok_or(id))
            })
            .await?;
        let missing: Vec<TaskId> = listed.iter().filter_map(|listed| listed.as_ref().err().copied()).collect();
        if missing.is_empty() {
            return Ok(listed.into_iter().flatten().collect());
        }
        let mut sql = Sql::default();
        let ids: Vec<String> = missing.iter().map(|id| sql.text(id.to_string())).collect();
        sql.push(&format!("SELECT {COLUMNS} FROM tasks WHERE id IN ({})", ids.join(", ")));
        let remember = rendered.clone();
        let fresh: std::collections::HashMap<TaskId, Arc<RenderedTask>> = db
            .fetch_all(sql, move |row| render(&remember, row))
            .await?
            .into_iter()
            .map(|task| (task.snapshot.id, task))
            .collect();
        let page: Option<Vec<_>> =
            listed.into_iter().map(|listed| listed.or_else(|id| fresh.get(&id).cloned().ok_or(id)).ok()).collect();
        if let Some(page) = page {
            return Ok(page);
        }
    }
    let Some(sql) = committed_query(db, projects, q, COLUMNS).await? else { return Ok(Vec::new()) };
    db.fetch_all(sql, move |row| render(&rendered, row)).await
}

/// A task as the API lists it.
#[derive(Debug)]
pub struct RenderedTask {
    pub snapshot: TaskSnapshot,
    /// `snapshot` as JSON.
    pub json: Box<RawValue>,
}

impl Serialize for RenderedTask {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> std::result::Result<S::Ok, S::Error> {
        self.json.serialize(serializer)
    }
}

/// The row's task rendered, and remembered at its version.
fn render(rendered: &Memo<TaskId, Arc<RenderedTask>>, row: &dyn Row) -> Result<Arc<RenderedTask>> {
    let snapshot = decode(row)?;
    let json = serde_json::value::to_raw_value(&snapshot)?;
    let task = Arc::new(RenderedTask { snapshot, json });
    rendered.remember(task.snapshot.id, task.clone());
    Ok(task)
}

/// The list query for the committed state, its plan decided by the probes,
/// selecting `columns`.
async fn committed_query(db: &Db, projects: &[ProjectId], q: &TaskQuery, columns: &str) -> Result<Option<Sql>> {
    let mut plan = Plan::Chosen;
    for (probe, decision) in probes(db.backend(), projects, q) {
        let count = db.fetch_all(probe, |row| row.int("n")).await?.first().copied().unwrap_or(0);
        if let Some(decided) = decision.of(count) {
            plan = decided;
            break;
        }
    }
    Ok(list_query(db.backend(), projects, q, plan, columns))
}

/// Up to this many candidate tasks (in a status and due range, or matching
/// a search) are read and sorted; beyond it the sort index is walked, where
/// one task in `FEW / tasks` or more matches and the page fills early.
const FEW: i64 = 500;

/// Where a list on SQLite starts. Its planner has no statistics to tell a
/// narrow filter from a wide one (we run no ANALYZE, and with it the planner
/// still walked the sort index through 100k tasks for 50 overdue ones:
/// 18 ms), so a bounded count decides ([`probes`]). A unary `+` keeps a
/// column out of index selection (SQLite's documented way).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Plan {
    /// As SQLite picks: the sort index, or `tasks_project_status_due` for a
    /// narrow due range (sorting at most [`FEW`] rows).
    Chosen,
    /// A wide due range: the sort index is walked (sorting 18k overdue tasks
    /// of 100k took 20 ms; the walk 0.3 ms), `status` and `due_at` are `+`'d.
    SortIndex,
    /// A rare search: its matches are read by rowid and sorted, `project_id`
    /// is `+`'d (walking the sort index for 100 matches in 100k tasks took
    /// 12 ms; reading and sorting them 0.6 ms).
    TextMatches,
}

/// What a probe's bounded count decides.
#[derive(Debug, Clone, Copy)]
struct Decision {
    /// The plan when fewer than [`FEW`] rows are counted.
    few: Plan,
    /// The plan otherwise; `None` leaves it to the next probe.
    many: Option<Plan>,
}

impl Decision {
    fn of(self, count: i64) -> Option<Plan> {
        if count < FEW { Some(self.few) } else { self.many }
    }
}

/// The counts that pick the [`Plan`], in order: the search's matches (over
/// every task: an upper bound for these projects), then the status and due
/// range. None on PostgreSQL, whose planner has statistics.
fn probes(backend: Backend, projects: &[ProjectId], q: &TaskQuery) -> Vec<(Sql, Decision)> {
    if backend != Backend::Sqlite || projects.is_empty() {
        return Vec::new();
    }
    let text = q.text.as_deref().and_then(fts_query).map(|text| {
        let mut sql = Sql::new("SELECT COUNT(*) AS n FROM (SELECT 1 FROM tasks_fts WHERE tasks_fts MATCH ");
        let p = sql.text(text);
        let limit = sql.int(FEW);
        sql.push(&format!("{p} LIMIT {limit})"));
        (sql, Decision { few: Plan::TextMatches, many: None })
    });
    let due =
        due_range_probe(projects, q).map(|sql| (sql, Decision { few: Plan::Chosen, many: Some(Plan::SortIndex) }));
    text.into_iter().chain(due).collect()
}

/// The bounded count of tasks in `q`'s status and due range (`overdue=true`,
/// or a status with `due_before`/`due_after`), over `tasks_project_status_due`.
fn due_range_probe(projects: &[ProjectId], q: &TaskQuery) -> Option<Sql> {
    let status = match (q.overdue_at, q.status) {
        (Some(_), _) => Status::Open,
        (None, Some(status)) if q.due_before.is_some() || q.due_after.is_some() => status,
        _ => return None,
    };
    let mut sql = Sql::new("SELECT COUNT(*) AS n FROM (SELECT 1 FROM tasks WHERE project_id IN (");
    let list: Vec<String> = projects.iter().map(|p| sql.text(p.to_string())).collect();
    let status = sql.text(status.as_str());
    sql.push(&list.join(", ")).push(&format!(") AND status = {status}"));
    let before = [q.due_before, q.overdue_at].into_iter().flatten().min();
    if let Some(before) = before {
        let p = sql.int(time::to_ms(before));
        sql.push(&format!(" AND due_at < {p}"));
    }
    if let Some(after) = q.due_after {
        let p = sql.int(time::to_ms(after));
        sql.push(&format!(" AND due_at >= {p}"));
    }
    let limit = sql.int(FEW);
    sql.push(&format!(" LIMIT {limit})"));
    Some(sql)
}

/// The query for a page of `q`, selecting `columns` of each task; `None`
/// when there is nothing to look in.
fn list_query(backend: Backend, projects: &[ProjectId], q: &TaskQuery, plan: Plan, columns: &str) -> Option<Sql> {
    if projects.is_empty() {
        return None;
    }
    let key = q.sort.expr(q.descending);
    let dir = if q.descending { "DESC" } else { "ASC" };
    let mut sql = Sql::default();
    if projects.len() == 1 || q.text.is_some() || projects.len() > MAX_WALKED_PROJECTS {
        let project_col = if plan == Plan::TextMatches { "+project_id" } else { "project_id" };
        sql.push(&format!("SELECT {columns} FROM tasks WHERE {project_col} IN ("));
        let list: Vec<String> = projects.iter().map(|p| sql.text(p.to_string())).collect();
        sql.push(&list.join(", ")).push(")");
        push_filters(&mut sql, backend, q, plan);
        let limit = sql.int(q.limit);
        sql.push(&format!(" ORDER BY {key} {dir}, id {dir} LIMIT {limit}"));
    } else {
        for (i, project) in projects.iter().enumerate() {
            let p = sql.text(project.to_string());
            sql.push(if i == 0 { "" } else { " UNION ALL " })
                .push(&format!("SELECT * FROM (SELECT {columns}, {key} AS sort_key FROM tasks WHERE project_id = {p}"));
            push_filters(&mut sql, backend, q, plan);
            let limit = sql.int(q.limit);
            sql.push(&format!(" ORDER BY {key} {dir}, id {dir} LIMIT {limit}) AS walk{i}"));
        }
        let limit = sql.int(q.limit);
        sql.push(&format!(" ORDER BY sort_key {dir}, id {dir} LIMIT {limit}"));
    }
    Some(sql)
}

/// The filters of `q` and its cursor, as ` AND ...` conditions.
fn push_filters(sql: &mut Sql, backend: Backend, q: &TaskQuery, plan: Plan) {
    let (status_col, due_col) = match plan {
        Plan::SortIndex => ("+status", "+due_at"),
        Plan::Chosen | Plan::TextMatches => ("status", "due_at"),
    };
    if let Some(status) = q.status {
        let p = sql.text(status.as_str());
        sql.push(&format!(" AND {status_col} = {p}"));
    }
    match q.section {
        None => {}
        Some(None) => {
            sql.push(" AND section_id IS NULL");
        }
        Some(Some(section)) => {
            let p = sql.text(section.to_string());
            sql.push(&format!(" AND section_id = {p}"));
        }
    }
    match q.parent {
        None => {}
        Some(None) => {
            sql.push(" AND parent_id IS NULL");
        }
        Some(Some(parent)) => {
            let p = sql.text(parent.to_string());
            sql.push(&format!(" AND parent_id = {p}"));
        }
    }
    if let Some(assignee) = q.assignee {
        let p = sql.text(assignee.to_string());
        sql.push(&format!(" AND assignee_id = {p}"));
    }
    if !q.priorities.is_empty() {
        let list: Vec<String> = q.priorities.iter().map(|p| sql.int(p.rank())).collect();
        sql.push(&format!(" AND priority IN ({})", list.join(", ")));
    }
    // One point lookup per tag on task_tags' primary key, so the planner can walk
    // the sort index and stop at the page limit (a GROUP BY over every task with
    // the tag was 100x slower on 100k tasks).
    //
    // Before it, the row's own `tags` column (the JSON array the same write
    // stores) rules most tasks out: the tag as a JSON string occurs in it
    // whenever the task has the tag. The lookup then only confirms a substring
    // match: SQLite codes a correlated subquery after a row's plain
    // conditions, and PostgreSQL orders conditions by their cost. (A tag holds
    // no quote (`Tag::parse`), so for the app's tasks the match is already
    // exact; the lookup keeps it exact for any string the store is given.)
    // Two tags matching 1 task in 200 of 100k: a page's p50 6.3 -> 3.0 ms.
    let find = match backend {
        Backend::Sqlite => "instr",
        Backend::Postgres => "strpos",
    };
    for tag in &q.tags {
        let needle = sql.text(serde_json::Value::String(tag.clone()).to_string());
        let p = sql.text(tag.clone());
        sql.push(&format!(
            " AND {find}(tags, {needle}) > 0 \
             AND EXISTS (SELECT 1 FROM task_tags tt WHERE tt.task_id = tasks.id AND tt.tag = {p})"
        ));
    }
    if let Some(text) = q.text.as_deref() {
        match backend {
            Backend::Sqlite => {
                if let Some(text) = fts_query(text) {
                    let p = sql.text(text);
                    sql.push(&format!(" AND rowid IN (SELECT rowid FROM tasks_fts WHERE tasks_fts MATCH {p})"));
                }
            }
            Backend::Postgres => {
                if let Some(text) = tsquery(text) {
                    let p = sql.text(text);
                    sql.push(&format!(" AND search @@ to_tsquery('simple', {p})"));
                }
            }
        }
    }
    if let Some(before) = q.due_before {
        let p = sql.int(time::to_ms(before));
        sql.push(&format!(" AND {due_col} < {p}"));
    }
    if let Some(after) = q.due_after {
        let p = sql.int(time::to_ms(after));
        sql.push(&format!(" AND {due_col} >= {p}"));
    }
    if let Some(now) = q.overdue_at {
        let p = sql.int(time::to_ms(now));
        sql.push(&format!(" AND {status_col} = 'open' AND {due_col} < {p}"));
    }
    if let Some((k, id)) = &q.after {
        let key = q.sort.expr(q.descending);
        let cmp = if q.descending { "<" } else { ">" };
        let kp = sql.int(*k);
        let kp2 = sql.int(*k);
        let ip = sql.text(id.clone());
        sql.push(&format!(" AND ({key} {cmp} {kp} OR ({key} = {kp2} AND id {cmp} {ip}))"));
    }
}

/// Every task of every user, in id order, a page at a time (replay checks).
pub async fn all_after(conn: &mut AnyConnection, after_id: Option<TaskId>, limit: i64) -> Result<Vec<TaskSnapshot>> {
    let after = after_id.map(|id| id.to_string()).unwrap_or_default();
    let rows = sqlx::query(&format!("SELECT {COLUMNS} FROM tasks WHERE id > $1 ORDER BY id LIMIT $2"))
        .bind(after)
        .bind(limit)
        .fetch_all(conn)
        .await?;
    rows.iter().map(|row| decode(row)).collect()
}

/// Turns free text into an FTS5 query that matches every word (as a prefix), so
/// user input can never be an FTS syntax error.
fn fts_query(text: &str) -> Option<String> {
    let terms: Vec<String> = text
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(|w| format!("\"{}\"*", w.replace('"', "\"\"")))
        .collect();
    (!terms.is_empty()).then(|| terms.join(" "))
}

/// The PostgreSQL counterpart of [`fts_query`]: every word as a quoted prefix
/// term, ANDed, so user input can never be a tsquery syntax error.
fn tsquery(text: &str) -> Option<String> {
    let terms: Vec<String> = text
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(|w| format!("'{}':*", w.to_lowercase()))
        .collect();
    (!terms.is_empty()).then(|| terms.join(" & "))
}

/// A tag in use, with how many of the owner's tasks carry it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TagCount {
    pub tag: String,
    pub tasks: i64,
    pub open: i64,
}

/// Every tag on the tasks of `projects`, alphabetically, with task counts.
pub async fn tag_counts(conn: &mut AnyConnection, projects: &[ProjectId]) -> Result<Vec<TagCount>> {
    if projects.is_empty() {
        return Ok(Vec::new());
    }
    let mut sql = Sql::new(
        "SELECT tt.tag AS tag, COUNT(*) AS tasks, \
         SUM(CASE WHEN t.status = 'open' THEN 1 ELSE 0 END) AS open \
         FROM task_tags tt JOIN tasks t ON t.id = tt.task_id WHERE t.project_id IN (",
    );
    let list: Vec<String> = projects.iter().map(|p| sql.text(p.to_string())).collect();
    sql.push(&list.join(", ")).push(") GROUP BY tt.tag ORDER BY tt.tag");
    let rows = sql.query().fetch_all(conn).await?;
    rows.iter()
        .map(|row| Ok(TagCount { tag: row.try_get("tag")?, tasks: row.try_get("tasks")?, open: row.try_get("open")? }))
        .collect()
}

fn decode(row: &dyn Row) -> Result<TaskSnapshot> {
    // Columns are read in the order of COLUMNS: the row finds each one next.
    Ok(TaskSnapshot {
        id: TaskId::from_uuid(uuid_of(row, "id")?),
        owner_id: UserId::from_uuid(uuid_of(row, "owner_id")?),
        project_id: maybe_uuid_of(row, "project_id")?.map(ProjectId::from_uuid),
        section_id: maybe_uuid_of(row, "section_id")?.map(SectionId::from_uuid),
        parent_id: maybe_uuid_of(row, "parent_id")?.map(TaskId::from_uuid),
        assignee_id: maybe_uuid_of(row, "assignee_id")?.map(UserId::from_uuid),
        title: row.text("title")?,
        description: row.text("description")?,
        status: {
            let status = row.text_ref("status")?;
            Status::parse(&status).ok_or_else(|| StoreError::Corrupt(format!("status {status:?}")))?
        },
        completed_at: time::from_opt_ms(row.maybe_int("completed_at")?)?,
        priority: {
            let priority = row.int("priority")?;
            Priority::from_rank(priority).ok_or_else(|| StoreError::Corrupt(format!("priority {priority}")))?
        },
        tags: serde_json::from_str(&row.text_ref("tags")?)?,
        due: row.maybe_text("due")?,
        due_at: time::from_opt_ms(row.maybe_int("due_at")?)?,
        reminders: serde_json::from_str(&row.text_ref("reminders")?)?,
        recurrence: row.maybe_text("recurrence")?,
        repeat_from: match row.maybe_text_ref("repeat_from")? {
            None => RepeatFrom::Due,
            Some(raw) => RepeatFrom::parse(&raw).map_err(|_| StoreError::Corrupt(format!("repeat_from {raw:?}")))?,
        },
        recurrence_anchor: row.maybe_text("recurrence_anchor")?,
        recurs_from: maybe_uuid_of(row, "recurs_from")?.map(TaskId::from_uuid),
        position: row.int("position")?,
        version: row.int("version")?,
        created_at: time::from_ms(row.int("created_at")?)?,
        updated_at: time::from_ms(row.int("updated_at")?)?,
    })
}

/// The `repeat_from` column: NULL for a fixed schedule, as rows before it.
fn repeat_from_column(from: RepeatFrom) -> Option<&'static str> {
    (!from.is_due()).then_some(from.as_str())
}

#[cfg(test)]
mod tests {
    use super::fts_query;

    #[test]
    fn fts_query_quotes_every_word() {
        assert_eq!(fts_query("pay rent").as_deref(), Some("\"pay\"* \"rent\"*"));
        assert_eq!(fts_query("\"OR\" NEAR(").as_deref(), Some("\"OR\"* \"NEAR\"*"));
        assert_eq!(fts_query("  -- "), None);
    }
}
