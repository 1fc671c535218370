//! A forgotten password, in the browser: asking for the e-mail, and the page
//! its link opens to choose a new password. Plain forms, like signing in; the
//! work is the account service's (`ontask_app::account`).
use super::*;
use crate::auth::{FormErrors, Peer, auth_errors, auth_page, session_cookie, sign_in_allowed};

#[derive(Deserialize)]
pub(crate) struct ForgotForm {
    email: String,
}

#[derive(Deserialize)]
pub(crate) struct ResetForm {
    token: String,
    new_password: String,
}

pub(crate) async fn forgot_form(State(state): State<WebState>, jar: CookieJar) -> Response {
    auth_page(&state, &jar, StatusCode::OK, "forgot", context! {}, FormErrors::default(), "/")
}

/// Sends the reset e-mail; answers the same whether or not the address has an account.
pub(crate) async fn forgot(
    State(state): State<WebState>,
    peer: Peer,
    jar: CookieJar,
    headers: HeaderMap,
    Form(f): Form<ForgotForm>,
) -> Response {
    if !front_door::same_site(&axum::http::Method::POST, &headers) {
        return (StatusCode::FORBIDDEN, "cross-site request refused").into_response();
    }
    let sent = match sign_in_allowed(&state, &headers, &peer, &f.email) {
        Ok(()) => state.app.account().request_password_reset(&f.email).await,
        Err(limited) => Err(limited),
    };
    match sent {
        Ok(()) => auth_page(
            &state,
            &jar,
            StatusCode::OK,
            "forgot",
            // `sent` shows the notice that the e-mail is on its way.
            context! { email => f.email, sent => true },
            FormErrors::default(),
            "/",
        ),
        Err(e) => {
            let (status, errors) = auth_errors(e);
            auth_page(&state, &jar, status, "forgot", context! { email => f.email }, errors, "/")
        }
    }
}

pub(crate) async fn reset_form(State(state): State<WebState>, jar: CookieJar) -> Response {
    auth_page(&state, &jar, StatusCode::OK, "reset", context! {}, FormErrors::default(), "/")
}

/// Sets the new password and signs in (every other session has ended).
pub(crate) async fn reset(
    State(state): State<WebState>,
    jar: CookieJar,
    headers: HeaderMap,
    Form(f): Form<ResetForm>,
) -> Response {
    if !front_door::same_site(&axum::http::Method::POST, &headers) {
        return (StatusCode::FORBIDDEN, "cross-site request refused").into_response();
    }
    match state.app.account().confirm_password_reset(&f.token, &f.new_password).await {
        Ok(session) => (jar.add(session_cookie(&state, session.token)), Redirect::to("/")).into_response(),
        Err(e) => {
            let (status, errors) = auth_errors(e);
            // A refused password keeps the token for the next try; it came in the body, not the address.
            auth_page(&state, &jar, status, "reset", context! { token => f.token }, errors, "/")
        }
    }
}
