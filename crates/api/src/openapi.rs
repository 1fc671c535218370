//! The OpenAPI 3.1 document, generated from the handlers and types, served at
//! `/openapi.json` (the reference UI at `/docs` reads it: see [`crate::docs`]).
use axum::Router;
use axum::body::Bytes;
use axum::http::header;
use axum::routing::get;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};
use utoipa_axum::router::OpenApiRouter;

use crate::ApiState;
use crate::routes::{chat, dav, ops};

#[derive(OpenApi)]
#[openapi(
    info(title = "ontask", description = "Event-driven task service. Every change is recorded as an event; see /api/v1/tasks/{id}/history."),
    components(schemas(crate::error::Problem, ontask_domain::Status, ontask_domain::EventMetadata)),
    modifiers(&BearerAuth),
    tags(
        (name = "tasks", description = "Tasks and their history"),
        (name = "projects", description = "Projects, their sections, members (sharing) and activity"),
        (name = "comments", description = "Comments on tasks, with @mentions"),
        (name = "import-export", description = "Export, import and the calendar feed (docs/import-export.md)"),
        (name = "auth", description = "Accounts, sessions and API tokens"),
        (name = "notifications", description = "In-app notifications"),
        (name = "webhooks", description = "Signed webhooks (Standard Webhooks) and their delivery log"),
        (name = "push", description = "Web Push: the VAPID key and the devices that receive reminders and mentions"),
        (name = "realtime", description = "Live events over SSE and WebSocket"),
        (name = "operations", description = "Health and metrics"),
        (name = "chat", description = "The chat agent and its conversations"),
        (name = "caldav", description = "The CalDAV server (RFC 4791, tasks as VTODO; docs/caldav.md): one calendar per project under /dav/calendars/{user}/, found from /.well-known/caldav. Besides the methods listed here it answers PROPFIND, PROPPATCH (refused per property), REPORT (calendar-query, calendar-multiget, sync-collection) and OPTIONS, which OpenAPI cannot describe. Sign in with HTTP Basic: your e-mail and an API token as the password. Errors are DAV:error XML bodies, as WebDAV clients expect."),
    )
)]
pub struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some("A session JWT, an external IdP JWT, or a personal API token (ot_...)"))
                    .build(),
            ),
        );
        components.add_security_scheme(
            "basic",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Basic)
                    .description(Some("CalDAV only: the account's e-mail and one of its API tokens as the password"))
                    .build(),
            ),
        );
    }
}

/// The document: what [`ApiDoc`] says about the whole API (its info, tags and
/// security schemes) and an operation for each route, taken from the routers
/// that serve them: the REST API with the chat agent's routes (served by the
/// agent role, [`crate::chat_router`]) under `/api/v1`, the operational
/// endpoints and CalDAV.
pub fn document() -> utoipa::openapi::OpenApi {
    let mut document = OpenApiRouter::<ApiState>::with_openapi(ApiDoc::openapi())
        .nest("/api/v1", crate::rest().merge(chat::router()))
        .merge(ops::router())
        .merge(dav::router())
        .into_openapi();
    qualify_operation_ids(&mut document);
    document
}

/// Prefixes each operation's id (its handler's name, `read`, `list`...) with
/// its tag: OpenAPI wants ids unique, and links, generated clients and the
/// contract test's stateful phase find operations by them (`tasks_read`,
/// `webhooks_read`).
fn qualify_operation_ids(document: &mut utoipa::openapi::OpenApi) {
    for item in document.paths.paths.values_mut() {
        let operations = [
            &mut item.get,
            &mut item.put,
            &mut item.post,
            &mut item.delete,
            &mut item.options,
            &mut item.head,
            &mut item.patch,
            &mut item.trace,
        ];
        for operation in operations.into_iter().flatten() {
            let tag = operation.tags.as_ref().and_then(|tags| tags.first()).map(|tag| tag.replace('-', "_"));
            if let (Some(tag), Some(id)) = (tag, operation.operation_id.as_mut()) {
                *id = format!("{tag}_{id}");
            }
        }
    }
}

pub fn router() -> Router<ApiState> {
    // Written once: the routers it is read from do not change while the process runs.
    let json = Bytes::from(serde_json::to_vec(&document()).expect("the OpenAPI document serialises"));
    Router::new()
        .route("/openapi.json", get(move || async move { ([(header::CONTENT_TYPE, "application/json")], json) }))
        .merge(crate::docs::router())
}
