//! The sidebar every signed-in page shows: Inbox, Today, Upcoming, Assigned to
//! me, then the person's projects with their colours, and the palette the
//! "new project" form offers. The colours come from a generated stylesheet
//! (`/ui/colours.css`), because the CSP allows no inline styles.
use ontask_app::projects::ProjectView;
use ontask_domain::{Colour, ProjectAction};

use super::*;

#[derive(Debug, Serialize)]
pub(crate) struct NavProject {
    pub(crate) id: String,
    pub(crate) name: String,
    pub(crate) colour: &'static str,
    pub(crate) shared: bool,
    pub(crate) members: i64,
    pub(crate) role: &'static str,
    pub(crate) active: bool,
}

#[derive(Debug, Serialize)]
pub(crate) struct Nav {
    pub(crate) inbox: Option<String>,
    pub(crate) projects: Vec<NavProject>,
    /// Archived projects, behind a disclosure (open while one of them is shown).
    pub(crate) archived: Vec<NavProject>,
    pub(crate) archived_open: bool,
    /// Which entry is open: `inbox`, `today`, `upcoming`, `assigned`, a project id, or empty.
    pub(crate) current: String,
    pub(crate) today: String,
    pub(crate) palette: Vec<PaletteColour>,
}

#[derive(Debug, Serialize)]
pub(crate) struct PaletteColour {
    pub(crate) value: &'static str,
    pub(crate) label: String,
}

/// "berry_red" → "Berry red".
pub(crate) fn colour_label(c: Colour) -> String {
    crate::auth::capitalise(&c.as_str().replace('_', " "))
}

pub(crate) fn palette() -> Vec<PaletteColour> {
    Colour::ALL.iter().map(|&c| PaletteColour { value: c.as_str(), label: colour_label(c) }).collect()
}

fn nav_project(p: &ProjectView, current: &str) -> NavProject {
    let id = p.project.id.to_string();
    NavProject {
        active: id == current,
        id,
        name: p.project.name.as_str().to_owned(),
        colour: p.project.colour.as_str(),
        shared: p.members > 1,
        members: p.members,
        role: p.role.as_str(),
    }
}

pub(crate) fn nav(projects: &[ProjectView], archived: &[ProjectView], current: &str, tz: Tz) -> Nav {
    let inbox = projects.iter().find(|p| p.project.inbox).map(|p| p.project.id.to_string());
    let current = match &inbox {
        Some(i) if i == current => "inbox".to_owned(),
        _ => current.to_owned(),
    };
    let archived: Vec<NavProject> = archived.iter().map(|p| nav_project(p, &current)).collect();
    Nav {
        projects: projects.iter().filter(|p| !p.project.inbox).map(|p| nav_project(p, &current)).collect(),
        archived_open: archived.iter().any(|p| p.active),
        archived,
        inbox,
        current,
        today: Utc::now().with_timezone(&tz).date_naive().to_string(),
        palette: palette(),
    }
}

/// The sidebar's data for a page; a failure leaves it empty rather than the page.
pub(crate) async fn load(state: &WebState, v: &Viewer, current: &str) -> (Vec<ProjectView>, Nav) {
    let read = |archived: bool| async move {
        state.app.projects().list(&v.actor, archived).await.unwrap_or_else(|e| {
            tracing::warn!(error = %ontask_telemetry::error_chain(&e), "the sidebar's projects could not be read");
            Vec::new()
        })
    };
    let (projects, archived) = (read(false).await, read(true).await);
    let nav = nav(&projects, &archived, current, v.tz);
    (projects, nav)
}

/// Projects where the viewer may only read, by id.
pub(crate) fn readonly(projects: &[ProjectView]) -> std::collections::HashSet<String> {
    projects.iter().filter(|p| !p.role.allows(ProjectAction::Edit)).map(|p| p.project.id.to_string()).collect()
}

/// The sidebar alone, which the script reloads when projects or memberships change.
pub(crate) async fn fragment(State(state): State<WebState>, jar: CookieJar, Query(q): Query<NavQuery>) -> Response {
    let Some(v) = viewer(&state, &jar).await else { return StatusCode::UNAUTHORIZED.into_response() };
    let (_, nav) = load(&state, &v, &q.current).await;
    render(&state, "_sidebar.html", context! { nav })
}

#[derive(Deserialize)]
pub(crate) struct NavQuery {
    #[serde(default)]
    current: String,
}

/// One rule per colour of the palette: `.c-red { --dot: #db4035 }`.
pub(crate) fn colours_css() -> String {
    Colour::ALL.iter().map(|c| format!(".c-{} {{ --dot: {}; }}\n", c.as_str(), c.hex())).collect()
}

pub(crate) async fn colours() -> Response {
    (
        [(header::CONTENT_TYPE, "text/css; charset=utf-8"), (header::CACHE_CONTROL, "public, max-age=3600")],
        colours_css(),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_colour_has_a_rule_and_a_label() {
        let css = colours_css();
        for c in Colour::ALL {
            assert!(css.contains(&format!(".c-{} {{ --dot: {}; }}", c.as_str(), c.hex())));
        }
        assert_eq!(Colour::parse("berry_red").map(colour_label).ok().as_deref(), Some("Berry red"));
        assert!(palette().iter().all(|p| !p.label.contains('_')));
    }
}
