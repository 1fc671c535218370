//! What the page's script asks while a person types: the quick-add preview
//! and the Markdown preview.
use super::*;
use crate::auth::capitalise;

#[derive(Deserialize)]
pub(crate) struct PreviewQuery {
    #[serde(default)]
    pub(crate) text: String,
    pub(crate) tz: Option<String>,
}

#[derive(Serialize)]
pub(crate) struct Chip {
    pub(crate) kind: &'static str,
    pub(crate) label: String,
    pub(crate) text: String,
}

/// What quick add understood, as the chips under the input.
pub(crate) async fn quick_preview(
    State(state): State<WebState>,
    jar: CookieJar,
    Query(q): Query<PreviewQuery>,
) -> Response {
    let Some(v) = viewer(&state, &jar).await else { return StatusCode::UNAUTHORIZED.into_response() };
    let tz = q.tz.as_deref().and_then(|t| t.parse::<Tz>().ok()).unwrap_or(v.tz);
    let now = Utc::now();
    let parsed = ontask_domain::quick::parse(&q.text, now.with_timezone(&tz));
    let mut chips = Vec::new();
    let mut unknown = None;
    if let Some(token) = parsed.tokens.iter().find(|t| t.kind == ontask_domain::quick::TokenKind::Project) {
        match ontask_app::quick::input(&state.app, &v.actor, &parsed, None).await {
            Ok(q) => chips.push(Chip {
                kind: "project",
                label: q.project.map(String::from).unwrap_or_default(),
                text: token.text.clone(),
            }),
            Err(AppError::Validation(e)) => unknown = e.fields().first().map(|f| capitalise(&f.message)),
            Err(_) => {}
        }
    }
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
            ontask_domain::quick::TokenKind::Recurrence => {
                ("recurrence", view::describe_recurrence(&t.value, parsed.repeat_from.unwrap_or_default()))
            }
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
    let error = match (unknown, error) {
        (Some(u), Some(e)) => Some(format!("{u}; {e}")),
        (u, e) => u.or(e),
    };
    let empty = q.text.trim().is_empty();
    render(&state, "_preview.html", context! { title => parsed.title, chips, error, empty })
}

#[derive(Deserialize)]
pub(crate) struct MarkdownForm {
    #[serde(default)]
    pub(crate) text: String,
}

/// The description editor's preview: the same sanitised rendering the page uses.
pub(crate) async fn markdown_preview(
    State(state): State<WebState>,
    jar: CookieJar,
    Form(f): Form<MarkdownForm>,
) -> Response {
    if viewer(&state, &jar).await.is_none() {
        return StatusCode::UNAUTHORIZED.into_response();
    }
    Html(markdown::render(&f.text)).into_response()
}
