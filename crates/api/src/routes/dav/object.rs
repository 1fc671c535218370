//! A task's resource: GET, PUT and DELETE with entity tags (the task's
//! version), and the WebDAV methods on it.
use axum::extract::{Path, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use ontask_app::caldav::{CalDavError, Collection, Conditions, Resource, Written};
use ontask_dav::{Multistatus, Name, Node};
use ontask_domain::ProjectId;
use ontask_ical::Resources;

use super::props::{self, http_date};
use super::{
    ALLOW_OBJECT, DavCaller, DavError, body, calendar_href, is, multistatus, options, own, project_id, sign_in,
};
use crate::ApiState;
use crate::routes::export::ICALENDAR;

/// The conditional headers of a change. An `If-Match` that is not one of
/// the tags this server hands out can never match (412).
fn conditions(headers: &HeaderMap) -> Result<Conditions, DavError> {
    let mut c = Conditions::default();
    if let Some(raw) = headers.get(header::IF_MATCH) {
        let raw = raw.to_str().unwrap_or("").trim();
        if raw == "*" {
            c.must_exist = true;
        } else {
            // A list names several versions; a client sends the one it has.
            let first = raw.split(',').next().unwrap_or("").trim().trim_matches('"');
            c.if_match = Some(first.parse::<i64>().map_err(|_| CalDavError::Precondition)?);
        }
    }
    if headers.get(header::IF_NONE_MATCH).and_then(|v| v.to_str().ok()).is_some_and(|v| v.trim() == "*") {
        c.must_not_exist = true;
    }
    Ok(c)
}

/// The calendar and the one resource `name` in it; not found when there is none.
async fn one(
    state: &ApiState,
    caller: &DavCaller,
    project: ProjectId,
    name: String,
) -> Result<(Collection, Resource), DavError> {
    let (collection, mut found) = state.app.caldav().get(&caller.actor, project, &[name]).await?;
    let resource = found.pop().and_then(|(_, r)| r).ok_or_else(DavError::not_found)?;
    Ok((collection, resource))
}

/// The resource as iCalendar, with its ETag; 304 for an `If-None-Match` that matches.
#[utoipa::path(get, path = "/dav/calendars/{user}/{project}/{name}", tag = "caldav",
    security(("basic" = []), ("bearer" = [])),
    params(("user" = String, Path, description = "Your user id"), ("project" = String, Path, description = "The project (calendar) id"),
           ("name" = String, Path, description = "The resource name: {task id}.ics, or the name the client created it under")),
    responses((status = 200, content_type = "text/calendar", body = String, headers(("ETag" = String, description = "The task's version, quoted"))),
              (status = 304, description = "Unchanged since the ETag in If-None-Match"),
              (status = 401, description = "Sign in with HTTP Basic: your e-mail and an API token"),
              (status = 404, description = "No such task in this calendar")))]
pub async fn get(
    State(state): State<ApiState>,
    Path((user, project, name)): Path<(String, String, String)>,
    req: Request,
) -> Result<Response, DavError> {
    let (parts, _) = req.into_parts();
    let caller = sign_in(&state, &parts).await?;
    own(&caller, &user)?;
    let (collection, resource) = one(&state, &caller, project_id(&project)?, name).await?;
    let etag = HeaderValue::from_str(&resource.etag()).map_err(|e| crate::ApiError::Internal(e.to_string()))?;
    let unchanged = parts
        .headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == resource.etag() || t.trim() == "*"));
    if unchanged {
        return Ok((StatusCode::NOT_MODIFIED, [(header::ETAG, etag)]).into_response());
    }
    let text = collection.write(&mut Resources::new(), &resource.task);
    let modified = HeaderValue::from_str(&http_date(resource.task.updated_at))
        .map_err(|e| crate::ApiError::Internal(e.to_string()))?;
    Ok((
        [
            (header::CONTENT_TYPE, HeaderValue::from_static(ICALENDAR)),
            (header::ETAG, etag),
            (header::LAST_MODIFIED, modified),
        ],
        text,
    )
        .into_response())
}

