//! Accounts, sessions and API tokens.
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum_extra::extract::CookieJar;
use axum_extra::extract::cookie::{Cookie, SameSite};
use ontask_app::auth::{Session, TokenView, UserView};
use serde::{Deserialize, Serialize};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::extract::{Caller, ClientAddress, JsonBody, SESSION_COOKIE};
use crate::{ApiError, ApiState};

pub fn router() -> OpenApiRouter<ApiState> {
    OpenApiRouter::new()
        .routes(routes!(register))
        .routes(routes!(login))
        .routes(routes!(logout))
        .routes(routes!(me, update_profile))
        .routes(routes!(delete_account))
        .routes(routes!(change_password))
        .routes(routes!(request_password_reset))
        .routes(routes!(confirm_password_reset))
        .routes(routes!(create_token, list_tokens))
        .routes(routes!(delete_token))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RegisterRequest {
    #[schema(example = "ada@example.com", format = Email, max_length = 254)]
    email: String,
    /// 8 to 1,024 characters.
    #[schema(min_length = 8, max_length = 1024)]
    password: String,
    #[schema(max_length = 100)]
    name: Option<String>,
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    email: String,
    password: String,
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChangePasswordRequest {
    current_password: String,
    /// 8 to 1,024 characters.
    #[schema(min_length = 8, max_length = 1024)]
    new_password: String,
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PasswordResetRequest {
    #[schema(example = "ada@example.com", format = Email, max_length = 254)]
    email: String,
}

/// The same answer whatever the address.
#[derive(Serialize, utoipa::ToSchema)]
pub struct PasswordResetRequested {
    detail: &'static str,
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PasswordResetConfirm {
    /// The token from the e-mail (`otr_...`).
    token: String,
    /// 8 to 1,024 characters.
    #[schema(min_length = 8, max_length = 1024)]
    new_password: String,
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateTokenRequest {
    /// 1 to 100 characters, not all blank.
    #[schema(
        min_length = 1,
        max_length = 100,
        pattern = r"^\s*[^\x00-\x1F\x7F-\x9F]*[^\s\x00-\x1F\x7F-\x9F][^\x00-\x1F\x7F-\x9F]*\s*$"
    )]
    name: String,
    /// `tasks:read` and/or `tasks:write`.
    // Read as names: the service answers an unknown one with a 422 naming it.
    #[schema(example = json!(["tasks:read", "tasks:write"]), value_type = Vec<ontask_domain::Scope>, min_items = 1)]
    scopes: Vec<String>,
    /// Unset: the token does not expire.
    #[serde(default, deserialize_with = "ontask_app::input::whole")]
    #[schema(minimum = 1, maximum = 3650)]
    expires_in_days: Option<i64>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct TokenList {
    items: Vec<TokenView>,
}

fn session_cookie(state: &ApiState, session: &Session) -> Cookie<'static> {
    let max_age = i64::try_from(state.app.auth().session_ttl().as_secs()).unwrap_or(i64::MAX);
    Cookie::build((SESSION_COOKIE, session.token.clone()))
        .http_only(true)
        .same_site(SameSite::Lax)
        .secure(state.config.cookie_secure)
        .path("/")
        .max_age(cookie::time::Duration::seconds(max_age))
        .build()
}

/// Create an account and sign in. The first account becomes an admin.
/// Password hashing is bounded: past a few at once per core, 503 with `Retry-After`.
#[utoipa::path(post, path = "/auth/register", tag = "auth", request_body = RegisterRequest,
    responses(crate::responses::JsonInput,
        (status = 201, body = Session), (status = 409, body = crate::error::Problem, content_type = "application/problem+json"), (status = 422, body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 429, description = "past a rate limit (per client address or per account); retry after `Retry-After` seconds", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 503, description = "too many sign-ins or sign-ups at once; retry after `Retry-After` seconds", body = crate::error::Problem, content_type = "application/problem+json")))]
pub async fn register(
    State(state): State<ApiState>,
    client: ClientAddress,
    jar: CookieJar,
    JsonBody(req): JsonBody<RegisterRequest>,
) -> Result<Response, ApiError> {
    state.app.limits().sign_in(client.0, Some(&req.email))?;
    let session = state.app.auth().register(&req.email, &req.password, req.name.as_deref()).await?;
    let jar = jar.add(session_cookie(&state, &session));
    Ok((StatusCode::CREATED, jar, Json(session)).into_response())
}

/// Sign in with e-mail and password. Password hashing is bounded: past a few
/// at once per core, 503 with `Retry-After`.
#[utoipa::path(post, path = "/auth/login", tag = "auth", request_body = LoginRequest,
    responses(crate::responses::JsonInput,
        (status = 200, body = Session), (status = 401, body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 429, description = "past a rate limit (per client address or per account); retry after `Retry-After` seconds", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 503, description = "too many sign-ins or sign-ups at once; retry after `Retry-After` seconds", body = crate::error::Problem, content_type = "application/problem+json")))]
