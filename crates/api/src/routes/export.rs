//! `GET /export`: everything of the caller's, as the JSON document
//! `docs/export/schema.json` describes or (`?format=ics`) as iCalendar.
use axum::Json;
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use ontask_app::export::ExportDocument;
use ontask_domain::ValidationErrors;
use serde::Deserialize;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::extract::{Caller, QueryParams};
use crate::{ApiError, ApiState};

pub fn router() -> OpenApiRouter<ApiState> {
    OpenApiRouter::new().routes(routes!(export))
}

/// The media type of iCalendar (RFC 5545 section 8.1).
pub const ICALENDAR: &str = "text/calendar; charset=utf-8";

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ExportParams {
    /// `json` (the default) or `ics`. Given empty (`format=`) it is refused (400).
    #[serde(default, deserialize_with = "ontask_app::query::strict")]
    #[param(value_type = Option<ExportFormat>, inline)]
    pub format: Option<String>,
}

/// The formats of an export (the schema of `format`; the handler reads the name).
#[derive(utoipa::ToSchema)]
#[schema(rename_all = "lowercase")]
#[allow(dead_code)] // Read by the OpenAPI derive, never built.
pub enum ExportFormat {
    Json,
    Ics,
}

/// Export everything of yours: the projects you own or are a member of
/// (each with your `role`), their sections, every task (open and completed,
/// subtasks after their parent), comments, reminders and recurrence. With
/// `format=ics`, one VTODO per task instead (see docs/import-export.md).
#[utoipa::path(get, path = "/export", tag = "import-export", security(("bearer" = [])), params(ExportParams),
    responses(crate::responses::SignedIn, crate::responses::QueryInput,
        (status = 200, description = "The JSON document (docs/export/schema.json), or with format=ics an iCalendar file",
            content((ExportDocument = "application/json"), (String = "text/calendar"))),
              (status = 403, body = crate::error::Problem, content_type = "application/problem+json", description = "A token without tasks:read"),
              (status = 422, body = crate::error::Problem, content_type = "application/problem+json", description = "An unknown format")))]
pub async fn export(
    State(state): State<ApiState>,
    caller: Caller,
    QueryParams(params): QueryParams<ExportParams>,
) -> Result<Response, ApiError> {
    match params.format.as_deref() {
        None | Some("json") => {
            let document = state.app.export().document(&caller.actor).await?;
            let disposition = "attachment; filename=\"ontask-export.json\"";
            Ok(([(header::CONTENT_DISPOSITION, disposition)], Json(document)).into_response())
        }
        Some("ics") => {
            let body = state.app.export().ics(&caller.actor, None).await?;
            let disposition = "attachment; filename=\"ontask-export.ics\"";
            Ok(([(header::CONTENT_TYPE, ICALENDAR), (header::CONTENT_DISPOSITION, disposition)], body).into_response())
        }
        Some(_) => Err(ValidationErrors::single("format", "must be json or ics").into()),
    }
}
