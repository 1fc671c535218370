//! Quick add in the browser, with a project token: `##Project` puts the task
//! in that project. Todoist writes `#Project`, but here `#word` is a tag, and
//! it stays one; the doubled `#` is never a tag, so nothing typed before
//! changes meaning. The token is resolved here, against the person's projects,
//! because the domain's parser (`ontask_domain::quick`) does no I/O. Spaces
//! in a project's name may be written as `-` or `_`, or left out: `##home-office`
//! finds "Home office".
use ontask_app::input::TaskInput;
use ontask_app::projects::ProjectView;
use ontask_app::{Actor, Context};

use super::*;

/// The text without its project token, and the token's name (the first
/// `##name` word; a later one stays in the title).
pub(crate) fn split_project(text: &str) -> (String, Option<String>) {
    let mut name = None;
    let mut rest = Vec::new();
    for word in text.split_whitespace() {
        match word.strip_prefix("##") {
            Some(n) if name.is_none() && !n.trim_start_matches('#').is_empty() => {
                name = Some(n.trim_start_matches('#').to_owned());
            }
            _ => rest.push(word),
        }
    }
    (rest.join(" "), name)
}

/// Letters and digits only, lower case: how names are compared.
fn fold(s: &str) -> String {
    s.chars().filter(|c| c.is_alphanumeric()).flat_map(char::to_lowercase).collect()
}

/// The project a token names, by its name, ignoring case, spaces and
/// punctuation. Archived projects are not in `projects`, so not found.
pub(crate) fn resolve<'p>(projects: &'p [ProjectView], token: &str) -> Option<&'p ProjectView> {
    let want = fold(token);
    projects.iter().find(|p| fold(p.project.name.as_str()) == want)
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct QuickForm {
    text: String,
    timezone: Option<String>,
    /// The project whose page the form is on: where the task goes without a token.
    project_id: Option<String>,
    /// The section whose "add" form was used.
    section_id: Option<String>,
}

/// An RFC 9457 problem, shaped as the REST API's, so the script reads both alike.
fn problem(status: StatusCode, detail: &str, errors: &[ontask_domain::FieldError]) -> Response {
    let body = serde_json::json!({
        "type": "about:blank",
        "title": status.canonical_reason().unwrap_or("error"),
        "status": status.as_u16(),
        "detail": detail,
        "errors": errors,
    });
    (status, [(header::CONTENT_TYPE, "application/problem+json")], body.to_string()).into_response()
}

fn app_problem(e: &AppError) -> Response {
    match e {
        AppError::Validation(v) => problem(StatusCode::UNPROCESSABLE_ENTITY, "invalid input", v.fields()),
        AppError::NotFound => problem(StatusCode::NOT_FOUND, "that project does not exist", &[]),
        AppError::Forbidden(why) => problem(StatusCode::FORBIDDEN, why, &[]),
        AppError::Conflict(why) => problem(StatusCode::CONFLICT, why, &[]),
        other => {
            tracing::error!(error = %ontask_telemetry::error_chain(other), "quick add failed");
            problem(StatusCode::INTERNAL_SERVER_ERROR, "something went wrong", &[])
        }
    }
}

/// `##name` where the person has no project of that name.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct UnknownProject(pub(crate) String);

impl UnknownProject {
    pub(crate) fn message(&self) -> String {
        format!("no project named “{}”", self.0)
    }
}

/// What a line of quick-add text becomes: the create request, with the project
/// the token named (or the page's), or the error of an unknown project.
pub(crate) fn request(
    text: &str,
    tz: Tz,
    projects: &[ProjectView],
    default_project: Option<&str>,
) -> Result<(ontask_domain::quick::QuickTask, TaskInput, Option<String>), UnknownProject> {
    let (rest, token) = split_project(text);
    let parsed = ontask_domain::quick::parse(&rest, Utc::now().with_timezone(&tz));
    let mut input = TaskInput::from(&parsed);
    let mut project_name = None;
    match token {
        Some(name) => {
            let project = resolve(projects, &name).ok_or_else(|| UnknownProject(name.clone()))?;
            input.project_id = Some(project.project.id.to_string());
            project_name = Some(project.project.name.as_str().to_owned());
        }
        None => input.project_id = default_project.map(str::to_owned),
    }
    Ok((parsed, input, project_name))
}

pub(crate) async fn quick_add(
    State(state): State<WebState>,
    reference: Reference,
    jar: CookieJar,
    method: axum::http::Method,
    headers: HeaderMap,
    axum::Json(form): axum::Json<QuickForm>,
) -> Response {
    // The session cookie alone must not let another site add tasks.
    if !front_door::same_site(&method, &headers) {
        return problem(StatusCode::FORBIDDEN, "cross-site request refused", &[]);
    }
    let Some(v) = viewer(&state, &jar).await else {
        return problem(StatusCode::UNAUTHORIZED, "signed out", &[]);
    };
    let tz = match ontask_domain::quick::parse_timezone(form.timezone.as_deref()) {
        Ok(tz) => tz,
        Err(e) => return app_problem(&AppError::Validation(e)),
    };
    let projects = state.app.projects().list(&v.actor, false).await.unwrap_or_default();
    let (_, mut input, named) = match request(&form.text, tz, &projects, form.project_id.as_deref()) {
        Ok(r) => r,
        Err(e) => {
            let errors = [ontask_domain::FieldError { field: "project".into(), message: e.message() }];
            return problem(StatusCode::UNPROCESSABLE_ENTITY, "invalid input", &errors);
        }
    };
    // A section only where the task goes to its project.
    if named.is_none() {
        input.section_id = form.section_id.filter(|s| !s.is_empty());
    }
    let draft = match input.parse() {
        Ok(d) => d,
        Err(e) => return app_problem(&AppError::Validation(e)),
    };
    let ctx = context_of(&v.actor, &reference);
    match state.app.tasks().create(&ctx, &v.actor, draft).await {
        Ok(task) => (StatusCode::CREATED, axum::Json(task)).into_response(),
        Err(e) => app_problem(&e),
    }
}

/// The context of a change made from a page: the request's id correlates its events.
fn context_of(actor: &Actor, reference: &Reference) -> Context {
    let id = reference.as_ref().map_or_else(|| uuid::Uuid::now_v7().to_string(), |m| m.request_id.clone());
    Context::new(id, actor.event_actor())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_project_token_is_taken_out_and_tags_stay() {
        assert_eq!(
            split_project("Plan trip ##Travel #family tomorrow"),
            ("Plan trip #family tomorrow".to_owned(), Some("Travel".to_owned()))
        );
        assert_eq!(split_project("Pay rent #home"), ("Pay rent #home".to_owned(), None));
        assert_eq!(split_project("a ##x ##y"), ("a ##y".to_owned(), Some("x".to_owned())));
        assert_eq!(split_project("just ## hashes"), ("just ## hashes".to_owned(), None));
    }

    #[test]
    fn names_match_ignoring_case_and_spaces() {
        assert_eq!(fold("Home office"), fold("home-office"));
        assert_eq!(fold("Home office"), fold("HOME_OFFICE"));
        assert_ne!(fold("Home"), fold("Home office"));
    }
}