pub async fn login(
    State(state): State<ApiState>,
    client: ClientAddress,
    jar: CookieJar,
    JsonBody(req): JsonBody<LoginRequest>,
) -> Result<Response, ApiError> {
    state.app.limits().sign_in(client.0, Some(&req.email))?;
    let session = state.app.auth().login(&req.email, &req.password).await?;
    let jar = jar.add(session_cookie(&state, &session));
    Ok((jar, Json(session)).into_response())
}

/// Sign out of the browser session (clears the cookie).
#[utoipa::path(post, path = "/auth/logout", tag = "auth", responses((status = 204)))]
pub async fn logout(jar: CookieJar) -> impl IntoResponse {
    let jar = jar.remove(Cookie::build(SESSION_COOKIE).path("/").build());
    (StatusCode::NO_CONTENT, jar)
}

/// Change your password (from a signed-in session, with the current one). Every
/// other session of the account ends; the answer is a new session for this
/// device (and sets the cookie). API tokens keep working: revoke them one by one.
/// Wrong guesses count in the sign-in rate limits.
#[utoipa::path(post, path = "/account/password", tag = "auth", security(("bearer" = [])), request_body = ChangePasswordRequest,
    responses(crate::responses::SignedIn, crate::responses::JsonInput,
        (status = 200, body = Session),
        (status = 403, description = "called with an API token", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 409, description = "the account signs in through an identity provider and has no password", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 422, description = "the current password is wrong, or the new one breaks the rules", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 429, description = "past a rate limit (per client address or per account); retry after `Retry-After` seconds", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 503, description = "too many password checks at once; retry after `Retry-After` seconds", body = crate::error::Problem, content_type = "application/problem+json")))]
pub async fn change_password(
    State(state): State<ApiState>,
    client: ClientAddress,
    caller: Caller,
    jar: CookieJar,
    JsonBody(req): JsonBody<ChangePasswordRequest>,
) -> Result<Response, ApiError> {
    state.app.limits().sign_in(client.0, Some(&caller.actor.user_id.to_string()))?;
    let session = state.app.auth().change_password(&caller.actor, &req.current_password, &req.new_password).await?;
    let jar = jar.add(session_cookie(&state, &session));
    Ok((jar, Json(session)).into_response())
}

/// Delete your account (from a signed-in session, confirmed with the
/// password; an account of an identity provider confirms with its `email`).
/// In one transaction: projects only you are in, your Inbox among them, are
/// deleted with their tasks; a project you own and share goes to another
/// member (the editor who joined first, else the first viewer); you leave the
/// projects of others, and your tasks there are unassigned. Your tokens,
/// sessions, webhooks, push devices, calendar feed, conversations,
/// notifications and imports are deleted, and the account keeps no e-mail,
/// name or password. Tasks and comments you wrote in projects others keep stay
/// there, by "Deleted account". Each change is an event like any other (the
/// event log keeps its history). Clears the session cookie. Wrong passwords
/// count in the sign-in rate limits.
#[utoipa::path(delete, path = "/account", tag = "auth", security(("bearer" = [])),
    request_body = ontask_app::account::DeleteAccountInput,
    responses(crate::responses::SignedIn, crate::responses::JsonInput,
        (status = 200, body = ontask_app::account::AccountDeleted),
        (status = 403, description = "called with an API token", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 422, description = "the password (or, without one, the e-mail) is missing or wrong", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 429, description = "past a rate limit (per client address or per account); retry after `Retry-After` seconds", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 503, description = "too many password checks at once; retry after `Retry-After` seconds", body = crate::error::Problem, content_type = "application/problem+json")))]
pub async fn delete_account(
    State(state): State<ApiState>,
    client: ClientAddress,
    caller: Caller,
    jar: CookieJar,
    JsonBody(req): JsonBody<ontask_app::account::DeleteAccountInput>,
) -> Result<Response, ApiError> {
    state.app.limits().sign_in(client.0, Some(&caller.actor.user_id.to_string()))?;
    let deleted = state.app.account().delete(&caller.ctx, &caller.actor, req).await?;
    let jar = jar.remove(Cookie::build(SESSION_COOKIE).path("/").build());
    Ok((jar, Json(deleted)).into_response())
}

/// Ask for a password reset e-mail. The answer is the same whether or not the
/// address has an account (202); if it has one with a password, and e-mail is
/// configured, a single-use token valid for 30 minutes is e-mailed to it.
#[utoipa::path(post, path = "/auth/password-reset", tag = "auth", request_body = PasswordResetRequest,
    responses(crate::responses::JsonInput,
        (status = 202, body = PasswordResetRequested),
        (status = 422, description = "not an e-mail address", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 429, description = "past a rate limit (per client address or per account); retry after `Retry-After` seconds", body = crate::error::Problem, content_type = "application/problem+json")))]
