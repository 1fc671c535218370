//! Listing with filters over a large task set: seed it through the API, then
//! time `GET /api/v1/tasks` for several filter and sort combinations.
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use hdrhistogram::Histogram;
use reqwest::{Client, StatusCode, Url};
use serde_json::{Value, json};

use crate::data;
use crate::load::{self, Limit, Maker, Probe, RunResult};
use crate::stats::{self, Summary};

pub struct Seeded {
    pub created: RunResult,
    pub completed: RunResult,
}

/// Creates `count` tasks with `concurrency` clients, then completes one in
/// five. With `projects`, task `i` goes into project `i % projects.len()`.
pub async fn seed(
    client: &Client,
    base: &Url,
    token: &str,
    count: u64,
    concurrency: usize,
    projects: &[String],
    probe: &Probe,
) -> Result<Seeded> {
    let now = chrono::Utc::now();
    let tasks_url = base.join("/api/v1/tasks")?;
    let make: Maker = {
        let (url, token, projects) = (tasks_url.clone(), token.to_owned(), Arc::new(projects.to_vec()));
        Arc::new(move |c: &Client, i| {
            let (_, mut body) = data::task(i, "s", now);
            if !projects.is_empty() {
                let mut value: Value = serde_json::from_slice(&body).expect("a task body is JSON");
                value["project_id"] = json!(projects[(i % projects.len() as u64) as usize]);
                body = serde_json::to_vec(&value).expect("JSON serialises");
            }
            c.post(url.clone()).bearer_auth(&token).header("content-type", "application/json").body(body)
        })
    };
    let to_complete: Arc<Mutex<Vec<String>>> = Arc::default();
    let on_ok: load::OnOk = {
        let to_complete = to_complete.clone();
        Arc::new(move |i, body: &[u8]| {
            if data::completes(i)
                && let Some(id) =
                    serde_json::from_slice::<Value>(body).ok().and_then(|v| v["id"].as_str().map(str::to_owned))
            {
                to_complete.lock().expect("not poisoned").push(id);
            }
        })
    };
    let created = load::closed_loop(
        "seed: create",
        client,
        make,
        StatusCode::CREATED,
        concurrency,
        Limit::Count(count),
        Some(on_ok),
        probe,
    )
    .await;
    if created.ok != count {
        bail!("seeding created {} of {count} tasks (errors: {:?})", created.ok, created.errors);
    }
    let ids = Arc::new(std::mem::take(&mut *to_complete.lock().expect("not poisoned")));
    let make: Maker = {
        let (base, token, ids) = (base.clone(), token.to_owned(), ids.clone());
        Arc::new(move |c: &Client, i| {
            let url = base.join(&format!("/api/v1/tasks/{}/complete", ids[i as usize])).expect("valid path");
            c.post(url).bearer_auth(&token)
        })
    };
    let completed = load::closed_loop(
        "seed: complete",
        client,
        make,
        StatusCode::OK,
        concurrency,
        Limit::Count(ids.len() as u64),
        None,
        probe,
    )
    .await;
    Ok(Seeded { created, completed })
}

pub struct QueryResult {
    pub name: String,
    pub query: String,
    pub items: usize,
    pub latency: Histogram<u64>,
    pub errors: u64,
}

impl QueryResult {
    pub fn json(&self) -> Value {
        json!({
            "name": self.name,
            "query": self.query,
            "items_per_page": self.items,
            "errors": self.errors,
            "latency": Summary::of(&self.latency).json(),
        })
    }
}

/// The combinations timed, as (name, query string).
fn queries() -> Vec<(&'static str, String)> {
    let tag = data::TAGS[0];
    vec![
        ("default (position)", String::new()),
        ("status=open&sort=due", "status=open&sort=due".into()),
        ("priority=high", "priority=high".into()),
        ("tag=work", format!("tag={tag}")),
        ("tag=work&tag=g0 (AND)", format!("tag={tag}&tag=g0")),
        ("q=report (1/16)", "q=report".into()),
        ("q=zebra (1/1000)", format!("q={}", data::RARE_WORD)),
        ("overdue=true", "overdue=true".into()),
        ("sort=priority&order=desc", "sort=priority&order=desc".into()),
        ("status=completed&sort=updated", "status=completed&sort=updated&order=desc".into()),
    ]
}

