//! The OpenAPI 3.1 document, generated from the handlers and types, served at
//! `/openapi.json` (the reference UI at `/docs` reads it: see [`crate::docs`]).
use axum::routing::get;
use axum::{Json, Router};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use crate::ApiState;
use crate::routes::{
    admin, auth, calendar, chat, comments, dav, export, import, notifications, ops, projects, push, realtime, tasks,
    webhooks,
};

#[derive(OpenApi)]
#[openapi(
    info(title = "ontask", description = "Event-driven task service. Every change is recorded as an event; see /api/v1/tasks/{id}/history."),
    paths(
        auth::register, auth::login, auth::logout, auth::me, auth::update_profile, auth::change_password, auth::delete_account, auth::request_password_reset, auth::confirm_password_reset, auth::create_token, auth::list_tokens, auth::delete_token,
        tasks::create, tasks::list, tasks::read, tasks::update, tasks::remove, tasks::complete, tasks::reopen, tasks::skip, tasks::history, tasks::subtasks, tasks::quick_add, tasks::create_batch,
        projects::create, projects::list, projects::read, projects::update, projects::remove, projects::archive, projects::unarchive, projects::transfer,
        projects::create_section, projects::list_sections, projects::update_section, projects::remove_section,
        projects::add_member, projects::list_members, projects::change_member, projects::remove_member, projects::activity,
        comments::list, comments::add, comments::edit, comments::remove,
        export::export, import::start, import::job, calendar::status, calendar::create, calendar::revoke, calendar::feed,
        notifications::list, notifications::read, notifications::read_all,
        webhooks::create, webhooks::list, webhooks::read, webhooks::remove, webhooks::enable, webhooks::rotate_secret, webhooks::deliveries, webhooks::delivery,
        push::vapid_public_key, push::subscribe, push::list, push::unsubscribe,
        realtime::sse, realtime::websocket,
        chat::chat, chat::list, chat::read, chat::remove,
        ops::health, ops::livez, ops::readyz, ops::metrics_text,
        admin::dead_letters,
        dav::well_known, dav::object::get, dav::object::put, dav::object::delete,
    ),
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

pub fn router() -> Router<ApiState> {
    Router::new().route("/openapi.json", get(|| async { Json(ApiDoc::openapi()) })).merge(crate::docs::router())
}
