//! Extractors: JSON bodies with field-precise errors, the authenticated caller,
//! and conditional-request headers.
use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderMap, header};
use axum_extra::extract::CookieJar;
use ontask_app::{Actor, AppError, Context, front_door};
use ontask_telemetry::trace::RequestMeta;
use serde::de::DeserializeOwned;

use crate::{ApiError, ApiState};

pub use ontask_app::front_door::SESSION_COOKIE;

/// A JSON body. Malformed JSON is 400; a well-formed body with a wrong field
/// type or an unknown field is 422 naming the field.
pub struct JsonBody<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let is_json = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(|ct| ct.split(';').next().unwrap_or("").trim().to_ascii_lowercase())
            .is_some_and(|ct| {
                ct == "application/json" || ct == "application/merge-patch+json" || ct.ends_with("+json")
            });
        if !is_json {
            return Err(ApiError::UnsupportedMediaType("send the body as application/json".into()));
        }
        let bytes = Bytes::from_request(req, state).await.map_err(|e| {
            if e.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::PayloadTooLarge
            } else {
                ApiError::BadRequest("could not read the request body".into())
            }
        })?;
        parse_json(&bytes).map(JsonBody)
    }
}

pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    // Syntax first: a broken document is the client's transport problem (400).
    if let Err(e) = serde_json::from_slice::<serde::de::IgnoredAny>(bytes) {
        return Err(ApiError::BadRequest(format!("malformed JSON: {e}")));
    }
    // Every body this API reads is an object; serde would also read a struct
    // from an array of its fields' values (`[null, null]`).
    if bytes.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
        return Err(ontask_domain::ValidationErrors::single("body", "must be a JSON object").into());
    }
    let de = &mut serde_json::Deserializer::from_slice(bytes);
    serde_path_to_error::deserialize(de).map_err(|e| ApiError::from(field_error(e)))
}

/// Reads one item of a JSON document already parsed (an element of a bulk
/// request), with the same errors as a whole body would get.
pub fn parse_value<T: DeserializeOwned>(value: serde_json::Value) -> Result<T, ontask_domain::ValidationErrors> {
    serde_path_to_error::deserialize(value).map_err(field_error)
}

/// A deserialisation error as the invalid field and why.
fn field_error<E: std::fmt::Display>(e: serde_path_to_error::Error<E>) -> ontask_domain::ValidationErrors {
    let path = e.path().to_string();
    let field = if path == "." { "body".to_owned() } else { path };
    let inner = e.into_inner().to_string();
    // serde's message ends with " at line 1 column 9": not useful to clients.
    let message = inner.split(" at line ").next().unwrap_or(&inner).to_owned();
    ontask_domain::ValidationErrors::single(field, message)
}

/// Query parameters. One that does not parse as its type is a 400 problem
/// (axum's own rejection would be a plain-text body).
pub struct QueryParams<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for QueryParams<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let axum_extra::extract::Query(params) = axum_extra::extract::Query::<T>::from_request_parts(parts, state)
            .await
            .map_err(|e| ApiError::BadRequest(e.body_text()))?;
        Ok(Self(params))
    }
}

/// The client's address, as the rate limits count it: the connection's peer,
/// or the configured proxy header's ([`ontask_app::limits`]).
pub struct ClientAddress(pub Option<std::net::IpAddr>);

impl FromRequestParts<ApiState> for ClientAddress {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &ApiState) -> Result<Self, Self::Rejection> {
        let peer = parts.extensions.get::<axum::extract::ConnectInfo<std::net::SocketAddr>>().map(|c| c.0.ip());
        Ok(Self(state.app.limits().client_address(&parts.headers, peer)))
    }
}

/// The authenticated caller and the context its changes are recorded with.
pub struct Caller {
    pub actor: Actor,
    pub ctx: Context,
}

fn bearer(parts: &Parts) -> Option<(String, bool)> {
    if let Some(token) = front_door::bearer_token(&parts.headers) {
        return Some((token.to_owned(), false));
    }
    if let Some(cookie) = CookieJar::from_headers(&parts.headers).get(SESSION_COOKIE) {
        return Some((cookie.value().to_owned(), true));
    }
    // EventSource and WebSocket clients cannot set headers; only the stream
    // endpoints accept a token in the query string.
    let path = parts.uri.path();
    if path.ends_with("/stream") || path.ends_with("/ws") {
        let query = parts.uri.query().unwrap_or("");
        return query.split('&').find_map(|kv| kv.strip_prefix("access_token=")).map(|t| (t.to_owned(), false));
    }
    None
}

/// Rejects cross-site state changes made with the session cookie: a browser
/// sends `Origin` on such requests, and it must be this server.
fn check_origin(parts: &Parts) -> Result<(), ApiError> {
    if front_door::same_site(&parts.method, &parts.headers) {
        Ok(())
    } else {
        Err(AppError::Forbidden("cross-site request refused".into()).into())
    }
}

impl FromRequestParts<ApiState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &ApiState) -> Result<Self, Self::Rejection> {
        let actor = authenticate(parts, state).await?;
        state.app.limits().api(actor.user_id)?;
        let meta = parts.extensions.get::<RequestMeta>().cloned();
        let mut ctx = Context::new(
            meta.as_ref().map(|m| m.request_id.clone()).unwrap_or_else(|| uuid::Uuid::now_v7().to_string()),
            actor.event_actor(),
        );
        ctx.traceparent = meta.map(|m| m.trace.traceparent());
        Ok(Self { actor, ctx })
    }
}

pub async fn authenticate(parts: &Parts, state: &ApiState) -> Result<Actor, ApiError> {
    if let Some(actor) = parts.extensions.get::<Actor>() {
        return Ok(actor.clone());
    }
    let (token, from_cookie) =
        bearer(parts).ok_or_else(|| AppError::Unauthorized("sign in or send a bearer token".into()))?;
    if from_cookie {
        check_origin(parts)?;
    }
    Ok(state.app.auth().authenticate(&token).await?)
}

/// `If-Match: "3"` → `Some(3)`. `*` or no header → `None`. Anything else can
/// never match a version, so it is answered 412.
pub fn if_match(headers: &HeaderMap) -> Result<Option<i64>, ApiError> {
    let Some(raw) = headers.get(header::IF_MATCH) else { return Ok(None) };
    let raw = raw.to_str().unwrap_or("").trim();
    if raw == "*" {
        return Ok(None);
    }
    let tag = raw.trim_start_matches("W/").trim_matches('"');
    tag.parse::<i64>().map(Some).map_err(|_| AppError::PreconditionFailed { current: -1 }.into())
}

pub fn etag(version: i64) -> String {
    format!("\"{version}\"")
}
