//! The task list: its filters and presets, the page and the fragment the
//! script reloads.
use super::*;

/// The view as it stands in the URL: `/?q=rent&priority=high&sort=due`.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub(crate) struct ViewQuery {
    #[serde(default)]
    pub(crate) q: String,
    /// open (default), completed or all.
    #[serde(default)]
    pub(crate) status: String,
    #[serde(default)]
    pub(crate) priority: String,
    #[serde(default)]
    pub(crate) tag: String,
    /// Dates (YYYY-MM-DD), inclusive, in the viewer's zone.
    #[serde(default)]
    pub(crate) from: String,
    #[serde(default)]
    pub(crate) to: String,
    #[serde(default)]
    pub(crate) overdue: String,
    #[serde(default)]
    pub(crate) sort: String,
    #[serde(default)]
    pub(crate) order: String,
}

pub(crate) fn local_midnight(date: NaiveDate, tz: Tz) -> DateTime<Utc> {
    tz.from_local_datetime(&date.and_hms_opt(0, 0, 0).unwrap_or_default())
        .earliest()
        .map_or_else(|| date.and_hms_opt(0, 0, 0).unwrap_or_default().and_utc(), |t| t.with_timezone(&Utc))
}

impl ViewQuery {
    pub(crate) fn status(&self) -> &str {
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

    pub(crate) fn params(&self, tz: Tz) -> ListParams {
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
            ..ListParams::default()
        }
    }

    pub(crate) fn to_query(&self) -> String {
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
pub(crate) struct Preset {
    pub(crate) label: &'static str,
    pub(crate) href: String,
    pub(crate) active: bool,
    pub(crate) count: Option<usize>,
}

pub(crate) fn presets(view: &ViewQuery, tz: Tz, overdue_count: usize) -> Vec<Preset> {
    let today = Utc::now().with_timezone(&tz).date_naive();
    let tomorrow = today + Duration::days(1);
    let current = view.to_query();
    let items = [
        ("All tasks", String::new(), None),
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

pub(crate) struct ListData {
    pub(crate) tasks: Vec<view::TaskView>,
    pub(crate) truncated: bool,
    pub(crate) empty: &'static str,
    pub(crate) any_tasks: bool,
}

pub(crate) async fn load_list(state: &WebState, v: &Viewer, view: &ViewQuery) -> Result<ListData, AppError> {
    let now = Utc::now();
    let page = state.app.tasks().list(&v.actor, &view.params(v.tz)).await?;
    let mut tasks: Vec<_> = page.items.iter().map(|t| view::task_view(t, v.tz, now, false)).collect();
    crate::projects::name_assignees(state, v, &mut tasks).await;
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

pub(crate) fn list_context(view: &ViewQuery, data: ListData) -> Value {
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

pub(crate) async fn list_page(
    State(state): State<WebState>,
    reference: Reference,
    jar: CookieJar,
    uri: axum::http::Uri,
    query: Result<Query<ViewQuery>, axum_extra::extract::QueryRejection>,
) -> Response {
    let Some(v) = viewer(&state, &jar).await else { return login_redirect(&uri) };
    let view = query.map(|Query(q)| q).unwrap_or_default();
    let mut data = match load_list(&state, &v, &view).await {
        Ok(d) => d,
        Err(e) => return error_page(&state, v.theme, &e, &reference),
    };
    let (projects, nav) = sidebar::load(&state, &v, "all").await;
    tree::mark_readonly(&mut data.tasks, &sidebar::readonly(&projects));
    let overdue =
        ListParams { status: Some("open".into()), overdue: Some(true), limit: Some(PAGE), ..ListParams::default() };
    let overdue_count = state.app.tasks().list(&v.actor, &overdue).await.map(|p| p.items.len()).unwrap_or(0);
    let today = Utc::now().with_timezone(&v.tz).date_naive();
    render(
        &state,
        "list.html",
        context! {
            theme => v.theme, email => v.email, name => v.name, tz => v.tz.name(), signed_in => true,
            presets => presets(&view, v.tz, overdue_count), today => today.to_string(), nav,
            ..list_context(&view, data)
        },
    )
}

pub(crate) async fn list_fragment(
    State(state): State<WebState>,
    reference: Reference,
    jar: CookieJar,
    query: Result<Query<ViewQuery>, axum_extra::extract::QueryRejection>,
) -> Response {
    let Some(v) = viewer(&state, &jar).await else { return StatusCode::UNAUTHORIZED.into_response() };
    let view = query.map(|Query(q)| q).unwrap_or_default();
    match load_list(&state, &v, &view).await {
        Ok(mut data) => {
            let projects = state.app.projects().list(&v.actor, false).await.unwrap_or_default();
            tree::mark_readonly(&mut data.tasks, &sidebar::readonly(&projects));
            render(&state, "_list.html", list_context(&view, data))
        }
        Err(e) => error_page(&state, v.theme, &e, &reference),
    }
}