/// Creates a task from a VTODO (a new name, with `If-None-Match: *` to be
/// sure), or replaces the task's fields and status (`If-Match` with its
/// ETag: a stale one is 412). No ETag is returned: the stored task is
/// ontask's reading of what was sent, not its octets (RFC 4791 section
/// 5.3.4), so clients fetch it again.
#[utoipa::path(put, path = "/dav/calendars/{user}/{project}/{name}", tag = "caldav",
    security(("basic" = []), ("bearer" = [])),
    params(("user" = String, Path, description = "Your user id"), ("project" = String, Path, description = "The project (calendar) id"),
           ("name" = String, Path, description = "The resource name")),
    request_body(content = String, content_type = "text/calendar", description = "A VCALENDAR with one VTODO"),
    responses((status = 201, description = "A task was created"), (status = 204, description = "The task was replaced"),
              (status = 403, content_type = "application/xml", body = String, description = "A DAV:error naming the precondition: need-privileges (a viewer), valid-calendar-data, valid-calendar-object-resource, supported-calendar-component, no-uid-conflict"),
              (status = 412, description = "If-Match is not the task's version, or If-None-Match: * and it exists")))]
pub async fn put(
    State(state): State<ApiState>,
    Path((user, project, name)): Path<(String, String, String)>,
    req: Request,
) -> Result<Response, DavError> {
    let (parts, raw) = req.into_parts();
    let caller = sign_in(&state, &parts).await?;
    own(&caller, &user)?;
    let project = project_id(&project)?;
    let content_type = parts.headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("text/calendar");
    if !content_type.trim().to_ascii_lowercase().starts_with("text/calendar") {
        return Err(DavError::Precondition(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Box::new(Node::new(Name::caldav("supported-calendar-data"))),
            "send the task as text/calendar".into(),
        ));
    }
    let conditions = conditions(&parts.headers)?;
    let bytes = body(&state, raw).await?;
    let text = std::str::from_utf8(&bytes).map_err(|_| CalDavError::InvalidData("the body is not UTF-8".into()))?;
    let written = state.app.caldav().put(&caller.ctx, &caller.actor, project, &name, text, conditions).await?;
    Ok(match written {
        Written::Created(_) => StatusCode::CREATED.into_response(),
        Written::Updated(_) => StatusCode::NO_CONTENT.into_response(),
    })
}

/// Deletes the task (and its subtasks); `If-Match` with a stale ETag is 412.
#[utoipa::path(delete, path = "/dav/calendars/{user}/{project}/{name}", tag = "caldav",
    security(("basic" = []), ("bearer" = [])),
    params(("user" = String, Path, description = "Your user id"), ("project" = String, Path, description = "The project (calendar) id"),
           ("name" = String, Path, description = "The resource name")),
    responses((status = 204, description = "Deleted"), (status = 403, description = "A viewer of the project"),
              (status = 404, description = "No such task in this calendar"), (status = 412, description = "If-Match is not the task's version")))]
pub async fn delete(
    State(state): State<ApiState>,
    Path((user, project, name)): Path<(String, String, String)>,
    req: Request,
) -> Result<Response, DavError> {
    let (parts, _) = req.into_parts();
    let caller = sign_in(&state, &parts).await?;
    own(&caller, &user)?;
    let conditions = conditions(&parts.headers)?;
    let project = project_id(&project)?;
    state.app.caldav().delete(&caller.ctx, &caller.actor, project, &name, conditions.if_match).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// OPTIONS, PROPFIND and PROPPATCH on a task's resource.
pub async fn other(
    State(state): State<ApiState>,
    Path((user, project, name)): Path<(String, String, String)>,
    req: Request,
) -> Result<Response, DavError> {
    let (parts, raw) = req.into_parts();
    if parts.method == Method::OPTIONS {
        return Ok(options(ALLOW_OBJECT));
    }
    let caller = sign_in(&state, &parts).await?;
    own(&caller, &user)?;
    let project = project_id(&project)?;
    let bytes = body(&state, raw).await?;
    if is(&parts.method, "PROPFIND") {
        let request = ontask_dav::request::propfind(&bytes)?;
        let (collection, resource) = one(&state, &caller, project, name).await?;
        let response = props::object(&caller, &collection, &resource, &request, &mut Resources::new(), None);
        return Ok(multistatus(&Multistatus { responses: vec![response], sync_token: None }));
    }
    if is(&parts.method, "PROPPATCH") {
        let names = ontask_dav::request::proppatch(&bytes)?;
        let href = format!("{}{}", calendar_href(caller.actor.user_id, project), name);
        return Ok(multistatus(&props::refused(href, names)));
    }
    Err(DavError::MethodNotAllowed(ALLOW_OBJECT))
}
