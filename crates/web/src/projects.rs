//! A project's pages: its tasks as a list grouped by section or as a board
//! (sections as columns), its members, and the views across projects that
//! group tasks too (Upcoming by day, Assigned to me). Each page has a fragment
//! the script reloads when an event about the project arrives.
//!
//! Every read goes through the application services, so the one policy
//! decides what the viewer sees (a non-member gets "not found"); the controls
//! a role may not use are left out, and the server refuses them anyway.
use std::collections::HashMap;

use ontask_app::projects::{MemberView, ProjectView};
use ontask_domain::{ProjectAction, ProjectId, ProjectRole};

use super::*;
use crate::tree::{self, Group, SectionRef};

#[derive(Debug, Default, Deserialize)]
pub(crate) struct ProjectQuery {
    /// `board`, or the list when anything else.
    #[serde(default)]
    view: String,
}

impl ProjectQuery {
    fn board(&self) -> bool {
        self.view == "board"
    }
}

#[derive(Debug, Serialize)]
pub(crate) struct ProjectHead {
    id: String,
    name: String,
    colour: &'static str,
    description: String,
    inbox: bool,
    archived: bool,
    shared: bool,
    members: i64,
    role: &'static str,
    can_edit: bool,
    can_manage: bool,
}

impl From<&ProjectView> for ProjectHead {
    fn from(p: &ProjectView) -> Self {
        Self {
            id: p.project.id.to_string(),
            name: p.project.name.as_str().to_owned(),
            colour: p.project.colour.as_str(),
            description: p.project.description.as_str().to_owned(),
            inbox: p.project.inbox,
            archived: p.project.archived,
            shared: p.members > 1,
            members: p.members,
            role: p.role.as_str(),
            // An archived project takes no edits (the policy answers 409).
            can_edit: p.role.allows(ProjectAction::Edit) && !p.project.archived,
            can_manage: p.role.allows(ProjectAction::Manage),
        }
    }
}

fn project_id(raw: &str) -> Result<ProjectId, AppError> {
    ProjectId::parse(raw).map_err(|_| AppError::NotFound)
}

/// user id → (name, e-mail), for initials on rows.
pub(crate) fn people(members: &[MemberView]) -> HashMap<String, (String, String)> {
    members.iter().map(|m| (m.user_id.to_string(), (m.name.clone(), m.email.clone()))).collect()
}

/// Names the assignees on rows from several projects (All tasks, Upcoming):
/// the members of each project a row is assigned in. A project that cannot be
/// read leaves its rows without initials rather than failing the page.
pub(crate) async fn name_assignees(state: &WebState, v: &Viewer, rows: &mut [view::TaskView]) {
    let assigned: std::collections::BTreeSet<&str> =
        rows.iter().filter(|r| r.assignee_id.is_some()).filter_map(|r| r.project_id.as_deref()).collect();
    let mut known = HashMap::new();
    for raw in assigned {
        let Ok(id) = ProjectId::parse(raw) else { continue };
        match state.app.projects().members(&v.actor, id).await {
            Ok(members) => known.extend(people(&members)),
            Err(e) => {
                tracing::warn!(error = %ontask_telemetry::error_chain(&e), "a project's members could not be read")
            }
        }
    }
    tree::assignees(rows, &known);
}

/// Every task of a project: the open ones and the completed ones (whose
/// subtasks still count), in manual order.
async fn project_tasks(state: &WebState, v: &Viewer, id: ProjectId) -> Result<Vec<view::TaskView>, AppError> {
    let now = Utc::now();
    let mut all = Vec::new();
    for status in ["open", "completed"] {
        let params = ListParams {
            project: Some(id.to_string()),
            status: Some(status.into()),
            limit: Some(PAGE),
            ..ListParams::default()
        };
        all.extend(state.app.tasks().list(&v.actor, &params).await?.items);
    }
    all.sort_by_key(|t| t.position);
    Ok(all.iter().map(|t| view::task_view(t, v.tz, now, false)).collect())
}

pub(crate) async fn project_context(
    state: &WebState,
    v: &Viewer,
    raw_id: &str,
    q: &ProjectQuery,
) -> Result<Value, AppError> {
    let id = project_id(raw_id)?;
    let project = state.app.projects().get(&v.actor, id).await?;
    let head = ProjectHead::from(&project);
    let sections = state.app.projects().sections(&v.actor, id).await?;
    let members = state.app.projects().members(&v.actor, id).await?;
    let mut rows = tree::nest(project_tasks(state, v, id).await?, false);
    tree::assignees(&mut rows, &people(&members));
    for row in &mut rows {
        row.readonly = !head.can_edit;
    }
    let refs: Vec<SectionRef> =
        sections.iter().map(|s| SectionRef { id: s.id.to_string(), name: s.name.as_str().to_owned() }).collect();
    let groups = tree::by_section(rows, &refs);
    let any = groups.iter().any(|g| !g.tasks.is_empty());
    let board = q.board();
    let src = format!("/ui/projects/{}{}", head.id, if board { "?view=board" } else { "" });
    Ok(context! {
        project => head,
        groups,
        any,
        board,
        src,
        sections => sections.iter().map(|s| context! { id => s.id.to_string(), name => s.name.as_str(), version => s.version }).collect::<Vec<_>>(),
        current => raw_id,
    })
}

