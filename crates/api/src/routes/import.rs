//! `POST /import` (a multipart upload that starts an import job) and
//! `GET /import/jobs/{id}` (its progress and, once done, its report).
use axum::Json;
use axum::extract::multipart::MultipartRejection;
use axum::extract::{DefaultBodyLimit, Multipart, Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use ontask_app::import::{ImportFile, ImportFormat, ImportJob, MAX_IMPORT_BYTES};
use ontask_domain::ValidationErrors;
use utoipa_axum::router::{OpenApiRouter, UtoipaMethodRouterExt};
use utoipa_axum::routes;

use crate::extract::Caller;
use crate::{ApiError, ApiState};

pub fn router() -> OpenApiRouter<ApiState> {
    OpenApiRouter::new()
        .routes(routes!(start).layer(DefaultBodyLimit::max(MAX_IMPORT_BYTES + 64 * 1024)))
        .routes(routes!(job))
}

/// The upload, as the OpenAPI document describes it. No other field is read
/// (one is refused), hence `deny_unknown_fields`: the schema then says so.
#[derive(serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
pub struct ImportUpload {
    /// A Todoist CSV export, an iCalendar file with VTODOs, or an ontask export (JSON); up to 20 MiB.
    #[schema(value_type = String, format = Binary)]
    file: Vec<u8>,
    /// `todoist`, `ics` or `ontask`; detected from the file when left out.
    format: Option<ontask_app::import::ImportFormat>,
    /// The project a Todoist CSV or an iCalendar file goes to (created if new);
    /// the file's name without its extension when left out.
    project: Option<String>,
    /// `true`: report what would be created, write nothing.
    dry_run: Option<bool>,
}

fn field_error(field: &str, message: impl Into<String>) -> ApiError {
    ValidationErrors::single(field, message).into()
}

/// Import a file. It is read at once: a file that is not what it claims
/// (or, without `format`, no format an import reads) is refused with 422 and
/// nothing is written. Otherwise the import runs as a job: poll the job's
/// `Location` for its progress and, once `done`, its report (what was
/// created, what was found already imported, and every line not imported
/// with its reason). Its tasks' `task.created` events reach your event
/// stream as they are written. Importing the same file again creates nothing
/// twice.
#[utoipa::path(post, path = "/import", tag = "import-export", security(("bearer" = [])),
    request_body(content = ImportUpload, content_type = "multipart/form-data"),
    responses(crate::responses::SignedIn,
        (status = 202, body = ImportJob, headers(("Location" = String))),
              (status = 400, body = crate::error::Problem, content_type = "application/problem+json", description = "A malformed multipart form"),
              (status = 415, body = crate::error::Problem, content_type = "application/problem+json", description = "Not a multipart/form-data body"),
              (status = 403, body = crate::error::Problem, content_type = "application/problem+json", description = "A token without tasks:write"),
              (status = 413, body = crate::error::Problem, content_type = "application/problem+json"),
              (status = 422, body = crate::error::Problem, content_type = "application/problem+json", description = "No file, an unknown format, or a file that is not what it claims")))]
pub async fn start(
    State(state): State<ApiState>,
    caller: Caller,
    form: Result<Multipart, MultipartRejection>,
) -> Result<Response, ApiError> {
    // axum's own rejection is plain text; a body that is no form is a problem like any other.
    let mut form = form.map_err(|e| ApiError::UnsupportedMediaType(e.body_text()))?;
    let (mut bytes, mut file_name, mut format, mut project, mut dry_run) = (None, None, None, None, false);
    while let Some(field) = form.next_field().await.map_err(|e| ApiError::BadRequest(e.body_text()))? {
        let name = field.name().unwrap_or_default().to_owned();
        match name.as_str() {
            "file" => {
                file_name = field.file_name().map(str::to_owned);
                bytes = Some(field.bytes().await.map_err(|e| ApiError::BadRequest(e.body_text()))?);
            }
            "format" | "project" | "dry_run" => {
                let text = field.text().await.map_err(|e| ApiError::BadRequest(e.body_text()))?;
                match name.as_str() {
                    "format" => {
                        format = Some(
                            ImportFormat::parse(&text)
                                .ok_or_else(|| field_error("format", "must be todoist, ics or ontask"))?,
                        )
                    }
                    "project" => project = Some(text),
                    _ => {
                        dry_run = match text.trim() {
                            "true" | "1" => true,
                            "false" | "0" | "" => false,
                            _ => return Err(field_error("dry_run", "must be true or false")),
                        }
                    }
                }
            }
            other => return Err(field_error(other, "is not a field of an import (file, format, project, dry_run)")),
        }
    }
    let bytes = bytes.ok_or_else(|| field_error("file", "is required"))?;
    let file = ImportFile { bytes: &bytes, file_name: file_name.as_deref(), format, project: project.as_deref() };
    let read = ontask_app::import::read(&file).map_err(|e| ApiError::App(e.into()))?;
    let job = state.app.imports().start(caller.ctx, caller.actor, read, dry_run).await?;
    let location = HeaderValue::from_str(&format!("/api/v1/import/jobs/{}", job.id))
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    Ok((StatusCode::ACCEPTED, [(header::LOCATION, location)], Json(job)).into_response())
}

/// An import job: `running` with its progress (`done` of `total` tasks),
/// then `done` with its report, or `failed` with why.
#[utoipa::path(get, path = "/import/jobs/{id}", tag = "import-export", security(("bearer" = [])), params(("id" = String, Path)),
    responses(crate::responses::SignedIn, crate::responses::ById,
        (status = 200, body = ImportJob)))]
pub async fn job(
    State(state): State<ApiState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<ImportJob>, ApiError> {
    Ok(Json(state.app.imports().job(&caller.actor, &id).await?))
}
