//! CalDAV's errors. WebDAV clients read a failed precondition from a
//! `DAV:error` body naming it (RFC 4918 section 16, RFC 4791 section 1.3),
//! so these answer with XML rather than problem+json; what is not the
//! protocol's (rate limits, outages, server faults) answers as the rest of
//! the API does.
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use ontask_app::AppError;
use ontask_app::caldav::CalDavError;
use ontask_dav::{BadXml, Name, Node};

use crate::ApiError;

pub const XML: &str = "application/xml; charset=utf-8";

#[derive(Debug)]
pub enum DavError {
    /// No credentials, or ones that do not open an account (401, with the
    /// `WWW-Authenticate` challenge clients need to ask for a password).
    Unauthorized(String),
    /// A body or header that does not parse (400).
    BadRequest(String),
    /// A method this resource does not answer (405, with `Allow`).
    MethodNotAllowed(&'static str),
    /// A failed precondition: the status, the element naming it, why.
    Precondition(StatusCode, Box<Node>, String),
    CalDav(CalDavError),
    /// What the rest of the API answers (a server fault).
    Api(ApiError),
}

impl From<ApiError> for DavError {
    fn from(e: ApiError) -> Self {
        Self::Api(e)
    }
}

impl From<CalDavError> for DavError {
    fn from(e: CalDavError) -> Self {
        Self::CalDav(e)
    }
}

impl From<AppError> for DavError {
    fn from(e: AppError) -> Self {
        Self::CalDav(CalDavError::App(e))
    }
}

impl From<BadXml> for DavError {
    fn from(e: BadXml) -> Self {
        Self::BadRequest(e.0)
    }
}

impl DavError {
    pub fn not_found() -> Self {
        AppError::NotFound.into()
    }

    /// `DAV:propfind-finite-depth`: a collection's whole tree is not listed at once.
    pub fn finite_depth() -> Self {
        Self::Precondition(
            StatusCode::FORBIDDEN,
            Box::new(Node::new(Name::dav("propfind-finite-depth"))),
            "ask with Depth: 0 or 1".into(),
        )
    }
}

fn xml(status: StatusCode, condition: Node, reason: &str) -> Response {
    match ontask_dav::response::error(condition, Some(reason)) {
        Ok(body) => (status, [(header::CONTENT_TYPE, HeaderValue::from_static(XML))], body).into_response(),
        Err(e) => ApiError::Internal(format!("writing a DAV:error: {e}")).into_response(),
    }
}

fn plain(status: StatusCode, text: String) -> Response {
    (status, [(header::CONTENT_TYPE, HeaderValue::from_static("text/plain; charset=utf-8"))], text).into_response()
}

impl IntoResponse for DavError {
    fn into_response(self) -> Response {
        use CalDavError as C;
        match self {
            Self::Unauthorized(why) => {
                let mut r = plain(StatusCode::UNAUTHORIZED, why);
                r.headers_mut().insert(
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static("Basic realm=\"ontask\", charset=\"UTF-8\""),
                );
                // A calendar program's first request goes without credentials
                // and often with a body (PROPFIND) that is refused unread.
                // hyper then closes the connection after the 401, racing the
                // client's retry on it ("closed without response"); saying
                // so makes the client sign in on a fresh connection.
                r.headers_mut().insert(header::CONNECTION, HeaderValue::from_static("close"));
                r
            }
            Self::BadRequest(why) => plain(StatusCode::BAD_REQUEST, why),
            Self::MethodNotAllowed(allow) => {
                let mut r = plain(StatusCode::METHOD_NOT_ALLOWED, "this resource does not answer that method".into());
                r.headers_mut().insert(header::ALLOW, HeaderValue::from_static(allow));
                r
            }
            Self::Precondition(status, condition, why) => xml(status, *condition, &why),
            Self::Api(e) => e.into_response(),
            Self::CalDav(e) => match e {
                C::InvalidData(why) => xml(StatusCode::FORBIDDEN, Node::new(Name::caldav("valid-calendar-data")), &why),
                C::InvalidObject(why) => {
                    xml(StatusCode::FORBIDDEN, Node::new(Name::caldav("valid-calendar-object-resource")), &why)
                }
                e @ C::UnsupportedComponent(_) => {
                    xml(StatusCode::FORBIDDEN, Node::new(Name::caldav("supported-calendar-component")), &e.to_string())
                }
                ref e @ C::UidConflict { ref name, .. } => xml(
                    StatusCode::FORBIDDEN,
                    Node::new(Name::caldav("no-uid-conflict")).child(Node::href(name.clone())),
                    &e.to_string(),
                ),
                e @ C::InvalidSyncToken => {
                    xml(StatusCode::FORBIDDEN, Node::new(Name::dav("valid-sync-token")), &e.to_string())
                }
                e @ C::Precondition => plain(StatusCode::PRECONDITION_FAILED, e.to_string()),
                C::App(e) => match e {
                    AppError::NotFound => plain(StatusCode::NOT_FOUND, "no such resource".into()),
                    AppError::Unauthorized(why) => Self::Unauthorized(why).into_response(),
                    AppError::Forbidden(why) => {
                        xml(StatusCode::FORBIDDEN, Node::new(Name::dav("need-privileges")), &why)
                    }
                    AppError::Validation(v) => xml(
                        StatusCode::FORBIDDEN,
                        Node::new(Name::caldav("valid-calendar-object-resource")),
                        &v.to_string(),
                    ),
                    AppError::Conflict(why) => plain(StatusCode::CONFLICT, why),
                    AppError::PreconditionFailed { .. } => plain(
                        StatusCode::PRECONDITION_FAILED,
                        "the resource changed since the version in If-Match; fetch it again".into(),
                    ),
                    // Rate limits, overload, outages, faults: as the REST API
                    // answers them (logged there, with Retry-After).
                    other => ApiError::App(other).into_response(),
                },
            },
        }
    }
}
