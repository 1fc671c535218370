//! One task: its detail page and fragment, with its history.
use super::*;

pub(crate) async fn detail_context(state: &WebState, v: &Viewer, raw_id: &str) -> Result<Value, AppError> {
    let id = TaskId::parse(raw_id).map_err(|_| AppError::NotFound)?;
    let now = Utc::now();
    let task = state.app.tasks().get(&v.actor, id).await?;
    let history = state.app.tasks().history(&v.actor, id).await.unwrap_or_default();
    let place = placement(state, v, &task).await?;
    let mut items: Vec<_> = history
        .iter()
        .map(|e| {
            let by = e.envelope.user_id;
            let other = (by != v.actor.user_id)
                .then(|| tree::display_name(&place.people, by).unwrap_or_else(|| "a former member".to_owned()));
            view::history_item(&e.envelope, v.tz, now, other.as_deref())
        })
        .collect();
    items.reverse();
    let mut subtasks: Vec<_> =
        state.app.tasks().subtasks(&v.actor, id).await?.iter().map(|t| view::task_view(t, v.tz, now, false)).collect();
    let mut view = view::task_view(&task, v.tz, now, true);
    view.readonly = !place.can_edit;
    tree::assignees(std::slice::from_mut(&mut view), &place.people);
    tree::assignees(&mut subtasks, &place.people);
    for s in &mut subtasks {
        s.readonly = !place.can_edit;
    }
    let parent = match task.parent_id {
        Some(p) => {
            state.app.tasks().get(&v.actor, p).await.ok().map(|p| context! { id => p.id.to_string(), title => p.title })
        }
        None => None,
    };
    let done = subtasks.iter().filter(|s| s.done).count();
    let comments: Vec<_> = state
        .app
        .comments()
        .list(&v.actor, id)
        .await?
        .into_iter()
        .map(|c| {
            let author = c.comment.author_id;
            let mine = author == v.actor.user_id;
            let by = if mine {
                "you".to_owned()
            } else {
                tree::display_name(&place.people, author).unwrap_or_else(|| "a former member".to_owned())
            };
            context! {
                id => c.comment.id.to_string(),
                by,
                html => markdown::render(c.comment.body.as_str()),
                when => view::instant_label(c.comment.created_at, v.tz, now),
                iso => c.comment.created_at.to_rfc3339(),
                edited => c.edited,
                version => c.comment.version,
                // The raw Markdown, for the edit box (only its author's).
                body => if mine && place.can_edit { Some(c.comment.body.as_str().to_owned()) } else { None },
                can_delete => mine && place.can_edit || place.owner,
            }
        })
        .collect();
    Ok(context! {
        comments,
        task => view,
        history => items,
        tz => v.tz.name(),
        subtasks,
        subtasks_done => done,
        parent,
        can_edit => place.can_edit,
        project => place.project,
        move_to => place.move_to,
        sections => place.sections,
        members => place.members,
        // Deeper subtasks are refused by the domain; the form is not offered.
        can_add_subtask => place.can_edit && depth(state, v, &task).await < ontask_domain::MAX_SUBTASK_DEPTH,
    })
}

#[derive(Serialize)]
struct Choice {
    id: String,
    label: String,
    selected: bool,
}

/// Where a task is and where it may go: its project, the projects the viewer
/// may move it to, its project's sections and members.
struct Place {
    can_edit: bool,
    /// The viewer owns the project (and so may delete anyone's comment).
    owner: bool,
    project: Value,
    move_to: Vec<Choice>,
    sections: Vec<Choice>,
    members: Vec<Choice>,
    people: std::collections::HashMap<String, (String, String)>,
}

async fn placement(state: &WebState, v: &Viewer, task: &ontask_domain::TaskSnapshot) -> Result<Place, AppError> {
    use ontask_domain::ProjectAction;
    let Some(pid) = task.project_id else {
        return Ok(Place {
            can_edit: true,
            owner: true,
            project: Value::from(()),
            move_to: vec![],
            sections: vec![],
            members: vec![],
            people: Default::default(),
        });
    };
    let project = state.app.projects().get(&v.actor, pid).await?;
    let can_edit = project.role.allows(ProjectAction::Edit) && !project.project.archived;
    let owner = project.role.allows(ProjectAction::Manage);
    let projects = state.app.projects().list(&v.actor, false).await?;
    let move_to = projects
        .iter()
        .filter(|p| p.role.allows(ProjectAction::Edit) || p.project.id == pid)
        .map(|p| Choice {
            id: p.project.id.to_string(),
            label: p.project.name.as_str().to_owned(),
            selected: p.project.id == pid,
        })
        .collect();
    let sections = state
        .app
        .projects()
        .sections(&v.actor, pid)
        .await?
        .into_iter()
        .map(|s| Choice {
            id: s.id.to_string(),
            label: s.name.as_str().to_owned(),
            selected: task.section_id == Some(s.id),
        })
        .collect();
    let members = state.app.projects().members(&v.actor, pid).await?;
    let people = members.iter().map(|m| (m.user_id.to_string(), (m.name.clone(), m.email.clone()))).collect();
    let members = members
        .iter()
        .map(|m| Choice {
            id: m.user_id.to_string(),
            label: if m.name.trim().is_empty() { m.email.clone() } else { format!("{} ({})", m.name, m.email) },
            selected: task.assignee_id == Some(m.user_id),
        })
        .collect();
    let project = context! {
        id => pid.to_string(), name => project.project.name.as_str(), colour => project.project.colour.as_str(),
        inbox => project.project.inbox,
    };
    Ok(Place { can_edit, owner, project, move_to, sections, members, people })
}

/// How deep a task sits: 1 for a top-level task.
async fn depth(state: &WebState, v: &Viewer, task: &ontask_domain::TaskSnapshot) -> usize {
    let mut depth = 1;
    let mut parent = task.parent_id;
    while let Some(p) = parent {
        depth += 1;
        parent = state.app.tasks().get(&v.actor, p).await.ok().and_then(|t| t.parent_id);
        if depth > ontask_domain::MAX_SUBTASK_DEPTH {
            break;
        }
    }
    depth
}

pub(crate) async fn detail_page(
    State(state): State<WebState>,
    reference: Reference,
    jar: CookieJar,
    uri: axum::http::Uri,
    Path(id): Path<String>,
) -> Response {
    let Some(v) = viewer(&state, &jar).await else { return login_redirect(&uri) };
    match detail_context(&state, &v, &id).await {
        Ok(ctx) => render(
            &state,
            "detail.html",
            context! { theme => v.theme, email => v.email, name => v.name, signed_in => true, zones => zones(),
            nav => sidebar::load(&state, &v, "").await.1, ..ctx },
        ),
        Err(e) => error_page(&state, v.theme, &e, &reference),
    }
}

pub(crate) async fn detail_fragment(
    State(state): State<WebState>,
    reference: Reference,
    jar: CookieJar,
    Path(id): Path<String>,
) -> Response {
    let Some(v) = viewer(&state, &jar).await else { return StatusCode::UNAUTHORIZED.into_response() };
    match detail_context(&state, &v, &id).await {
        Ok(ctx) => render(&state, "_detail.html", ctx),
        Err(AppError::NotFound) => StatusCode::NOT_FOUND.into_response(),
        Err(e) => error_page(&state, v.theme, &e, &reference),
    }
}

pub(crate) fn zones() -> Vec<&'static str> {
    chrono_tz::TZ_VARIANTS.iter().map(|z| z.name()).filter(|n| n.contains('/') && !n.starts_with("Etc/")).collect()
}
