//! The browser UI, served by the binary at `/` when the `web` role runs.
//!
//! Pages and HTML fragments are rendered on the server from templates embedded
//! in the binary (minijinja), straight from the application services. A small
//! plain JavaScript module (`assets/app.js`, no build step) makes them live: it
//! changes tasks through the REST API under `/api/v1` with the session cookie,
//! follows the user's events on `/api/v1/stream` (SSE) and swaps in freshly
//! rendered fragments, so every change (another tab, the API, the agent, a
//! recurrence) shows without a reload. Without JavaScript the pages still read,
//! filter and sign in/out.
//!
//! Everything a user wrote is escaped by the templates; Markdown descriptions are
//! rendered and then sanitised (`markdown`), and a strict Content-Security-Policy
//! forbids inline scripts as a second line of defence.
#![forbid(unsafe_code)]

mod assets;
mod markdown;
mod view;

use std::sync::Arc;

use axum::Router;
use axum::extract::{Form, Path, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum_extra::extract::cookie::{Cookie, SameSite};
use axum_extra::extract::{CookieJar, Query};
use chrono::{DateTime, Duration, NaiveDate, TimeZone, Utc};
use chrono_tz::Tz;
use minijinja::{Environment, Value, context};
use ontask_app::tasks::ListParams;
use ontask_app::{Actor, App, AppError};
use ontask_domain::{Due, TaskId};
use serde::{Deserialize, Serialize};

/// The cookie the REST API reads too (`/api/v1/auth/login` sets the same one).
use ontask_app::front_door::{self, SESSION_COOKIE};
/// The browser's IANA time zone, set by the page script; dues are shown in it.
const TZ_COOKIE: &str = "ontask_tz";
/// `light`, `dark` or absent (follow the system).
const THEME_COOKIE: &str = "ontask_theme";
/// The list shows at most this many tasks; filters narrow it further.
const PAGE: i64 = 200;

/// Settings of the web UI.
#[derive(Debug, Clone, Default)]
pub struct WebConfig {
    /// Mark the session cookie `Secure` (behind HTTPS).
    pub cookie_secure: bool,
}

#[derive(Clone)]
struct WebState {
    app: App,
    config: Arc<WebConfig>,
    env: Arc<Environment<'static>>,
}

/// The UI's routes. It has no fallback, so it merges with the API router.
pub fn router(app: App, config: WebConfig) -> Router {
    let state = WebState { app, config: Arc::new(config), env: Arc::new(environment()) };
    Router::new()
        .route("/", get(list_page))
        .route("/login", get(login_form).post(login))
        .route("/signup", get(signup_form).post(signup))
        .route("/logout", post(logout))
        .route("/tasks/{id}", get(detail_page))
        .route("/ui/list", get(list_fragment))
        .route("/ui/tasks/{id}", get(detail_fragment))
        .route("/ui/quick-preview", get(quick_preview))
        .route("/ui/markdown", post(markdown_preview))
        .route("/assets/{*path}", get(assets::serve))
        .with_state(state)
        .layer(axum::middleware::from_fn(security_headers))
}

const TEMPLATES: &[(&str, &str)] = &[
    ("base.html", include_str!("../templates/base.html")),
    ("auth.html", include_str!("../templates/auth.html")),
    ("list.html", include_str!("../templates/list.html")),
    ("_list.html", include_str!("../templates/_list.html")),
    ("_row.html", include_str!("../templates/_row.html")),
    ("detail.html", include_str!("../templates/detail.html")),
    ("_detail.html", include_str!("../templates/_detail.html")),
    ("_preview.html", include_str!("../templates/_preview.html")),
    ("error.html", include_str!("../templates/error.html")),
];

fn environment() -> Environment<'static> {
    let mut env = Environment::new();
    for (name, source) in TEMPLATES {
        if let Err(e) = env.add_template(name, source) {
            // Templates are part of the binary; the unit tests render each one.
            panic!("template {name} does not parse: {e:#}");
        }
    }
    env
}

