//! The error answers many operations share, declared once for the OpenAPI
//! document: each is what an extractor or a cross-cutting check answers
//! (see [`crate::extract`] and [`crate::error::ApiError`]'s mapping), so an
//! operation lists the groups its handler's arguments bring. An operation's
//! own answers come after the groups in its `responses(...)` and replace a
//! group's generic description for the same status.
//!
//! Every body is a `Problem` (RFC 9457) sent as `application/problem+json`.
#![allow(dead_code)] // The variants are read by the OpenAPI derive, never built.

use utoipa::IntoResponses;

use crate::error::Problem;

/// Any operation behind [`crate::extract::Caller`].
#[derive(IntoResponses)]
pub enum SignedIn {
    /// No credentials, or a token that is malformed, expired, revoked or unknown.
    #[response(status = 401, content_type = "application/problem+json",
        headers(("WWW-Authenticate" = String, description = "Bearer realm=\"ontask\"")))]
    Unauthorized(Problem),
    /// An API token without the scope this needs (`tasks:read`, `tasks:write`),
    /// a role that does not allow it, or a cross-site request with the session cookie.
    #[response(status = 403, content_type = "application/problem+json")]
    Forbidden(Problem),
    /// Past the per-person API rate limit; retry after `Retry-After` seconds.
    #[response(status = 429, content_type = "application/problem+json",
        headers(("Retry-After" = u64, description = "Seconds to wait")))]
    RateLimited(Problem),
    /// Overloaded, or a dependency (the database) is unavailable; retry after `Retry-After` seconds.
    #[response(status = 503, content_type = "application/problem+json",
        headers(("Retry-After" = u64, description = "Seconds to wait")))]
    Unavailable(Problem),
}

/// Any operation that reads a JSON body ([`crate::extract::JsonBody`]).
#[derive(IntoResponses)]
pub enum JsonInput {
    /// The body is not well-formed JSON, or could not be read.
    #[response(status = 400, content_type = "application/problem+json")]
    Malformed(Problem),
    /// The body is over the server's body limit.
    #[response(status = 413, content_type = "application/problem+json")]
    TooLarge(Problem),
    /// The body is not sent as `application/json` (or another `+json` type).
    #[response(status = 415, content_type = "application/problem+json")]
    NotJson(Problem),
    /// Well-formed JSON with a missing, unknown or invalid field; `errors` names each.
    #[response(status = 422, content_type = "application/problem+json")]
    Invalid(Problem),
}

/// Any operation with query parameters.
#[derive(IntoResponses)]
pub enum QueryInput {
    /// A query parameter that does not parse as its type (an empty `limit=` among them).
    #[response(status = 400, content_type = "application/problem+json")]
    Malformed(Problem),
    /// A parameter that parses but is out of range, or an unknown value.
    #[response(status = 422, content_type = "application/problem+json")]
    Invalid(Problem),
}

/// Any operation on a resource named in the path.
#[derive(IntoResponses)]
pub enum ById {
    /// No such resource, one you may not see, or an id that does not parse.
    #[response(status = 404, content_type = "application/problem+json")]
    NotFound(Problem),
}

/// Any change that honours `If-Match`.
#[derive(IntoResponses)]
pub enum Conditional {
    /// `If-Match` names another version than the current one (sent back in `ETag`),
    /// or is not an entity tag of this API.
    #[response(status = 412, content_type = "application/problem+json",
        headers(("ETag" = String, description = "The current version")))]
    PreconditionFailed(Problem),
}

/// A `POST` with an `Idempotency-Key` ([`crate::idempotency`]).
#[derive(IntoResponses)]
pub enum Idempotent {
    /// A key that is not 1 to 255 visible characters.
    #[response(status = 400, content_type = "application/problem+json")]
    BadKey(Problem),
    /// The first request with this key is still running.
    #[response(status = 409, content_type = "application/problem+json")]
    InFlight(Problem),
    /// The key was used before with another request.
    #[response(status = 422, content_type = "application/problem+json")]
    Reused(Problem),
}

/// Any change to what a project holds (its tasks, sections, comments): the
/// policy's edit action ([`ontask_app::policy`]).
#[derive(IntoResponses)]
pub enum ProjectContent {
    /// The project is archived: unarchive it to change what it holds.
    #[response(status = 409, content_type = "application/problem+json")]
    Archived(Problem),
}
