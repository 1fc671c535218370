//! The browser UI, served by the binary at `/` when the `web` role runs.
//!
//! Pages and HTML fragments are rendered on the server from templates embedded
//! in the binary (minijinja), straight from the application services. Plain
//! JavaScript modules (`assets/app.js` and the `assets/modules/` it wires, no
//! build step) make them live: they change tasks through the REST API under
//! `/api/v1` with the session cookie, follow the user's events on
//! `/api/v1/stream` (SSE) and swap in freshly rendered fragments, so every
//! change (another tab, the API, the agent, a recurrence) shows without a
//! reload. Without JavaScript the pages still read, filter and sign in/out.
//!
//! Everything a user wrote is escaped by the templates; Markdown descriptions are
//! rendered and then sanitised (`markdown`), and a strict Content-Security-Policy
//! forbids inline scripts as a second line of defence.
#![forbid(unsafe_code)]

mod activity;
mod assets;
mod auth;
mod list;
mod markdown;
mod preview;
mod projects;
mod pwa;
mod quick;
mod reset;
mod sidebar;
mod task;
mod tree;
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

use self::auth::{login, login_form, logout, signup, signup_form};
use self::list::{list_fragment, list_page};
use self::preview::{markdown_preview, quick_preview};
use self::task::{detail_fragment, detail_page};
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
        .route("/forgot-password", get(reset::forgot_form).post(reset::forgot))
        .route("/reset-password", get(reset::reset_form).post(reset::reset))
        .route("/tasks/{id}", get(detail_page))
        .route("/ui/list", get(list_fragment))
        .route("/ui/tasks/{id}", get(detail_fragment))
        .route("/ui/quick-preview", get(quick_preview))
        .route("/ui/markdown", post(markdown_preview))
        .route("/ui/quick", post(quick::quick_add))
        .route("/ui/sidebar", get(sidebar::fragment))
        .route("/ui/colours.css", get(sidebar::colours))
        .route("/projects/{id}", get(projects::project_page))
        .route("/projects/{id}/members", get(projects::members_page))
        .route("/projects/{id}/activity", get(activity::activity_page))
        .route("/ui/projects/{id}/activity", get(activity::activity_fragment))
        .route("/ui/projects/{id}", get(projects::project_fragment))
        .route("/ui/projects/{id}/members", get(projects::members_fragment))
        .route("/settings", get(settings_page))
        .route("/upcoming", get(projects::upcoming_page))
        .route("/assigned", get(projects::assigned_page))
        .route("/ui/upcoming", get(projects::upcoming_fragment))
        .route("/ui/assigned", get(projects::assigned_fragment))
        .route("/assets/{*path}", get(assets::serve))
        .route("/manifest.webmanifest", get(pwa::manifest))
        .route("/sw.js", get(pwa::service_worker))
        .with_state(state)
        .layer(axum::middleware::from_fn(security_headers))
}

/// The settings page: its sections load and change what they show through the API.
async fn settings_page(State(state): State<WebState>, jar: CookieJar, uri: axum::http::Uri) -> Response {
    let Some(v) = viewer(&state, &jar).await else { return login_redirect(&uri) };
    let (_, nav) = sidebar::load(&state, &v, "settings").await;
    render(&state, "settings.html", projects::page_context(&v, nav, context! { zones => task::zones() }))
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
    ("_sidebar.html", include_str!("../templates/_sidebar.html")),
    ("groups.html", include_str!("../templates/groups.html")),
    ("_groups.html", include_str!("../templates/_groups.html")),
    ("_card.html", include_str!("../templates/_card.html")),
    ("_section_tools.html", include_str!("../templates/_section_tools.html")),
    ("members.html", include_str!("../templates/members.html")),
    ("activity.html", include_str!("../templates/activity.html")),
    ("settings.html", include_str!("../templates/settings.html")),
    ("_activity.html", include_str!("../templates/_activity.html")),
    ("_members.html", include_str!("../templates/_members.html")),
];