/// A strict policy: scripts and styles only from this origin, no inline code, so
/// even markup that slipped through could not run.
async fn security_headers(request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; \
             object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
        ),
    );
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static("same-origin"));
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.entry(header::CACHE_CONTROL).or_insert(HeaderValue::from_static("no-store"));
    response
}

/// The signed-in person looking at a page.
struct Viewer {
    actor: Actor,
    tz: Tz,
    theme: &'static str,
    email: String,
    name: String,
}

fn prefs(jar: &CookieJar) -> (Tz, &'static str) {
    let tz = jar.get(TZ_COOKIE).and_then(|c| c.value().parse::<Tz>().ok()).unwrap_or(Tz::UTC);
    let theme = match jar.get(THEME_COOKIE).map(Cookie::value) {
        Some("dark") => "dark",
        Some("light") => "light",
        _ => "",
    };
    (tz, theme)
}

async fn viewer(state: &WebState, jar: &CookieJar) -> Option<Viewer> {
    let token = jar.get(SESSION_COOKIE)?.value().to_owned();
    let actor = state.app.auth.authenticate(&token).await.ok()?;
    let me = state.app.auth.me(&actor).await.ok()?;
    let (tz, theme) = prefs(jar);
    Some(Viewer { actor, tz, theme, email: me.email, name: me.name })
}

fn render(state: &WebState, name: &str, ctx: Value) -> Response {
    render_status(state, StatusCode::OK, name, ctx)
}

fn render_status(state: &WebState, status: StatusCode, name: &str, ctx: Value) -> Response {
    match state.env.get_template(name).and_then(|t| t.render(ctx)) {
        Ok(html) => (status, Html(html)).into_response(),
        Err(e) => {
            tracing::error!(error = format!("{e:#}"), template = name, "rendering a page failed");
            (StatusCode::INTERNAL_SERVER_ERROR, "the page could not be rendered").into_response()
        }
    }
}

/// The id of the request that failed, which finds its log lines (set by the
/// HTTP layer on every request; absent only where no such layer runs).
type Reference = Option<axum::Extension<ontask_telemetry::trace::RequestMeta>>;

fn error_page(state: &WebState, theme: &str, e: &AppError, reference: &Reference) -> Response {
    let reference = reference.as_ref().map(|meta| meta.request_id.as_str());
    let (status, title, message) = match e {
        AppError::NotFound => (StatusCode::NOT_FOUND, "Not found", "This task does not exist, or it was deleted."),
        AppError::Validation(_) => (StatusCode::BAD_REQUEST, "That did not work", "Some of the filters are not valid."),
        AppError::Forbidden(_) => (StatusCode::FORBIDDEN, "Not allowed", "You may not see this."),
        AppError::Unavailable(_) => {
            (StatusCode::SERVICE_UNAVAILABLE, "Unavailable", "The database is not reachable. Try again shortly.")
        }
        _ => {
            tracing::error!(error = %ontask_telemetry::error_chain(&e), "a web page failed");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                "Something went wrong",
                "Try again; if it keeps happening, the logs say why.",
            )
        }
    };
    render_status(state, status, "error.html", context! { title, message, theme, reference, signed_in => true })
}

/// Only paths on this site are followed after signing in.
fn safe_next(next: Option<&str>) -> String {
    match next {
        Some(n) if n.starts_with('/') && !n.starts_with("//") && !n.starts_with("/\\") => n.to_owned(),
        _ => "/".to_owned(),
    }
}

fn login_redirect(uri: &axum::http::Uri) -> Response {
    let target = uri.path_and_query().map_or("/", |p| p.as_str());
    if target == "/" {
        return Redirect::to("/login").into_response();
    }
    Redirect::to(&format!("/login?next={}", encode(target))).into_response()
}

fn encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b'/' => out.push(b as char),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

// ---------------------------------------------------------------- sign in/up