pub(crate) async fn project_page(
    State(state): State<WebState>,
    reference: Reference,
    jar: CookieJar,
    uri: axum::http::Uri,
    Path(id): Path<String>,
    query: Result<Query<ProjectQuery>, axum_extra::extract::QueryRejection>,
) -> Response {
    let Some(v) = viewer(&state, &jar).await else { return login_redirect(&uri) };
    let q = query.map(|Query(q)| q).unwrap_or_default();
    match project_context(&state, &v, &id, &q).await {
        Ok(ctx) => {
            let (_, nav) = sidebar::load(&state, &v, &id).await;
            render(&state, "groups.html", page_context(&v, nav, ctx))
        }
        Err(e) => error_page(&state, v.theme, &e, &reference),
    }
}

pub(crate) async fn project_fragment(
    State(state): State<WebState>,
    reference: Reference,
    jar: CookieJar,
    Path(id): Path<String>,
    query: Result<Query<ProjectQuery>, axum_extra::extract::QueryRejection>,
) -> Response {
    let Some(v) = viewer(&state, &jar).await else { return StatusCode::UNAUTHORIZED.into_response() };
    let q = query.map(|Query(q)| q).unwrap_or_default();
    match project_context(&state, &v, &id, &q).await {
        Ok(ctx) => render(&state, "_groups.html", ctx),
        Err(AppError::NotFound) => StatusCode::NOT_FOUND.into_response(),
        Err(e) => error_page(&state, v.theme, &e, &reference),
    }
}

/// What every page with the sidebar shows around its content.
pub(crate) fn page_context(v: &Viewer, nav: sidebar::Nav, ctx: Value) -> Value {
    context! {
        theme => v.theme, email => v.email, name => v.name, tz => v.tz.name(),
        profile_tz => v.profile_tz.map(|tz| tz.name()), signed_in => true, nav, ..ctx
    }
}

// ---------------------------------------------------------------- members

#[derive(Debug, Serialize)]
struct MemberRow {
    user_id: String,
    name: String,
    email: String,
    initials: String,
    role: &'static str,
    owner: bool,
    me: bool,
}

async fn members_context(state: &WebState, v: &Viewer, raw_id: &str) -> Result<Value, AppError> {
    let id = project_id(raw_id)?;
    let project = state.app.projects().get(&v.actor, id).await?;
    let members = state.app.projects().members(&v.actor, id).await?;
    let me = v.actor.user_id.to_string();
    let rows: Vec<MemberRow> = members
        .iter()
        .map(|m| MemberRow {
            user_id: m.user_id.to_string(),
            name: m.name.clone(),
            email: m.email.clone(),
            initials: tree::initials(&m.name, &m.email),
            role: m.role.as_str(),
            owner: m.role == ProjectRole::Owner,
            me: m.user_id.to_string() == me,
        })
        .collect();
    let roles: Vec<&str> = ProjectRole::ALL.iter().filter(|r| **r != ProjectRole::Owner).map(|r| r.as_str()).collect();
    Ok(context! {
        project => ProjectHead::from(&project),
        members => rows,
        roles,
        palette => sidebar::palette(),
        src => format!("/ui/projects/{raw_id}/members"),
        current => raw_id,
    })
}

pub(crate) async fn members_page(
    State(state): State<WebState>,
    reference: Reference,
    jar: CookieJar,
    uri: axum::http::Uri,
    Path(id): Path<String>,
) -> Response {
    let Some(v) = viewer(&state, &jar).await else { return login_redirect(&uri) };
    match members_context(&state, &v, &id).await {
        Ok(ctx) => {
            let (_, nav) = sidebar::load(&state, &v, &id).await;
            render(&state, "members.html", page_context(&v, nav, ctx))
        }
        Err(e) => error_page(&state, v.theme, &e, &reference),
    }
}

pub(crate) async fn members_fragment(
    State(state): State<WebState>,
    reference: Reference,
    jar: CookieJar,
    Path(id): Path<String>,
) -> Response {
    let Some(v) = viewer(&state, &jar).await else { return StatusCode::UNAUTHORIZED.into_response() };
    match members_context(&state, &v, &id).await {
        Ok(ctx) => render(&state, "_members.html", ctx),
        Err(AppError::NotFound) => StatusCode::NOT_FOUND.into_response(),
        Err(e) => error_page(&state, v.theme, &e, &reference),
    }
}