pub async fn request_password_reset(
    State(state): State<ApiState>,
    client: ClientAddress,
    JsonBody(req): JsonBody<PasswordResetRequest>,
) -> Result<Response, ApiError> {
    state.app.limits().sign_in(client.0, Some(&req.email))?;
    state.app.account().request_password_reset(&req.email).await?;
    let detail = "If this address has an account with a password, an e-mail with a reset token is on its way.";
    Ok((StatusCode::ACCEPTED, Json(PasswordResetRequested { detail })).into_response())
}

/// Set a new password with the token from a reset e-mail. The token is used up;
/// every session of the account ends, and the answer is a new one (with the cookie).
#[utoipa::path(post, path = "/auth/password-reset/confirm", tag = "auth", request_body = PasswordResetConfirm,
    responses(crate::responses::JsonInput,
        (status = 200, body = Session),
        (status = 422, description = "the token is unknown, expired or used, or the new password breaks the rules", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 429, description = "past a rate limit per client address; retry after `Retry-After` seconds", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 503, description = "too many password hashes at once; retry after `Retry-After` seconds", body = crate::error::Problem, content_type = "application/problem+json")))]
pub async fn confirm_password_reset(
    State(state): State<ApiState>,
    client: ClientAddress,
    jar: CookieJar,
    JsonBody(req): JsonBody<PasswordResetConfirm>,
) -> Result<Response, ApiError> {
    state.app.limits().sign_in(client.0, None)?;
    let session = state.app.account().confirm_password_reset(&req.token, &req.new_password).await?;
    let jar = jar.add(session_cookie(&state, &session));
    Ok((jar, Json(session)).into_response())
}

/// The signed-in account.
#[utoipa::path(get, path = "/me", tag = "auth", security(("bearer" = [])),
    responses(crate::responses::SignedIn,
        (status = 200, body = UserView)))]
pub async fn me(State(state): State<ApiState>, caller: Caller) -> Result<Json<UserView>, ApiError> {
    Ok(Json(state.app.auth().me(&caller.actor).await?))
}

/// Change your profile: `name`, and `timezone` (an IANA zone; `null` follows
/// the device). The web app shows times in the profile's zone, and quick add
/// reads "tomorrow 9am" in it when a request names no zone.
#[utoipa::path(patch, path = "/me", tag = "auth", security(("bearer" = [])),
    request_body = ontask_app::auth::ProfileInput,
    responses(crate::responses::SignedIn, crate::responses::JsonInput,
        (status = 200, body = UserView),
        (status = 403, description = "an API token without tasks:write", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 422, description = "a name over 100 characters, or an unknown time zone", body = crate::error::Problem, content_type = "application/problem+json")))]
pub async fn update_profile(
    State(state): State<ApiState>,
    caller: Caller,
    JsonBody(req): JsonBody<ontask_app::auth::ProfileInput>,
) -> Result<Json<UserView>, ApiError> {
    Ok(Json(state.app.auth().update_profile(&caller.actor, req).await?))
}

/// Create a personal API token. The secret is shown only in this answer.
#[utoipa::path(post, path = "/tokens", tag = "auth", security(("bearer" = [])), request_body = CreateTokenRequest,
    responses(crate::responses::SignedIn, crate::responses::JsonInput,
        (status = 201, body = TokenView), (status = 403, body = crate::error::Problem, content_type = "application/problem+json"), (status = 422, body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 429, description = "past a rate limit (per client address or per account); retry after `Retry-After` seconds", body = crate::error::Problem, content_type = "application/problem+json")))]
pub async fn create_token(
    State(state): State<ApiState>,
    client: ClientAddress,
    caller: Caller,
    JsonBody(req): JsonBody<CreateTokenRequest>,
) -> Result<Response, ApiError> {
    state.app.limits().sign_in(client.0, None)?;
    let token = state.app.auth().create_token(&caller.actor, &req.name, &req.scopes, req.expires_in_days).await?;
    Ok((StatusCode::CREATED, Json(token)).into_response())
}

/// The account's API tokens (without secrets).
#[utoipa::path(get, path = "/tokens", tag = "auth", security(("bearer" = [])), responses(crate::responses::SignedIn,
        (status = 200, body = TokenList)))]
pub async fn list_tokens(State(state): State<ApiState>, caller: Caller) -> Result<Json<TokenList>, ApiError> {
    Ok(Json(TokenList { items: state.app.auth().list_tokens(&caller.actor).await? }))
}

/// Revoke an API token.
#[utoipa::path(delete, path = "/tokens/{id}", tag = "auth", security(("bearer" = [])),
    params(("id" = String, Path)), responses(crate::responses::SignedIn, crate::responses::ById,
        (status = 204)))]
pub async fn delete_token(
    State(state): State<ApiState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    state.app.auth().delete_token(&caller.actor, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}
