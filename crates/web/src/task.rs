//! One task: its detail page and fragment, with its history.
use super::*;

pub(crate) async fn detail_context(state: &WebState, v: &Viewer, raw_id: &str) -> Result<Value, AppError> {
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

pub(crate) async fn detail_page(
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

pub(crate) async fn detail_fragment(
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

pub(crate) fn zones() -> Vec<&'static str> {
    chrono_tz::TZ_VARIANTS.iter().map(|z| z.name()).filter(|n| n.contains('/') && !n.starts_with("Etc/")).collect()
}
