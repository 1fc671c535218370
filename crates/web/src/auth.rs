//! Signing in, signing up and out.
use super::*;

#[derive(Deserialize, Default)]
pub(crate) struct NextQuery {
    pub(crate) next: Option<String>,
}

#[derive(Deserialize)]
pub(crate) struct AuthForm {
    pub(crate) email: String,
    pub(crate) password: String,
    pub(crate) name: Option<String>,
    pub(crate) next: Option<String>,
}

pub(crate) fn session_cookie(state: &WebState, token: String) -> Cookie<'static> {
    let max_age = i64::try_from(state.app.auth().session_ttl().as_secs()).unwrap_or(i64::MAX);
    Cookie::build((SESSION_COOKIE, token))
        .http_only(true)
        .same_site(SameSite::Lax)
        .secure(state.config.cookie_secure)
        .path("/")
        .max_age(cookie::time::Duration::seconds(max_age))
        .build()
}

#[derive(Serialize, Default)]
pub(crate) struct FormErrors {
    pub(crate) email: Option<String>,
    pub(crate) password: Option<String>,
    pub(crate) name: Option<String>,
    pub(crate) form: Option<String>,
}

pub(crate) fn auth_page(
    state: &WebState,
    jar: &CookieJar,
    status: StatusCode,
    mode: &str,
    form: Value,
    errors: FormErrors,
    next: &str,
) -> Response {
    let (_, theme) = prefs(jar);
    render_status(state, status, "auth.html", context! { mode, form, errors, next, theme })
}

pub(crate) async fn login_form(State(state): State<WebState>, jar: CookieJar, Query(q): Query<NextQuery>) -> Response {
    if viewer(&state, &jar).await.is_some() {
        return Redirect::to(&safe_next(q.next.as_deref())).into_response();
    }
    auth_page(&state, &jar, StatusCode::OK, "login", context! {}, FormErrors::default(), &safe_next(q.next.as_deref()))
}

pub(crate) async fn signup_form(State(state): State<WebState>, jar: CookieJar, Query(q): Query<NextQuery>) -> Response {
    if viewer(&state, &jar).await.is_some() {
        return Redirect::to("/").into_response();
    }
    auth_page(&state, &jar, StatusCode::OK, "signup", context! {}, FormErrors::default(), &safe_next(q.next.as_deref()))
}

pub(crate) fn auth_errors(e: AppError) -> (StatusCode, FormErrors) {
    let mut errors = FormErrors::default();
    let status = match e {
        AppError::Validation(v) => {
            for f in v.fields() {
                let slot = match f.field.as_str() {
                    "email" => &mut errors.email,
                    "password" | "new_password" => &mut errors.password,
                    "name" => &mut errors.name,
                    _ => &mut errors.form,
                };
                slot.get_or_insert_with(|| capitalise(&f.message));
            }
            StatusCode::UNPROCESSABLE_ENTITY
        }
        AppError::Conflict(m) => {
            errors.email = Some(capitalise(&m));
            StatusCode::CONFLICT
        }
        AppError::Unauthorized(m) => {
            errors.password = Some(capitalise(&m));
            StatusCode::UNAUTHORIZED
        }
        AppError::Busy(m) => {
            errors.form = Some(capitalise(&m));
            StatusCode::SERVICE_UNAVAILABLE
        }
        limited @ AppError::RateLimited { .. } => {
            errors.form = Some(capitalise(&limited.to_string()));
            StatusCode::TOO_MANY_REQUESTS
        }
        other => {
            tracing::error!(error = %ontask_telemetry::error_chain(&other), "signing in failed");
            errors.form = Some("Something went wrong on our side. Try again.".into());
            StatusCode::INTERNAL_SERVER_ERROR
        }
    };
    (status, errors)
}

pub(crate) fn capitalise(s: &str) -> String {
    let mut c = s.chars();
    c.next().map(|f| f.to_uppercase().chain(c).collect()).unwrap_or_default()
}

/// The connection's peer, for the rate limits (present when served by the binary).
pub(crate) type Peer = Option<axum::Extension<axum::extract::ConnectInfo<std::net::SocketAddr>>>;

/// A sign-in or sign-up is first counted against its address's and its account's limits.
pub(crate) fn sign_in_allowed(state: &WebState, headers: &HeaderMap, peer: &Peer, email: &str) -> Result<(), AppError> {
    let limits = state.app.limits();
    limits.sign_in(limits.client_address(headers, peer.as_ref().map(|p| p.0.0.ip())), Some(email))
}

pub(crate) async fn login(
    State(state): State<WebState>,
    peer: Peer,
    jar: CookieJar,
    headers: HeaderMap,
    Form(f): Form<AuthForm>,
) -> Response {
    if !front_door::same_site(&axum::http::Method::POST, &headers) {
        return (StatusCode::FORBIDDEN, "cross-site request refused").into_response();
    }
    let next = safe_next(f.next.as_deref());
    let signed_in = match sign_in_allowed(&state, &headers, &peer, &f.email) {
        Ok(()) => state.app.auth().login(&f.email, &f.password).await,
        Err(limited) => Err(limited),
    };
    match signed_in {
        Ok(session) => (jar.add(session_cookie(&state, session.token)), Redirect::to(&next)).into_response(),
        Err(e) => {
            let (status, errors) = auth_errors(e);
            auth_page(&state, &jar, status, "login", context! { email => f.email }, errors, &next)
        }
    }
}

pub(crate) async fn signup(
    State(state): State<WebState>,
    peer: Peer,
    jar: CookieJar,
    headers: HeaderMap,
    Form(f): Form<AuthForm>,
) -> Response {
    if !front_door::same_site(&axum::http::Method::POST, &headers) {
        return (StatusCode::FORBIDDEN, "cross-site request refused").into_response();
    }
    let next = safe_next(f.next.as_deref());
    let name = f.name.as_deref().filter(|n| !n.trim().is_empty());
    let registered = match sign_in_allowed(&state, &headers, &peer, &f.email) {
        Ok(()) => state.app.auth().register(&f.email, &f.password, name).await,
        Err(limited) => Err(limited),
    };
    match registered {
        Ok(session) => (jar.add(session_cookie(&state, session.token)), Redirect::to(&next)).into_response(),
        Err(e) => {
            let (status, errors) = auth_errors(e);
            auth_page(&state, &jar, status, "signup", context! { email => f.email, name => f.name }, errors, &next)
        }
    }
}

pub(crate) async fn logout(jar: CookieJar, headers: HeaderMap) -> Response {
    if !front_door::same_site(&axum::http::Method::POST, &headers) {
        return (StatusCode::FORBIDDEN, "cross-site request refused").into_response();
    }
    let jar = jar.remove(Cookie::build(SESSION_COOKIE).path("/").build());
    (jar, Redirect::to("/login")).into_response()
}
