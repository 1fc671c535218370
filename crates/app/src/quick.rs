//! Quick add for a person: the domain parses a line of text
//! (`ontask_domain::quick`); here its `##Project` token is resolved to one of
//! the person's projects, so every front door (REST, web UI, MCP) reads the
//! same text the same way.
use ontask_domain::quick::QuickTask;
use ontask_domain::{Name, ProjectId};

use crate::input::TaskInput;
use crate::{Actor, App, AppError, Result};

/// Letters and digits only, lower case: how project names are compared, so
/// `##home-office` finds "Home office".
fn fold(s: &str) -> String {
    s.chars().filter(|c| c.is_alphanumeric()).flat_map(char::to_lowercase).collect()
}

/// The zone to read a line in: the one the request names, else the
/// person's profile zone, else UTC.
pub async fn timezone(app: &App, actor: &Actor, requested: Option<&str>) -> Result<chrono_tz::Tz> {
    match requested.map(str::trim).filter(|zone| !zone.is_empty()) {
        Some(zone) => Ok(ontask_domain::quick::parse_timezone(Some(zone))?),
        None => app.auth.timezone_of(actor).await,
    }
}

/// What a line of quick-add text asks for.
#[derive(Debug, Clone)]
pub struct QuickInput {
    pub input: TaskInput,
    /// The project its `##` token named, as the project is called.
    pub project: Option<Name>,
}

/// The create request `parsed` stands for: in the project its token names
/// (one of the actor's unarchived projects), else in `default_project` (the
/// project whose page the text was typed on), else in the Inbox.
pub async fn input(
    app: &App,
    actor: &Actor,
    parsed: &QuickTask,
    default_project: Option<ProjectId>,
) -> Result<QuickInput> {
    let mut input = TaskInput::from(parsed);
    let Some(name) = &parsed.project else {
        input.project_id = default_project.map(|p| p.to_string());
        return Ok(QuickInput { input, project: None });
    };
    let want = fold(name);
    let projects = app.projects().list(actor, false).await?;
    let found = projects.into_iter().find(|p| fold(p.project.name.as_str()) == want);
    let project = found.ok_or_else(|| AppError::validation("project", format!("no project named “{name}”")))?;
    input.project_id = Some(project.project.id.to_string());
    Ok(QuickInput { input, project: Some(project.project.name) })
}

#[cfg(test)]
mod tests {
    use super::fold;

    #[test]
    fn names_match_ignoring_case_spaces_and_punctuation() {
        assert_eq!(fold("Home office"), fold("home-office"));
        assert_eq!(fold("Home office"), fold("HOME_OFFICE"));
        assert_ne!(fold("Home"), fold("Home office"));
    }
}