async fn get_page(client: &Client, url: &Url, token: &str) -> Result<Value> {
    let r = client.get(url.clone()).bearer_auth(token).send().await?;
    let status = r.status();
    let body = r.bytes().await?;
    if status != StatusCode::OK {
        bail!("GET {url} answered {status}: {}", String::from_utf8_lossy(&body));
    }
    Ok(serde_json::from_slice(&body)?)
}

async fn time_query(
    client: &Client,
    url: Url,
    token: &str,
    name: &str,
    query: String,
    warmup: usize,
    samples: usize,
) -> Result<QueryResult> {
    let first = get_page(client, &url, token).await.with_context(|| format!("query {name}"))?;
    let items = first["items"].as_array().map_or(0, Vec::len);
    let mut latency = stats::histogram();
    let mut errors = 0;
    for n in 0..warmup + samples {
        let t = Instant::now();
        let ok = match client.get(url.clone()).bearer_auth(token).send().await {
            Ok(r) => r.status() == StatusCode::OK && r.bytes().await.is_ok(),
            Err(_) => false,
        };
        let d = t.elapsed();
        if n >= warmup {
            if ok {
                stats::record(&mut latency, d);
            } else {
                errors += 1;
            }
        }
    }
    Ok(QueryResult { name: name.to_owned(), query, items, latency, errors })
}

/// Times `queries` (name, query string) as `token`'s holder, one request in flight.
pub async fn time_queries(
    client: &Client,
    base: &Url,
    token: &str,
    queries: &[(String, String)],
    warmup: usize,
    samples: usize,
) -> Result<Vec<QueryResult>> {
    let mut out = Vec::new();
    for (name, q) in queries {
        let mut url = base.join("/api/v1/tasks")?;
        url.set_query(Some(q));
        out.push(time_query(client, url, token, name, q.clone(), warmup, samples).await?);
    }
    Ok(out)
}

/// Times each query sequentially (one request in flight), then page 2 of two
/// of them through `next_cursor`.
pub async fn run_queries(
    client: &Client,
    base: &Url,
    token: &str,
    limit: u32,
    warmup: usize,
    samples: usize,
) -> Result<Vec<QueryResult>> {
    let mut out = Vec::new();
    let with_limit = |q: &str| if q.is_empty() { format!("limit={limit}") } else { format!("{q}&limit={limit}") };
    for (name, q) in queries() {
        let q = with_limit(&q);
        let mut url = base.join("/api/v1/tasks")?;
        url.set_query(Some(&q));
        out.push(time_query(client, url, token, name, q, warmup, samples).await?);
    }
    for (name, q) in
        [("status=open&sort=due, page 2 (cursor)", "status=open&sort=due"), ("q=report, page 2 (cursor)", "q=report")]
    {
        let q = with_limit(q);
        let mut url = base.join("/api/v1/tasks")?;
        url.set_query(Some(&q));
        let page1 = get_page(client, &url, token).await?;
        let cursor = page1["next_cursor"].as_str().context("page 1 has no next_cursor")?.to_owned();
        url.query_pairs_mut().append_pair("cursor", &cursor);
        out.push(
            time_query(client, url, token, name, format!("{q}&cursor=<page 1 next_cursor>"), warmup, samples).await?,
        );
    }
    Ok(out)
}

/// Listing throughput: `concurrency` clients on one query for `duration`.
pub async fn list_throughput(
    client: &Client,
    base: &Url,
    token: &str,
    query: &str,
    concurrency: usize,
    duration: Duration,
    probe: &Probe,
) -> Result<RunResult> {
    let mut url = base.join("/api/v1/tasks")?;
    url.set_query(Some(query));
    let token = token.to_owned();
    let make: Maker = Arc::new(move |c: &Client, _| c.get(url.clone()).bearer_auth(&token));
    Ok(load::closed_loop(
        &format!("list {query}"),
        client,
        make,
        StatusCode::OK,
        concurrency,
        Limit::Time(duration),
        None,
        probe,
    )
    .await)
}