fn environment() -> Environment<'static> {
    let mut env = Environment::new();
    // Every page preloads the scripts' modules at once: without it the browser
    // finds them one import level at a time, and the page stays inert that long.
    env.add_global("modules", Value::from(assets::module_paths().collect::<Vec<_>>()));
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
    /// The profile's zone when they chose one, else the browser's.
    tz: Tz,
    profile_tz: Option<Tz>,
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
    let actor = state.app.auth().authenticate(&token).await.ok()?;
    let me = state.app.auth().me(&actor).await.ok()?;
    let (browser_tz, theme) = prefs(jar);
    let profile_tz = me.timezone.and_then(|zone| zone.parse::<Tz>().ok());
    Some(Viewer { actor, tz: profile_tz.unwrap_or(browser_tz), profile_tz, theme, email: me.email, name: me.name })
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
        AppError::NotFound => {
            (StatusCode::NOT_FOUND, "Not found", "It does not exist, it was deleted, or it is not shared with you.")
        }
        AppError::Validation(_) => (StatusCode::BAD_REQUEST, "That did not work", "Some of the filters are not valid."),
        AppError::Forbidden(_) => {
            (StatusCode::FORBIDDEN, "Not allowed", "Your role in this project does not allow that.")
        }
        AppError::Conflict(_) => {
            (StatusCode::CONFLICT, "Not now", "This cannot be changed now; its project may be archived.")
        }
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::FormErrors;
    use crate::list::{ViewQuery, presets};
    use crate::preview::Chip;
    use crate::task::zones;

    /// Without the preloads a page stays inert while the browser walks the
    /// import graph one level at a time.
    #[test]
    fn every_page_preloads_the_modules_its_scripts_import() {
        let page = environment().get_template("base.html").unwrap().render(context! {}).unwrap();
        let base = TEMPLATES.iter().find(|(name, _)| *name == "base.html").unwrap().1;
        let modules: Vec<String> =
            assets::graph::scripts_of(base).into_iter().filter(|name| name.starts_with("modules/")).collect();
        assert!(modules.len() > 10, "{modules:?}");
        for name in modules {
            let link = format!("<link rel=\"modulepreload\" href=\"/assets/{name}\">");
            assert!(page.contains(&link), "{name} is not preloaded");
        }
    }

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
            let at = ontask_domain::Placement::project(ontask_domain::ProjectId::new());
            let task = ontask_domain::Task::create(ontask_domain::UserId::new(), at, draft, now).unwrap();
            (&task).into()
        };
        let task = view::task_view(&snap, Tz::UTC, now, true);
        let view = ViewQuery::default();
        let ctx = context! {
            theme => "", email => "a@b.c", name => "", tz => "UTC", profile_tz => "", signed_in => true, zones => zones(),
            presets => presets(&view, Tz::UTC, 0), today => "2026-11-24",
            tasks => vec![&task], task => &task, history => Vec::<view::HistoryItem>::new(),
            view => &view, status => "open", query => "", empty => "first", filtered => false, any_tasks => true,
            mode => "login", form => context! {}, errors => FormErrors::default(), next => "/",
            title => "t", message => "m", chips => Vec::<Chip>::new(), error => None::<String>,
            nav => sidebar::nav(&[], &[], "", Tz::UTC),
            project => context! { id => "p", name => "<b>rent</b>", colour => "red", can_edit => true, can_manage => true,
                role => "owner", inbox => false, members => 2, shared => true, archived => true,
                description => "<b>rent</b>" },
            groups => tree::by_section(vec![view::task_view(&snap, Tz::UTC, now, false)], &[tree::SectionRef { id: "s".into(), name: "<b>rent</b>".into() }]),
            any => true, src => "/ui/projects/p", sections => vec![context! { id => "s", name => "<b>rent</b>" }],
            members => vec![context! { user_id => "u", id => "u", name => "<b>rent</b>", label => "<b>rent</b>", email => "e@x",
                initials => "E", role => "editor", owner => false, me => false, selected => true }],
            roles => ["editor", "viewer"], subtasks => vec![&task], subtasks_done => 0, can_edit => true,
            can_add_subtask => true, move_to => Vec::<String>::new(), palette => sidebar::palette(),
            g => context! { key => "s", section_id => "s", label => "<b>rent</b>" }, older => 7,
            items => vec![context! { kind => "task-created", label => "Created", detail => "<b>rent</b>",
                subject => "<b>rent</b>", task_id => "t", actor => "<b>rent</b>", when => "now", iso => "" }],
        };
        for board in [false, true] {
            let ctx = context! { board, ..ctx.clone() };
            for (name, _) in TEMPLATES {
                let html = env.get_template(name).unwrap().render(&ctx).unwrap_or_else(|e| panic!("{name}: {e:#}"));
                assert!(!html.contains("<b>rent</b>"), "{name} must escape titles");
                assert!(!html.contains("<script>alert"), "{name} must not pass scripts through");
            }
        }
        for mode in ["signup", "forgot", "reset"] {
            let form = context! { email => "<b>rent</b>", token => "otr_x", sent => true };
            let html = env.get_template("auth.html").unwrap().render(context! { mode, form, ..ctx.clone() });
            let html = html.unwrap_or_else(|e| panic!("auth.html as {mode}: {e:#}"));
            assert!(!html.contains("<b>rent</b>"), "auth.html as {mode} must escape what was typed");
        }
        let board = env.get_template("_groups.html").unwrap().render(context! { board => true, ..ctx }).unwrap();
        assert!(board.contains(r#"class="board-card"#) && board.contains("Move “Pay &lt;b&gt;rent"), "{board}");
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
        assert!(ListParams::parse(&p, Utc::now(), ontask_domain::UserId::new()).is_ok());
        assert_eq!(v.to_query(), "priority=high&tag=%23home%2C%20work&to=2026-11-24&sort=priority");
        let all = ViewQuery { status: "all".into(), ..Default::default() };
        assert!(all.params(Tz::UTC).status.is_none());
    }
}
