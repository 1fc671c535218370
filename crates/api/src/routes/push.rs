//! Web Push: the server's VAPID public key and a person's subscribed devices.
//! Each person sees only their own devices; anyone else's answer 404.
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use ontask_app::push::{DeviceView, NewSubscription};
use ontask_domain::PushSubscriptionId;
use serde::{Deserialize, Serialize};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::extract::{Caller, JsonBody};
use crate::{ApiError, ApiState};

pub fn router() -> OpenApiRouter<ApiState> {
    OpenApiRouter::new().routes(routes!(vapid_public_key)).routes(routes!(list, subscribe)).routes(routes!(unsubscribe))
}

/// The key a browser subscribes with (`applicationServerKey`).
#[derive(Serialize, utoipa::ToSchema)]
pub struct VapidPublicKey {
    /// The server's P-256 public key, uncompressed, base64url without padding (RFC 8292 section 3.2).
    public_key: String,
}

/// A browser's push subscription, as `PushSubscription.toJSON()` gives it.
#[derive(Deserialize, utoipa::ToSchema)]
pub struct SubscriptionInput {
    /// The push service's URL for this device (https, on a public address).
    #[schema(format = "uri", max_length = 2048, pattern = "^[Hh][Tt][Tt][Pp][Ss]://")]
    endpoint: String,
    keys: SubscriptionKeys,
    /// What to call the device in the list ("Firefox on this laptop"); default "A browser".
    #[serde(default)]
    #[schema(max_length = 100)]
    label: Option<String>,
    /// The endpoint this subscription replaces, when the browser renewed it
    /// (the service worker's `pushsubscriptionchange`): that device is
    /// forgotten, and its label kept when none is given.
    #[serde(default)]
    replaces: Option<String>,
    /// Sent by browsers; push messages carry their own TTL, so it is not used.
    #[serde(default, rename = "expirationTime")]
    #[allow(dead_code)]
    expiration_time: Option<serde_json::Value>,
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SubscriptionKeys {
    /// The browser's P-256 public key, uncompressed (65 bytes, the first 4), base64url (RFC 8291).
    #[schema(pattern = "^B[A-Za-z0-9_-]{85}[AEIMQUYcgkosw048]=?$")]
    p256dh: String,
    /// The browser's 16-byte authentication secret, base64url.
    #[schema(pattern = "^[A-Za-z0-9_-]{21}[AQgw](==)?$")]
    auth: String,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct DeviceList {
    items: Vec<DeviceView>,
}

/// The VAPID public key browsers subscribe with. 404 while push is off (a
/// server on PostgreSQL without `push.vapid_private_key`).
#[utoipa::path(get, path = "/push/vapid-public-key", tag = "push", security(("bearer" = [])),
    responses(crate::responses::SignedIn,
        (status = 200, body = VapidPublicKey),
              (status = 404, body = crate::error::Problem, content_type = "application/problem+json", description = "Web Push is off on this server")))]
pub async fn vapid_public_key(
    State(state): State<ApiState>,
    _caller: Caller,
) -> Result<Json<VapidPublicKey>, ApiError> {
    Ok(Json(VapidPublicKey { public_key: state.app.push().public_key()?.to_owned() }))
}

/// Add this device: reminders, mentions and assignments are pushed to it from
/// now on. Subscribing the same endpoint again replaces it (and keeps its id).
#[utoipa::path(post, path = "/push/subscriptions", tag = "push", security(("bearer" = [])), request_body = SubscriptionInput,
    responses(crate::responses::SignedIn, crate::responses::JsonInput,
        (status = 201, body = DeviceView),
              (status = 403, body = crate::error::Problem, content_type = "application/problem+json", description = "the token lacks tasks:write"),
              (status = 404, body = crate::error::Problem, content_type = "application/problem+json", description = "Web Push is off on this server"),
              (status = 422, body = crate::error::Problem, content_type = "application/problem+json", description = "not an https endpoint on a public address, or keys that are not RFC 8291 keys")))]
pub async fn subscribe(
    State(state): State<ApiState>,
    caller: Caller,
    JsonBody(input): JsonBody<SubscriptionInput>,
) -> Result<(StatusCode, Json<DeviceView>), ApiError> {
    let new = NewSubscription {
        endpoint: input.endpoint,
        p256dh: input.keys.p256dh,
        auth: input.keys.auth,
        label: input.label,
        replaces: input.replaces,
    };
    Ok((StatusCode::CREATED, Json(state.app.push().subscribe(&caller.actor, new).await?)))
}

/// Your devices that receive push messages.
#[utoipa::path(get, path = "/push/subscriptions", tag = "push", security(("bearer" = [])),
    responses(crate::responses::SignedIn,
        (status = 200, body = DeviceList),
              (status = 403, body = crate::error::Problem, content_type = "application/problem+json", description = "the token lacks tasks:read")))]
pub async fn list(State(state): State<ApiState>, caller: Caller) -> Result<Json<DeviceList>, ApiError> {
    Ok(Json(DeviceList { items: state.app.push().list(&caller.actor).await? }))
}

/// Remove a device; nothing more is pushed to it.
#[utoipa::path(delete, path = "/push/subscriptions/{id}", tag = "push", security(("bearer" = [])), params(("id" = String, Path)),
    responses(crate::responses::SignedIn, crate::responses::ById,
        (status = 204),
              (status = 403, body = crate::error::Problem, content_type = "application/problem+json", description = "the token lacks tasks:write")))]
pub async fn unsubscribe(
    State(state): State<ApiState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    // An id that is not one names no device of the person's.
    let id = PushSubscriptionId::parse(&id).map_err(|_| ApiError::App(ontask_app::AppError::NotFound))?;
    state.app.push().unsubscribe(&caller.actor, id).await?;
    Ok(StatusCode::NO_CONTENT)
}
