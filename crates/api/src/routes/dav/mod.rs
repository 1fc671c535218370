//! The CalDAV server (RFC 4791, tasks as VTODO) under `/dav/`, found from
//! `/.well-known/caldav` (RFC 6764). The XML is `ontask_dav`'s, what the
//! resources hold `ontask_app::caldav`'s; this module maps URLs, methods
//! and headers onto both.
//!
//! | path | resource |
//! |---|---|
//! | `/dav/` | the context root: where the principal is |
//! | `/dav/principals/{user}/` | the signed-in person |
//! | `/dav/calendars/{user}/` | their calendar home: one calendar per project |
//! | `/dav/calendars/{user}/{project}/` | a project's calendar collection |
//! | `/dav/calendars/{user}/{project}/{name}` | a task (one VTODO) |
//!
//! Every request signs in with HTTP Basic (the account's e-mail and one of
//! its API tokens as the password) or a bearer token; OPTIONS needs neither.
mod error;
pub(crate) mod object;
mod props;
mod report;

use axum::body::Body;
use axum::extract::{Path, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::any;
use base64::Engine;
use ontask_app::auth::UserView;
use ontask_app::{Actor, Context, front_door};
use ontask_dav::{Depth, Multistatus};
use ontask_domain::{ProjectId, UserId};
use ontask_telemetry::trace::RequestMeta;
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, percent_decode_str, utf8_percent_encode};

pub use error::DavError;
use error::XML;

use utoipa_axum::router::{OpenApiRouter, UtoipaMethodRouterExt};
use utoipa_axum::routes;

use crate::ApiState;

/// What OPTIONS advertises: WebDAV classes 1 and 3 and calendar-access
/// (RFC 4791 section 5.1); sync-collection is in each calendar's
/// supported-report-set (RFC 6578 section 3.1).
const DAV_CLASSES: &str = "1, 3, calendar-access";
const ALLOW_COLLECTION: &str = "OPTIONS, PROPFIND, PROPPATCH, REPORT";
const ALLOW_OBJECT: &str = "OPTIONS, GET, HEAD, PUT, DELETE, PROPFIND, PROPPATCH";

/// The methods OpenAPI can describe are registered with their operations
/// (`routes!`); the WebDAV ones (PROPFIND, REPORT, ...) are each route's
/// `any` or fallback handler, described in the `caldav` tag instead.
pub fn router() -> OpenApiRouter<ApiState> {
    OpenApiRouter::new()
        .routes(routes!(well_known).map(|r| r.fallback(well_known)))
        .route("/dav", any(root))
        .route("/dav/", any(root))
        .route("/dav/principals/{user}", any(principal))
        .route("/dav/principals/{user}/", any(principal))
        .route("/dav/calendars/{user}", any(home))
        .route("/dav/calendars/{user}/", any(home))
        .route("/dav/calendars/{user}/{project}", any(calendar))
        .route("/dav/calendars/{user}/{project}/", any(calendar))
        .routes(routes!(object::get, object::put, object::delete).map(|r| r.fallback(object::other)))
}

/// Where CalDAV is (RFC 6764 section 5): clients are sent to the context
/// root whatever method they try, as they start discovery with PROPFIND.
#[utoipa::path(get, path = "/.well-known/caldav", tag = "caldav",
    responses((status = 301, description = "To the CalDAV context root, /dav/", headers(("Location" = String)))))]
pub async fn well_known() -> Redirect {
    Redirect::permanent("/dav/")
}

// --- who is asking -------------------------------------------------------------

/// A signed-in CalDAV client: who, and the context its changes are recorded with.
pub struct DavCaller {
    pub actor: Actor,
    pub user: UserView,
    pub ctx: Context,
}

/// `Authorization: Basic` with the account's e-mail and an API token as the
/// password (what calendar programs can store), or a bearer token.
async fn sign_in(state: &ApiState, parts: &Parts) -> Result<DavCaller, DavError> {
    let header = parts.headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()).unwrap_or("");
    let (email, token) = match header.split_once(' ') {
        Some((scheme, rest)) if scheme.eq_ignore_ascii_case("basic") => {
            let decoded = base64::engine::general_purpose::STANDARD
                .decode(rest.trim())
                .ok()
                .and_then(|b| String::from_utf8(b).ok())
                .ok_or_else(|| {
                    DavError::Unauthorized("the Basic credentials are not base64 of user:password".into())
                })?;
            let (email, token) = decoded
                .split_once(':')
                .ok_or_else(|| DavError::Unauthorized("the Basic credentials have no password".into()))?;
            (Some(email.trim().to_lowercase()), token.to_owned())
        }
        _ => match front_door::bearer_token(&parts.headers) {
            Some(token) => (None, token.to_owned()),
            None => {
                return Err(DavError::Unauthorized(
                    "sign in with your e-mail and an API token (Settings, API tokens) as the password".into(),
                ));
            }
        },
    };
    let actor = state.app.auth().authenticate(&token).await?;
    let user = state.app.auth().me(&actor).await?;
    // A token is the credential; the e-mail only has to be the token's
    // account's, so that a client set up for one person does not sign in as
    // another by a pasted token.
    if email.is_some_and(|e| e != user.email) {
        return Err(DavError::Unauthorized("the token is not one of this e-mail's account".into()));
    }
    state.app.limits().api(actor.user_id)?;
    let meta = parts.extensions.get::<RequestMeta>().cloned();
    let mut ctx = Context::new(
        meta.as_ref().map(|m| m.request_id.clone()).unwrap_or_else(|| uuid::Uuid::now_v7().to_string()),
        actor.event_actor(),
    );
    ctx.traceparent = meta.map(|m| m.trace.traceparent());
    Ok(DavCaller { actor, user, ctx })
}

