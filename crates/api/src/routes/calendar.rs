//! `/calendar/feed`: the caller's calendar feed (create or rotate, show,
//! revoke), and the feed itself at its secret URL, which needs no sign-in.
use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use ontask_app::AppError;
use ontask_app::feeds::FeedStatus;
use ontask_domain::ProjectId;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::extract::{Caller, QueryParams};
use crate::routes::export::ICALENDAR;
use crate::{ApiError, ApiState};

pub fn router() -> OpenApiRouter<ApiState> {
    OpenApiRouter::new().routes(routes!(status, create, revoke)).routes(routes!(feed))
}

/// A feed just created or rotated.
#[derive(Serialize, utoipa::ToSchema)]
pub struct CreatedFeed {
    /// The feed's secret URL; give it to a calendar program. Shown only now:
    /// the server keeps a hash of its secret. Add `?project=<id>` for one project.
    #[schema(example = "https://tasks.example.com/api/v1/calendar/feed/ocf_0123abcd.ics")]
    pub url: String,
    pub active: bool,
    #[schema(value_type = String, format = DateTime)]
    pub created_at: chrono::DateTime<chrono::Utc>,
}

/// Where people reach this server: `public_url`, or the request's `Host`.
fn origin(state: &ApiState, headers: &HeaderMap) -> String {
    if let Some(url) = &state.config.public_url {
        return url.trim_end_matches('/').to_owned();
    }
    let host = headers.get(header::HOST).and_then(|h| h.to_str().ok()).unwrap_or("localhost");
    let scheme = if state.config.cookie_secure { "https" } else { "http" };
    format!("{scheme}://{host}")
}

/// Whether you have a calendar feed (its URL is shown only when created).
#[utoipa::path(get, path = "/calendar/feed", tag = "import-export", security(("bearer" = [])),
    responses(crate::responses::SignedIn,
        (status = 200, body = FeedStatus)))]
pub async fn status(State(state): State<ApiState>, caller: Caller) -> Result<Json<FeedStatus>, ApiError> {
    Ok(Json(state.app.feeds().status(&caller.actor).await?))
}

/// Create your calendar feed, or give it a new secret URL (the old one
/// stops working at once). The feed is read-only: your tasks with a due,
/// as iCalendar VTODOs.
#[utoipa::path(post, path = "/calendar/feed", tag = "import-export", security(("bearer" = [])),
    responses(crate::responses::SignedIn,
        (status = 201, body = CreatedFeed),
              (status = 403, body = crate::error::Problem, content_type = "application/problem+json")))]
pub async fn create(
    State(state): State<ApiState>,
    caller: Caller,
    headers: HeaderMap,
) -> Result<(StatusCode, Json<CreatedFeed>), ApiError> {
    let feed = state.app.feeds().create(&caller.actor).await?;
    let url = format!("{}/api/v1/calendar/feed/{}.ics", origin(&state, &headers), feed.secret);
    Ok((StatusCode::CREATED, Json(CreatedFeed { url, active: true, created_at: feed.created_at })))
}

/// Revoke your calendar feed: its URL answers 404 from now on.
#[utoipa::path(delete, path = "/calendar/feed", tag = "import-export", security(("bearer" = [])),
    responses(crate::responses::SignedIn,
        (status = 204),
              (status = 404, body = crate::error::Problem, content_type = "application/problem+json", description = "You have no feed")))]
pub async fn revoke(State(state): State<ApiState>, caller: Caller) -> Result<StatusCode, ApiError> {
    state.app.feeds().revoke(&caller.actor).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct FeedParams {
    /// Only this project's tasks.
    pub project: Option<String>,
}

/// The calendar feed: the owner's tasks with a due, as iCalendar (VTODO,
/// with VTIMEZONE, RRULE, VALARM and RELATED-TO). The secret in the path is
/// the credential; no cookie or token is needed. Answers 304 to a matching
/// `If-None-Match`.
#[utoipa::path(get, path = "/calendar/feed/{file}", tag = "import-export",
    params(("file" = String, Path, description = "The feed's secret followed by .ics"), FeedParams),
    responses(crate::responses::QueryInput,
        (status = 200, content_type = "text/calendar", body = String, headers(("ETag" = String))),
              (status = 304, description = "Unchanged since the ETag sent in If-None-Match"),
              (status = 404, body = crate::error::Problem, content_type = "application/problem+json", description = "An unknown or revoked feed, or a project the owner cannot read")))]
pub async fn feed(
    State(state): State<ApiState>,
    Path(file): Path<String>,
    QueryParams(params): QueryParams<FeedParams>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let secret = file.strip_suffix(".ics").unwrap_or(&file);
    // A project id that does not parse names no project the owner can read.
    let project = match params.project.as_deref() {
        None => None,
        Some(raw) => Some(ProjectId::parse(raw.trim()).map_err(|_| ApiError::App(AppError::NotFound))?),
    };
    let body = state.app.feeds().serve(secret, project).await?;
    let tag = format!("\"{}\"", hex::encode(&Sha256::digest(body.as_bytes())[..16]));
    let matches = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim().trim_start_matches("W/") == tag || t.trim() == "*"));
    let etag = HeaderValue::from_str(&tag).map_err(|e| ApiError::Internal(e.to_string()))?;
    if matches {
        return Ok((StatusCode::NOT_MODIFIED, [(header::ETAG, etag)]).into_response());
    }
    let private = HeaderValue::from_static("private, max-age=300");
    Ok((
        [
            (header::CONTENT_TYPE, HeaderValue::from_static(ICALENDAR)),
            (header::ETAG, etag),
            (header::CACHE_CONTROL, private),
        ],
        body,
    )
        .into_response())
}
