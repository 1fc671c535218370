//! A project's activity: what its members did, newest first, a page at a time,
//! live like the project's other pages. Read through the same service as
//! `GET /api/v1/projects/{id}/activity`, so the one policy decides who sees it.
use std::collections::HashMap;

use ontask_domain::{Event, EventEnvelope, ProjectId, UserId};

use super::*;
use crate::projects::{ProjectHead, people};
use crate::tree::display_name;

/// Entries per page.
const ACTIVITY_PAGE: i64 = 50;

#[derive(Debug, Default, Deserialize)]
pub(crate) struct ActivityQuery {
    /// The `seq` of the oldest entry of the previous page.
    before: Option<i64>,
}

#[derive(Debug, Serialize)]
struct ActivityItem {
    #[serde(flatten)]
    line: view::HistoryItem,
    /// What the entry is about: a task's title, a section's name, a member.
    subject: String,
    /// A task that still exists, to link to.
    task_id: Option<String>,
}

/// What an entry is about, and the task to link to (none once it is deleted).
fn subject(event: &Event, me: UserId, people: &HashMap<String, (String, String)>) -> (String, Option<String>) {
    if let Event::TaskDeleted(s) = event {
        return (s.task.title.clone(), None);
    }
    if let Some(task) = event.task() {
        return (task.title.clone(), Some(task.id.to_string()));
    }
    match event {
        Event::SectionCreated(s) | Event::SectionUpdated(s) | Event::SectionDeleted(s) => {
            (s.section.name.as_str().to_owned(), None)
        }
        Event::MemberAdded(m) | Event::MemberRoleChanged(m) | Event::MemberRemoved(m) => {
            let who = if m.member.user_id == me {
                "you".to_owned()
            } else {
                display_name(people, m.member.user_id).unwrap_or_else(|| "a former member".to_owned())
            };
            (format!("{who} ({})", m.member.role.as_str()), None)
        }
        Event::CommentAdded(c) | Event::CommentEdited(c) => (String::new(), Some(c.comment.task_id.to_string())),
        _ => (String::new(), None),
    }
}

fn item(e: &EventEnvelope, v: &Viewer, now: DateTime<Utc>, people: &HashMap<String, (String, String)>) -> ActivityItem {
    let by = (e.user_id != v.actor.user_id)
        .then(|| display_name(people, e.user_id).unwrap_or_else(|| "a former member".to_owned()));
    let line = view::history_item(e, v.tz, now, by.as_deref());
    let (subject, task_id) = subject(&e.event, v.actor.user_id, people);
    ActivityItem { line, subject, task_id }
}

async fn activity_context(state: &WebState, v: &Viewer, raw_id: &str, q: &ActivityQuery) -> Result<Value, AppError> {
    let id = ProjectId::parse(raw_id).map_err(|_| AppError::NotFound)?;
    let project = state.app.projects().get(&v.actor, id).await?;
    let events = state.app.projects().activity(&v.actor, id, q.before, ACTIVITY_PAGE).await?;
    let members = state.app.projects().members(&v.actor, id).await?;
    let known = people(&members);
    let now = Utc::now();
    let older = (events.len() as i64 == ACTIVITY_PAGE).then(|| events.last().map(|e| e.seq)).flatten();
    let items: Vec<ActivityItem> = events.iter().map(|e| item(&e.envelope, v, now, &known)).collect();
    let src = match q.before {
        Some(before) => format!("/ui/projects/{raw_id}/activity?before={before}"),
        None => format!("/ui/projects/{raw_id}/activity"),
    };
    Ok(context! { project => ProjectHead::from(&project), items, older, src, current => raw_id })
}

pub(crate) async fn activity_page(
    State(state): State<WebState>,
    reference: Reference,
    jar: CookieJar,
    uri: axum::http::Uri,
    Path(id): Path<String>,
    query: Result<Query<ActivityQuery>, axum_extra::extract::QueryRejection>,
) -> Response {
    let Some(v) = viewer(&state, &jar).await else { return login_redirect(&uri) };
    let q = query.map(|Query(q)| q).unwrap_or_default();
    match activity_context(&state, &v, &id, &q).await {
        Ok(ctx) => {
            let (_, nav) = sidebar::load(&state, &v, &id).await;
            render(&state, "activity.html", projects::page_context(&v, nav, ctx))
        }
        Err(e) => error_page(&state, v.theme, &e, &reference),
    }
}

pub(crate) async fn activity_fragment(
    State(state): State<WebState>,
    reference: Reference,
    jar: CookieJar,
    Path(id): Path<String>,
    query: Result<Query<ActivityQuery>, axum_extra::extract::QueryRejection>,
) -> Response {
    let Some(v) = viewer(&state, &jar).await else { return StatusCode::UNAUTHORIZED.into_response() };
    let q = query.map(|Query(q)| q).unwrap_or_default();
    match activity_context(&state, &v, &id, &q).await {
        Ok(ctx) => render(&state, "_activity.html", ctx),
        Err(AppError::NotFound) => StatusCode::NOT_FOUND.into_response(),
        Err(e) => error_page(&state, v.theme, &e, &reference),
    }
}