// ---------------------------------------------------------------- across projects

/// The views across projects: tasks due soon by day, and tasks assigned to me.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Across {
    Upcoming,
    Assigned,
}

/// How far ahead Upcoming looks.
const UPCOMING_DAYS: i64 = 14;

impl Across {
    fn key(self) -> &'static str {
        match self {
            Self::Upcoming => "upcoming",
            Self::Assigned => "assigned",
        }
    }

    fn title(self) -> &'static str {
        match self {
            Self::Upcoming => "Upcoming",
            Self::Assigned => "Assigned to me",
        }
    }
}

async fn across_context(state: &WebState, v: &Viewer, which: Across) -> Result<Value, AppError> {
    let now = Utc::now();
    let today = now.with_timezone(&v.tz).date_naive();
    let params = match which {
        Across::Upcoming => ListParams {
            status: Some("open".into()),
            due_before: Some(list::local_midnight(today + Duration::days(UPCOMING_DAYS), v.tz).to_rfc3339()),
            sort: Some("due".into()),
            limit: Some(PAGE),
            ..ListParams::default()
        },
        Across::Assigned => ListParams {
            status: Some("open".into()),
            assignee: Some("me".into()),
            sort: Some("due".into()),
            limit: Some(PAGE),
            ..ListParams::default()
        },
    };
    let page = state.app.tasks().list(&v.actor, &params).await?;
    let projects = state.app.projects().list(&v.actor, false).await?;
    let readonly = sidebar::readonly(&projects);
    let (days, mut rows): (Vec<Option<NaiveDate>>, Vec<view::TaskView>) = page
        .items
        .iter()
        .map(|t| {
            let day = t.due.as_deref().and_then(|d| Due::parse(d).ok()).map(|d| match d {
                Due::Date(d) => d,
                Due::At { at, .. } => at.with_timezone(&v.tz).date_naive(),
            });
            (day, view::task_view(t, v.tz, now, false))
        })
        .collect();
    tree::mark_readonly(&mut rows, &readonly);
    name_assignees(state, v, &mut rows).await;
    let items: Vec<(Option<NaiveDate>, view::TaskView)> = days.into_iter().zip(rows).collect();
    let groups: Vec<Group> = match which {
        Across::Upcoming => tree::by_day(items, today),
        Across::Assigned => {
            let tasks: Vec<_> = items.into_iter().map(|(_, t)| t).collect();
            let cards = tasks.len();
            vec![Group { key: "assigned".into(), label: String::new(), section_id: None, tasks, cards }]
        }
    };
    let any = groups.iter().any(|g| !g.tasks.is_empty());
    Ok(context! {
        groups, any, board => false, title => which.title(), across => which.key(),
        src => format!("/ui/{}", which.key()), current => which.key(),
    })
}

pub(crate) async fn across_page(
    state: WebState,
    reference: Reference,
    jar: CookieJar,
    uri: axum::http::Uri,
    which: Across,
) -> Response {
    let Some(v) = viewer(&state, &jar).await else { return login_redirect(&uri) };
    match across_context(&state, &v, which).await {
        Ok(ctx) => {
            let (_, nav) = sidebar::load(&state, &v, which.key()).await;
            render(&state, "groups.html", page_context(&v, nav, ctx))
        }
        Err(e) => error_page(&state, v.theme, &e, &reference),
    }
}

pub(crate) async fn across_fragment(state: WebState, reference: Reference, jar: CookieJar, which: Across) -> Response {
    let Some(v) = viewer(&state, &jar).await else { return StatusCode::UNAUTHORIZED.into_response() };
    match across_context(&state, &v, which).await {
        Ok(ctx) => render(&state, "_groups.html", ctx),
        Err(e) => error_page(&state, v.theme, &e, &reference),
    }
}

pub(crate) async fn upcoming_page(
    State(state): State<WebState>,
    reference: Reference,
    jar: CookieJar,
    uri: axum::http::Uri,
) -> Response {
    across_page(state, reference, jar, uri, Across::Upcoming).await
}

pub(crate) async fn assigned_page(
    State(state): State<WebState>,
    reference: Reference,
    jar: CookieJar,
    uri: axum::http::Uri,
) -> Response {
    across_page(state, reference, jar, uri, Across::Assigned).await
}

pub(crate) async fn upcoming_fragment(State(state): State<WebState>, reference: Reference, jar: CookieJar) -> Response {
    across_fragment(state, reference, jar, Across::Upcoming).await
}

pub(crate) async fn assigned_fragment(State(state): State<WebState>, reference: Reference, jar: CookieJar) -> Response {
    across_fragment(state, reference, jar, Across::Assigned).await
}