#[derive(Deserialize, Default)]
struct NextQuery {
    next: Option<String>,
}

#[derive(Deserialize)]
struct AuthForm {
    email: String,
    password: String,
    name: Option<String>,
    next: Option<String>,
}

fn session_cookie(state: &WebState, token: String) -> Cookie<'static> {
    let max_age = i64::try_from(state.app.auth.session_ttl().as_secs()).unwrap_or(i64::MAX);
    Cookie::build((SESSION_COOKIE, token))
        .http_only(true)
        .same_site(SameSite::Lax)
        .secure(state.config.cookie_secure)
        .path("/")
        .max_age(cookie::time::Duration::seconds(max_age))
        .build()
}

#[derive(Serialize, Default)]
struct FormErrors {
    email: Option<String>,
    password: Option<String>,
    name: Option<String>,
    form: Option<String>,
}

fn auth_page(
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

async fn login_form(State(state): State<WebState>, jar: CookieJar, Query(q): Query<NextQuery>) -> Response {
    if viewer(&state, &jar).await.is_some() {
        return Redirect::to(&safe_next(q.next.as_deref())).into_response();
    }
    auth_page(&state, &jar, StatusCode::OK, "login", context! {}, FormErrors::default(), &safe_next(q.next.as_deref()))
}

async fn signup_form(State(state): State<WebState>, jar: CookieJar, Query(q): Query<NextQuery>) -> Response {
    if viewer(&state, &jar).await.is_some() {
        return Redirect::to("/").into_response();
    }
    auth_page(&state, &jar, StatusCode::OK, "signup", context! {}, FormErrors::default(), &safe_next(q.next.as_deref()))
}

fn auth_errors(e: AppError) -> (StatusCode, FormErrors) {
    let mut errors = FormErrors::default();
    let status = match e {
        AppError::Validation(v) => {
            for f in v.fields() {
                let slot = match f.field.as_str() {
                    "email" => &mut errors.email,
                    "password" => &mut errors.password,
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

fn capitalise(s: &str) -> String {
    let mut c = s.chars();
    c.next().map(|f| f.to_uppercase().chain(c).collect()).unwrap_or_default()
}

/// The connection's peer, for the rate limits (present when served by the binary).
type Peer = Option<axum::Extension<axum::extract::ConnectInfo<std::net::SocketAddr>>>;

/// A sign-in or sign-up is first counted against its address's and its account's limits.
fn sign_in_allowed(state: &WebState, headers: &HeaderMap, peer: &Peer, email: &str) -> Result<(), AppError> {
    let limits = state.app.limits();
    limits.sign_in(limits.client_address(headers, peer.as_ref().map(|p| p.0.0.ip())), Some(email))
}

async fn login(
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
        Ok(()) => state.app.auth.login(&f.email, &f.password).await,
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

async fn signup(
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
        Ok(()) => state.app.auth.register(&f.email, &f.password, name).await,
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

async fn logout(jar: CookieJar, headers: HeaderMap) -> Response {
    if !front_door::same_site(&axum::http::Method::POST, &headers) {
        return (StatusCode::FORBIDDEN, "cross-site request refused").into_response();
    }
    let jar = jar.remove(Cookie::build(SESSION_COOKIE).path("/").build());
    (jar, Redirect::to("/login")).into_response()
}

// ---------------------------------------------------------------- the list

/// The view as it stands in the URL: `/?q=rent&priority=high&sort=due`.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
struct ViewQuery {
    #[serde(default)]
    q: String,
    /// open (default), completed or all.
    #[serde(default)]
    status: String,
    #[serde(default)]
    priority: String,
    #[serde(default)]
    tag: String,
    /// Dates (YYYY-MM-DD), inclusive, in the viewer's zone.
    #[serde(default)]
    from: String,
    #[serde(default)]
    to: String,
    #[serde(default)]
    overdue: String,
    #[serde(default)]
    sort: String,
    #[serde(default)]
    order: String,
}

fn local_midnight(date: NaiveDate, tz: Tz) -> DateTime<Utc> {
    tz.from_local_datetime(&date.and_hms_opt(0, 0, 0).unwrap_or_default())
        .earliest()
        .map_or_else(|| date.and_hms_opt(0, 0, 0).unwrap_or_default().and_utc(), |t| t.with_timezone(&Utc))
}

impl ViewQuery {
    fn status(&self) -> &str {
        match self.status.as_str() {
            "completed" | "all" => &self.status,
            _ => "open",
        }
    }

    fn overdue(&self) -> bool {
        matches!(self.overdue.as_str(), "1" | "true" | "on")
    }

    fn is_filtered(&self) -> bool {
        !(self.q.trim().is_empty()
            && self.priority.is_empty()
            && self.tag.trim().is_empty()
            && self.from.is_empty()
            && self.to.is_empty()
            && !self.overdue())
    }

    fn params(&self, tz: Tz) -> ListParams {
        let date = |s: &str| NaiveDate::parse_from_str(s, "%Y-%m-%d").ok();
        let non_empty = |s: &str| Some(s.trim().to_owned()).filter(|s| !s.is_empty());
        let sort = match self.sort.as_str() {
            "due" | "priority" | "created" | "updated" => Some(self.sort.clone()),
            _ => None,
        };
        // Priority reads best highest first; the rest ascending unless asked.
        let order = match (self.order.as_str(), sort.as_deref()) {
            ("asc" | "desc", _) => Some(self.order.clone()),
            (_, Some("priority" | "updated" | "created")) => Some("desc".into()),
            _ => None,
        };
        ListParams {
            status: (self.status() != "all").then(|| self.status().to_owned()),
            priority: non_empty(&self.priority).into_iter().collect(),
            tag: self
                .tag
                .split([',', ' '])
                .map(|t| t.trim().trim_start_matches('#'))
                .filter(|t| !t.is_empty())
                .map(str::to_owned)
                .collect(),
            q: non_empty(&self.q),
            due_after: date(&self.from).map(|d| local_midnight(d, tz).to_rfc3339()),
            // Inclusive: up to the end of that day, and whole-day dues of that day.
            due_before: date(&self.to).and_then(|d| d.succ_opt()).map(|next| {
                let local = local_midnight(next, tz);
                let whole_day = next.and_hms_opt(0, 0, 0).unwrap_or_default().and_utc();
                local.max(whole_day).to_rfc3339()
            }),
            overdue: self.overdue().then_some(true),
            sort,
            order,
            limit: Some(PAGE),
            cursor: None,
        }
    }

    fn to_query(&self) -> String {
        let mut parts = Vec::new();
        for (k, v) in [
            ("q", &self.q),
            ("status", &self.status),
            ("priority", &self.priority),
            ("tag", &self.tag),
            ("from", &self.from),
            ("to", &self.to),
            ("overdue", &self.overdue),
            ("sort", &self.sort),
            ("order", &self.order),
        ] {
            if !v.trim().is_empty() {
                parts.push(format!("{k}={}", encode(v.trim())));
            }
        }
        parts.join("&")
    }
}

#[derive(Serialize)]
struct Preset {
    label: &'static str,
    href: String,
    active: bool,
    count: Option<usize>,
}

fn presets(view: &ViewQuery, tz: Tz, overdue_count: usize) -> Vec<Preset> {
    let today = Utc::now().with_timezone(&tz).date_naive();
    let tomorrow = today + Duration::days(1);
    let current = view.to_query();
    let items = [
        ("Inbox", String::new(), None),
        ("Today", format!("to={today}&sort=due"), None),
        ("Upcoming", format!("from={tomorrow}&sort=due"), None),
        ("Overdue", "overdue=1&sort=due".to_owned(), Some(overdue_count)),
        ("Completed", "status=completed&sort=updated".to_owned(), None),
    ];
    items
        .into_iter()
        .map(|(label, query, count)| Preset {
            label,
            href: if query.is_empty() { "/".into() } else { format!("/?{query}") },
            active: current == query,
            count,
        })
        .collect()
}

struct ListData {
    tasks: Vec<view::TaskView>,
    truncated: bool,
    empty: &'static str,
    any_tasks: bool,
}

async fn load_list(state: &WebState, v: &Viewer, view: &ViewQuery) -> Result<ListData, AppError> {
    let now = Utc::now();
    let page = state.app.tasks().list(&v.actor, &view.params(v.tz)).await?;
    let tasks: Vec<_> = page.items.iter().map(|t| view::task_view(t, v.tz, now, false)).collect();
    let (empty, any_tasks) = if !tasks.is_empty() {
        ("", true)
    } else if view.is_filtered() {
        ("filtered", true)
    } else {
        let any = ListParams { status: None, limit: Some(1), ..ListParams::default() };
        let any_tasks = !state.app.tasks().list(&v.actor, &any).await?.items.is_empty();
        match (view.status(), any_tasks) {
            (_, false) => ("first", false),
            ("completed", true) => ("none-completed", true),
            _ => ("all-done", true),
        }
    };
    Ok(ListData { tasks, truncated: page.next_cursor.is_some(), empty, any_tasks })
}

fn list_context(view: &ViewQuery, data: ListData) -> Value {
    context! {
        tasks => data.tasks,
        truncated => data.truncated,
        empty => data.empty,
        any_tasks => data.any_tasks,
        filtered => view.is_filtered(),
        view => view,
        status => view.status(),
        query => view.to_query(),
    }
}

async fn list_page(
    State(state): State<WebState>,
    reference: Reference,
    jar: CookieJar,
    uri: axum::http::Uri,
    query: Result<Query<ViewQuery>, axum_extra::extract::QueryRejection>,
) -> Response {
    let Some(v) = viewer(&state, &jar).await else { return login_redirect(&uri) };
    let view = query.map(|Query(q)| q).unwrap_or_default();
    let data = match load_list(&state, &v, &view).await {
        Ok(d) => d,
        Err(e) => return error_page(&state, v.theme, &e, &reference),
    };
    let overdue =
        ListParams { status: Some("open".into()), overdue: Some(true), limit: Some(PAGE), ..ListParams::default() };
    let overdue_count = state.app.tasks().list(&v.actor, &overdue).await.map(|p| p.items.len()).unwrap_or(0);
    let today = Utc::now().with_timezone(&v.tz).date_naive();
    render(
        &state,
        "list.html",
        context! {
            theme => v.theme, email => v.email, name => v.name, tz => v.tz.name(), signed_in => true,
            presets => presets(&view, v.tz, overdue_count), today => today.to_string(),
            ..list_context(&view, data)
        },
    )
}

async fn list_fragment(
    State(state): State<WebState>,
    reference: Reference,
    jar: CookieJar,
    query: Result<Query<ViewQuery>, axum_extra::extract::QueryRejection>,
) -> Response {
    let Some(v) = viewer(&state, &jar).await else { return StatusCode::UNAUTHORIZED.into_response() };
    let view = query.map(|Query(q)| q).unwrap_or_default();
    match load_list(&state, &v, &view).await {
        Ok(data) => render(&state, "_list.html", list_context(&view, data)),
        Err(e) => error_page(&state, v.theme, &e, &reference),
    }
}

// ---------------------------------------------------------------- a task

async fn detail_context(state: &WebState, v: &Viewer, raw_id: &str) -> Result<Value, AppError> {
    let id = TaskId::parse(raw_id).map_err(|_| AppError::NotFound)?;
    let now = Utc::now();
    let task = state.app.tasks().get(&v.actor, id).await?;
    let history = state.app.tasks().history(&v.actor, id).await.unwrap_or_default();
    let mut items: Vec<_> = history.iter().map(|e| view::history_item(&e.envelope, v.tz, now)).collect();
    items.reverse();
    Ok(context! {
        task => view::task_view(&task, v.tz, now, true),
        history => items,
        tz => v.tz.name(),
    })
}

async fn detail_page(
    State(state): State<WebState>,
    reference: Reference,
    jar: CookieJar,
    uri: axum::http::Uri,
    Path(id): Path<String>,
) -> Response {
    let Some(v) = viewer(&state, &jar).await else { return login_redirect(&uri) };
    match detail_context(&state, &v, &id).await {
        Ok(ctx) => render(
            &state,
            "detail.html",
            context! { theme => v.theme, email => v.email, name => v.name, signed_in => true, zones => zones(), ..ctx },
        ),
        Err(e) => error_page(&state, v.theme, &e, &reference),
    }
}

async fn detail_fragment(
    State(state): State<WebState>,
    reference: Reference,
    jar: CookieJar,
    Path(id): Path<String>,
) -> Response {
    let Some(v) = viewer(&state, &jar).await else { return StatusCode::UNAUTHORIZED.into_response() };
    match detail_context(&state, &v, &id).await {
        Ok(ctx) => render(&state, "_detail.html", ctx),
        Err(AppError::NotFound) => StatusCode::NOT_FOUND.into_response(),
        Err(e) => error_page(&state, v.theme, &e, &reference),
    }
}

fn zones() -> Vec<&'static str> {
    chrono_tz::TZ_VARIANTS.iter().map(|z| z.name()).filter(|n| n.contains('/') && !n.starts_with("Etc/")).collect()
}

// ---------------------------------------------------------------- helpers for the script

#[derive(Deserialize)]
struct PreviewQuery {
    #[serde(default)]
    text: String,
    tz: Option<String>,
}

#[derive(Serialize)]
struct Chip {
    kind: &'static str,
    label: String,
    text: String,
}

/// What quick add understood, as the chips under the input.
async fn quick_preview(State(state): State<WebState>, jar: CookieJar, Query(q): Query<PreviewQuery>) -> Response {
    let Some(v) = viewer(&state, &jar).await else { return StatusCode::UNAUTHORIZED.into_response() };
    let tz = q.tz.as_deref().and_then(|t| t.parse::<Tz>().ok()).unwrap_or(v.tz);
    let now = Utc::now();
    let parsed = ontask_domain::quick::parse(&q.text, now.with_timezone(&tz));
    let mut chips = Vec::new();
    if let Some(due) = parsed.due.as_deref().and_then(|d| Due::parse(d).ok()) {
        let label = match due {
            Due::Date(d) => view::day_label(d, now.with_timezone(&tz).date_naive()),
            Due::At { at, .. } => view::instant_label(at, tz, now),
        };
        let text = parsed
            .tokens
            .iter()
            .filter(|t| matches!(t.kind, ontask_domain::quick::TokenKind::Due | ontask_domain::quick::TokenKind::Time))
            .map(|t| t.text.as_str())
            .collect::<Vec<_>>()
            .join(" ");
        chips.push(Chip { kind: "due", label, text });
    }
    for t in &parsed.tokens {
        let (kind, label) = match t.kind {
            ontask_domain::quick::TokenKind::Priority => ("priority", capitalise(&t.value)),
            ontask_domain::quick::TokenKind::Tag => ("tag", format!("#{}", t.value)),
            ontask_domain::quick::TokenKind::Recurrence => ("recurrence", view::describe_rrule(&t.value)),
            ontask_domain::quick::TokenKind::Reminder => {
                ("reminder", format!("Remind {}", view::describe_reminder(&t.value, tz, now).to_lowercase()))
            }
            _ => continue,
        };
        chips.push(Chip { kind, label, text: t.text.clone() });
    }
    let error = ontask_app::input::TaskInput::from(&parsed).parse().err().map(|e| {
        e.fields()
            .iter()
            .map(|f| {
                if f.field == "title" {
                    "Add a few words for the title".to_owned()
                } else {
                    format!("{}: {}", f.field, f.message)
                }
            })
            .collect::<Vec<_>>()
            .join("; ")
    });
    let empty = q.text.trim().is_empty();
    render(&state, "_preview.html", context! { title => parsed.title, chips, error, empty })
}

#[derive(Deserialize)]
struct MarkdownForm {
    #[serde(default)]
    text: String,
}

/// The description editor's preview: the same sanitised rendering the page uses.
async fn markdown_preview(State(state): State<WebState>, jar: CookieJar, Form(f): Form<MarkdownForm>) -> Response {
    if viewer(&state, &jar).await.is_none() {
        return StatusCode::UNAUTHORIZED.into_response();
    }
    Html(markdown::render(&f.text)).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_template_renders() {
        let env = environment();
        let now = Utc::now();
        let snap: ontask_domain::TaskSnapshot = {
            let draft = ontask_app::input::TaskInput {
                title: Some("Pay <b>rent</b>".into()),
                description: Some("**hi** <script>alert(1)</script>".into()),
                tags: Some(vec!["home".into()]),
                due: Some("2026-11-24T09:00[Europe/Berlin]".into()),
                reminders: Some(vec!["PT15M".into()]),
                recurrence: Some("FREQ=MONTHLY".into()),
                ..Default::default()
            }
            .parse()
            .unwrap();
            let task = ontask_domain::Task::create(ontask_domain::UserId::new(), draft, now).unwrap();
            (&task).into()
        };
        let task = view::task_view(&snap, Tz::UTC, now, true);
        let view = ViewQuery::default();
        let ctx = context! {
            theme => "", email => "a@b.c", name => "", tz => "UTC", signed_in => true, zones => zones(),
            presets => presets(&view, Tz::UTC, 0), today => "2026-11-24",
            tasks => vec![&task], task => &task, history => Vec::<view::HistoryItem>::new(),
            view => &view, status => "open", query => "", empty => "first", filtered => false, any_tasks => true,
            mode => "login", form => context! {}, errors => FormErrors::default(), next => "/",
            title => "t", message => "m", chips => Vec::<Chip>::new(), error => None::<String>,
        };
        for (name, _) in TEMPLATES {
            let html = env.get_template(name).unwrap().render(&ctx).unwrap_or_else(|e| panic!("{name}: {e:#}"));
            assert!(!html.contains("<b>rent</b>"), "{name} must escape titles");
            assert!(!html.contains("<script>alert"), "{name} must not pass scripts through");
        }
    }

    #[test]
    fn next_stays_on_this_site() {
        assert_eq!(safe_next(Some("/tasks/1")), "/tasks/1");
        assert_eq!(safe_next(Some("//evil.example")), "/");
        assert_eq!(safe_next(Some("https://evil.example")), "/");
        assert_eq!(safe_next(None), "/");
    }

    #[test]
    fn view_query_becomes_list_params() {
        let v = ViewQuery {
            to: "2026-11-24".into(),
            priority: "high".into(),
            tag: "#home, work".into(),
            sort: "priority".into(),
            ..Default::default()
        };
        let p = v.params(Tz::UTC);
        assert_eq!(p.status.as_deref(), Some("open"));
        assert_eq!(p.priority, ["high"]);
        assert_eq!(p.tag, ["home", "work"]);
        assert_eq!(p.order.as_deref(), Some("desc"));
        assert_eq!(p.due_before.as_deref(), Some("2026-11-25T00:00:00+00:00"));
        assert!(ListParams::parse(&p, Utc::now()).is_ok());
        assert_eq!(v.to_query(), "priority=high&tag=%23home%2C%20work&to=2026-11-24&sort=priority");
        let all = ViewQuery { status: "all".into(), ..Default::default() };
        assert!(all.params(Tz::UTC).status.is_none());
    }
}
