//! Quick add in the browser: the same text as everywhere (`##Project`, see
//! `ontask_app::quick`), posted by the page's script; on a project's page a
//! task without a project token goes into that project (and section).
use ontask_app::{Actor, Context};

use super::*;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct QuickForm {
    text: String,
    timezone: Option<String>,
    /// The project whose page the form is on: where the task goes without a token.
    project_id: Option<String>,
    /// The section whose "add" form was used.
    section_id: Option<String>,
}

/// An RFC 9457 problem, shaped as the REST API's, so the script reads both alike.
fn problem(status: StatusCode, detail: &str, errors: &[ontask_domain::FieldError]) -> Response {
    let body = serde_json::json!({
        "type": "about:blank",
        "title": status.canonical_reason().unwrap_or("error"),
        "status": status.as_u16(),
        "detail": detail,
        "errors": errors,
    });
    (status, [(header::CONTENT_TYPE, "application/problem+json")], body.to_string()).into_response()
}

fn app_problem(e: &AppError) -> Response {
    match e {
        AppError::Validation(v) => problem(StatusCode::UNPROCESSABLE_ENTITY, "invalid input", v.fields()),
        AppError::NotFound => problem(StatusCode::NOT_FOUND, "that project does not exist", &[]),
        AppError::Forbidden(why) => problem(StatusCode::FORBIDDEN, why, &[]),
        AppError::Conflict(why) => problem(StatusCode::CONFLICT, why, &[]),
        other => {
            tracing::error!(error = %ontask_telemetry::error_chain(other), "quick add failed");
            problem(StatusCode::INTERNAL_SERVER_ERROR, "something went wrong", &[])
        }
    }
}

pub(crate) async fn quick_add(
    State(state): State<WebState>,
    reference: Reference,
    jar: CookieJar,
    method: axum::http::Method,
    headers: HeaderMap,
    axum::Json(form): axum::Json<QuickForm>,
) -> Response {
    // The session cookie alone must not let another site add tasks.
    if !front_door::same_site(&method, &headers) {
        return problem(StatusCode::FORBIDDEN, "cross-site request refused", &[]);
    }
    let Some(v) = viewer(&state, &jar).await else {
        return problem(StatusCode::UNAUTHORIZED, "signed out", &[]);
    };
    let tz = match ontask_domain::quick::parse_timezone(form.timezone.as_deref()) {
        Ok(tz) => tz,
        Err(e) => return app_problem(&AppError::Validation(e)),
    };
    let parsed = ontask_domain::quick::parse(&form.text, Utc::now().with_timezone(&tz));
    let page_project = form.project_id.as_deref().and_then(|p| ontask_domain::ProjectId::parse(p).ok());
    let mut input = match ontask_app::quick::input(&state.app, &v.actor, &parsed, page_project).await {
        Ok(q) => q.input,
        Err(e) => return app_problem(&e),
    };
    // A section only where the task goes to the page's project.
    if parsed.project.is_none() {
        input.section_id = form.section_id.filter(|s| !s.is_empty());
    }
    let draft = match input.parse() {
        Ok(d) => d,
        Err(e) => return app_problem(&AppError::Validation(e)),
    };
    let ctx = context_of(&v.actor, &reference);
    match state.app.tasks().create(&ctx, &v.actor, draft).await {
        Ok(task) => (StatusCode::CREATED, axum::Json(task)).into_response(),
        Err(e) => app_problem(&e),
    }
}

/// The context of a change made from a page: the request's id correlates its events.
fn context_of(actor: &Actor, reference: &Reference) -> Context {
    let id = reference.as_ref().map_or_else(|| uuid::Uuid::now_v7().to_string(), |m| m.request_id.clone());
    Context::new(id, actor.event_actor())
}