/// The `{user}` of a path is the signed-in person, or it names nothing
/// (another person's calendars are reached through the projects they share).
fn own(caller: &DavCaller, user: &str) -> Result<(), DavError> {
    match UserId::parse(user) {
        Ok(id) if id == caller.actor.user_id => Ok(()),
        _ => Err(DavError::not_found()),
    }
}

fn project_id(raw: &str) -> Result<ProjectId, DavError> {
    ProjectId::parse(raw).map_err(|_| DavError::not_found())
}

// --- paths ---------------------------------------------------------------------

/// What a path segment may hold unescaped (RFC 3986 unreserved characters).
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'.').remove(b'_').remove(b'~');

pub fn principal_href(user: UserId) -> String {
    format!("/dav/principals/{user}/")
}

pub fn home_href(user: UserId) -> String {
    format!("/dav/calendars/{user}/")
}

pub fn calendar_href(user: UserId, project: ProjectId) -> String {
    format!("/dav/calendars/{user}/{project}/")
}

pub fn object_href(user: UserId, project: ProjectId, name: &str) -> String {
    format!("{}{}", calendar_href(user, project), utf8_percent_encode(name, SEGMENT))
}

/// The resource name an href (a path, or a whole URL) names in a calendar.
pub fn name_in(href: &str, calendar: &str) -> Option<String> {
    let path = match href.split_once("://") {
        Some((_, rest)) => rest.find('/').map_or("/", |i| &rest[i..]),
        None => href,
    };
    let decoded = percent_decode_str(path).decode_utf8().ok()?;
    let name = decoded.strip_prefix(calendar)?;
    (!name.is_empty() && !name.contains('/')).then(|| name.to_owned())
}

// --- answers -------------------------------------------------------------------

fn multistatus(ms: &Multistatus) -> Response {
    match ms.to_xml() {
        Ok(body) => {
            (StatusCode::MULTI_STATUS, [(header::CONTENT_TYPE, HeaderValue::from_static(XML))], body).into_response()
        }
        Err(e) => crate::ApiError::Internal(format!("writing a multistatus: {e}")).into_response(),
    }
}

fn options(allow: &'static str) -> Response {
    let mut r = StatusCode::OK.into_response();
    r.headers_mut().insert(HeaderName::from_static("dav"), HeaderValue::from_static(DAV_CLASSES));
    r.headers_mut().insert(header::ALLOW, HeaderValue::from_static(allow));
    r
}

fn depth(headers: &HeaderMap, default: Depth) -> Result<Depth, DavError> {
    Ok(Depth::parse(headers.get("depth").and_then(|v| v.to_str().ok()), default)?)
}

/// A request's body, bounded like every body the API reads.
async fn body(state: &ApiState, body: Body) -> Result<axum::body::Bytes, DavError> {
    axum::body::to_bytes(body, state.config.body_limit).await.map_err(|_| {
        DavError::Precondition(
            StatusCode::PAYLOAD_TOO_LARGE,
            Box::new(ontask_dav::Node::new(ontask_dav::name::prop::MAX_RESOURCE_SIZE)),
            format!("the body is larger than {} bytes", state.config.body_limit),
        )
    })
}

/// A request to a resource that is not a task: signs in, reads the body,
/// and hands both to `answer` by method.
async fn collection_request<F>(state: ApiState, req: Request, allow: &'static str, answer: F) -> Response
where
    F: AsyncFnOnce(&ApiState, &DavCaller, &Method, &HeaderMap, &[u8]) -> Result<Response, DavError>,
{
    let (parts, raw) = req.into_parts();
    if parts.method == Method::OPTIONS {
        return options(allow);
    }
    let outcome = async {
        let caller = sign_in(&state, &parts).await?;
        let bytes = body(&state, raw).await?;
        answer(&state, &caller, &parts.method, &parts.headers, &bytes).await
    }
    .await;
    outcome.unwrap_or_else(IntoResponse::into_response)
}

fn is(method: &Method, name: &str) -> bool {
    method.as_str().eq_ignore_ascii_case(name)
}

async fn root(State(state): State<ApiState>, req: Request) -> Response {
    collection_request(state, req, ALLOW_COLLECTION, async |_state, caller, method, headers, body| {
        if !is(method, "PROPFIND") {
            return Err(DavError::MethodNotAllowed(ALLOW_COLLECTION));
        }
        let request = ontask_dav::request::propfind(body)?;
        let depth = depth(headers, Depth::Zero)?;
        Ok(multistatus(&props::root(caller, &request, depth)))
    })
    .await
}

async fn principal(State(state): State<ApiState>, Path(user): Path<String>, req: Request) -> Response {
    collection_request(state, req, ALLOW_COLLECTION, async |_state, caller, method, _headers, body| {
        own(caller, &user)?;
        if is(method, "PROPFIND") {
            let request = ontask_dav::request::propfind(body)?;
            return Ok(multistatus(&props::principal(caller, &request)));
        }
        if is(method, "REPORT") {
            return Err(report::unsupported(&ontask_dav::request::report(body)?));
        }
        Err(DavError::MethodNotAllowed(ALLOW_COLLECTION))
    })
    .await
}

async fn home(State(state): State<ApiState>, Path(user): Path<String>, req: Request) -> Response {
    collection_request(state, req, ALLOW_COLLECTION, async |state, caller, method, headers, body| {
        own(caller, &user)?;
        if is(method, "PROPFIND") {
            let request = ontask_dav::request::propfind(body)?;
            let depth = depth(headers, Depth::Infinity)?;
            if depth == Depth::Infinity {
                return Err(DavError::finite_depth());
            }
            let calendars =
                if depth == Depth::One { state.app.caldav().calendars(&caller.actor).await? } else { Vec::new() };
            return Ok(multistatus(&props::home(caller, &request, &calendars)));
        }
        if is(method, "REPORT") {
            return Err(report::unsupported(&ontask_dav::request::report(body)?));
        }
        if is(method, "MKCALENDAR") || is(method, "MKCOL") {
            return Err(DavError::Precondition(
                StatusCode::FORBIDDEN,
                Box::new(ontask_dav::Node::new(ontask_dav::Name::dav("resource-must-be-null"))),
                "calendars are ontask's projects: create the project in ontask and it appears here".into(),
            ));
        }
        Err(DavError::MethodNotAllowed(ALLOW_COLLECTION))
    })
    .await
}

async fn calendar(
    State(state): State<ApiState>,
    Path((user, project)): Path<(String, String)>,
    req: Request,
) -> Response {
    collection_request(state, req, ALLOW_COLLECTION, async |state, caller, method, headers, body| {
        own(caller, &user)?;
        let project = project_id(&project)?;
        if is(method, "PROPFIND") {
            let request = ontask_dav::request::propfind(body)?;
            let depth = depth(headers, Depth::Infinity)?;
            if depth == Depth::Infinity {
                return Err(DavError::finite_depth());
            }
            let caldav = state.app.caldav();
            let (collection, resources) = if depth == Depth::One {
                caldav.list(&caller.actor, project).await?
            } else {
                (caldav.calendar(&caller.actor, project).await?, Vec::new())
            };
            return Ok(multistatus(&props::calendar(caller, &collection, &resources, &request)));
        }
        if is(method, "REPORT") {
            let request = ontask_dav::request::report(body)?;
            return report::answer(state, caller, project, request).await.map(|ms| multistatus(&ms));
        }
        if is(method, "PROPPATCH") {
            let collection = state.app.caldav().calendar(&caller.actor, project).await?;
            let names = ontask_dav::request::proppatch(body)?;
            return Ok(multistatus(&props::refused(
                calendar_href(caller.actor.user_id, collection.calendar.project.id),
                names,
            )));
        }
        if method == Method::DELETE {
            return Err(DavError::Precondition(
                StatusCode::FORBIDDEN,
                Box::new(ontask_dav::Node::new(ontask_dav::Name::dav("need-privileges"))),
                "a project is deleted in ontask itself, not from a calendar program".into(),
            ));
        }
        Err(DavError::MethodNotAllowed(ALLOW_COLLECTION))
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hrefs_round_trip_through_names() {
        let (user, project) = (UserId::new(), ProjectId::new());
        let calendar = calendar_href(user, project);
        let href = object_href(user, project, "Ab c@d.ics");
        assert!(href.ends_with("/Ab%20c%40d.ics"), "{href}");
        assert_eq!(name_in(&href, &calendar).as_deref(), Some("Ab c@d.ics"));
        assert_eq!(name_in(&format!("https://tasks.example{href}"), &calendar).as_deref(), Some("Ab c@d.ics"));
        assert_eq!(name_in("/dav/calendars/other/x.ics", &calendar), None);
        assert_eq!(name_in(&format!("{calendar}a/b.ics"), &calendar), None);
        assert_eq!(name_in(&calendar, &calendar), None);
    }

    #[test]
    fn depth_defaults_and_refuses_nonsense() {
        let mut headers = HeaderMap::new();
        assert_eq!(depth(&headers, Depth::Zero).unwrap(), Depth::Zero);
        headers.insert("depth", HeaderValue::from_static("1"));
        assert_eq!(depth(&headers, Depth::Zero).unwrap(), Depth::One);
        headers.insert("depth", HeaderValue::from_static("deep"));
        assert!(matches!(depth(&headers, Depth::Zero), Err(DavError::BadRequest(_))));
    }
}
