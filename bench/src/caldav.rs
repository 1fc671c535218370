//! CalDAV: one calendar (a project) of `--caldav-tasks` tasks (1,000 by
//! default; one in five completed), seeded through the REST API, then each
//! request a syncing client makes timed one at a time: the first
//! sync-collection (ETags only, as DAVx5 and Thunderbird ask, then with the
//! whole calendar-data), an incremental sync after one change, PROPFIND
//! Depth 1, and a calendar-multiget of 100 resources.
use std::time::Instant;

use anyhow::{Context, Result, bail};
use reqwest::{Client, Method, StatusCode, Url};
use serde_json::{Value, json};

use crate::list;
use crate::load::Probe;
use crate::stats::{self, Summary, fmt_ms};

const SYNC_ETAGS: &str = r#"<d:sync-collection xmlns:d="DAV:"><d:sync-token/><d:sync-level>1</d:sync-level><d:prop><d:getetag/></d:prop></d:sync-collection>"#;
const SYNC_DATA: &str = r#"<d:sync-collection xmlns:d="DAV:" xmlns:c="urn:ietf:params:xml:ns:caldav"><d:sync-token/><d:sync-level>1</d:sync-level><d:prop><d:getetag/><c:calendar-data/></d:prop></d:sync-collection>"#;
const PROPFIND_ETAGS: &str =
    r#"<d:propfind xmlns:d="DAV:"><d:prop><d:getetag/><d:getcontenttype/></d:prop></d:propfind>"#;

struct Request {
    name: &'static str,
    method: &'static str,
    depth: &'static str,
    body: String,
}

fn dav(client: &Client, url: &Url, token: &str, r: &Request) -> reqwest::RequestBuilder {
    client
        .request(Method::from_bytes(r.method.as_bytes()).expect("a method name"), url.clone())
        .bearer_auth(token)
        .header("depth", r.depth)
        .header("content-type", "application/xml; charset=utf-8")
        .body(r.body.clone())
}

/// The number of `<d:response>` in a multistatus (the resources answered).
fn responses(body: &str) -> usize {
    body.matches("<d:response>").count()
}

fn sync_token(body: &str) -> Option<String> {
    let start = body.rfind("<d:sync-token>")? + "<d:sync-token>".len();
    let end = body[start..].find("</d:sync-token>")? + start;
    Some(body[start..end].to_owned())
}

pub async fn run(client: &Client, base: &Url, tasks: u64, samples: usize, probe: &Probe) -> Result<Value> {
    let token = crate::register(client, base, "caldav").await?;
    let me: Value = client.get(base.join("/api/v1/me")?).bearer_auth(&token).send().await?.json().await?;
    let user = me["id"].as_str().context("/me has no id")?.to_owned();
    let project: Value = client
        .post(base.join("/api/v1/projects")?)
        .bearer_auth(&token)
        .json(&json!({ "name": "Bench calendar" }))
        .send()
        .await?
        .json()
        .await?;
    let project = project["id"].as_str().context("the project has no id")?.to_owned();
    println!("\n== caldav: one calendar of {tasks} tasks, each request timed alone, {samples} samples (ms)");
    let seeded = list::seed(client, base, &token, tasks, 16, std::slice::from_ref(&project), probe).await?;
    let url = base.join(&format!("/dav/calendars/{user}/{project}/"))?;

    // The hrefs a multiget asks for: the first 100 of a listing.
    let listing =
        dav(client, &url, &token, &Request { name: "", method: "PROPFIND", depth: "1", body: PROPFIND_ETAGS.into() })
            .send()
            .await?
            .text()
            .await?;
    let hrefs: Vec<&str> = listing
        .split("<d:href>")
        .skip(2) // the collection's own
        .filter_map(|s| s.split("</d:href>").next())
        .take(100)
        .collect();
    let multiget = format!(
        r#"<c:calendar-multiget xmlns:d="DAV:" xmlns:c="urn:ietf:params:xml:ns:caldav"><d:prop><d:getetag/><c:calendar-data/></d:prop>{}</c:calendar-multiget>"#,
        hrefs.iter().map(|h| format!("<d:href>{h}</d:href>")).collect::<String>()
    );

    // An incremental sync: the token of a full sync, then one task changed.
    let full = dav(client, &url, &token, &Request { name: "", method: "REPORT", depth: "1", body: SYNC_ETAGS.into() })
        .send()
        .await?
        .text()
        .await?;
    let since = sync_token(&full).context("a sync-collection answer has a sync-token")?;
    let first_task = hrefs
        .first()
        .and_then(|h| h.rsplit('/').next())
        .and_then(|n| n.strip_suffix(".ics"))
        .context("the calendar lists its tasks")?
        .to_owned();
    let patch = client
        .patch(base.join(&format!("/api/v1/tasks/{first_task}"))?)
        .bearer_auth(&token)
        .json(&json!({ "title": "changed for the incremental sync" }))
        .send()
        .await?;
    if !patch.status().is_success() {
        bail!("changing a task answered {}", patch.status());
    }
    let incremental = SYNC_ETAGS.replace("<d:sync-token/>", &format!("<d:sync-token>{since}</d:sync-token>"));

    let requests = [
        Request { name: "sync-collection, initial, getetag", method: "REPORT", depth: "1", body: SYNC_ETAGS.into() },
        Request {
            name: "sync-collection, initial, calendar-data",
            method: "REPORT",
            depth: "1",
            body: SYNC_DATA.into(),
        },
        Request { name: "sync-collection, since 1 change", method: "REPORT", depth: "1", body: incremental },
        Request { name: "PROPFIND Depth 1, getetag", method: "PROPFIND", depth: "1", body: PROPFIND_ETAGS.into() },
        Request { name: "calendar-multiget, 100, calendar-data", method: "REPORT", depth: "1", body: multiget },
    ];
    println!(
        "{:<42} {:>6} {:>9} {:>8} {:>8} {:>8} {:>8} {:>7}",
        "request", "items", "bytes", "p50", "p90", "p99", "max", "errors"
    );
    let mut out = Vec::new();
    for r in &requests {
        let first = dav(client, &url, &token, r).send().await?;
        if first.status() != StatusCode::MULTI_STATUS {
            bail!("{} answered {}", r.name, first.status());
        }
        let body = first.text().await?;
        let mut latency = stats::histogram();
        let mut errors = 0;
        for n in 0..10 + samples {
            let t = Instant::now();
            let ok = match dav(client, &url, &token, r).send().await {
                Ok(resp) => resp.status() == StatusCode::MULTI_STATUS && resp.bytes().await.is_ok(),
                Err(_) => false,
            };
            if n >= 10 {
                if ok { stats::record(&mut latency, t.elapsed()) } else { errors += 1 }
            }
        }
        let s = Summary::of(&latency);
        println!(
            "{:<42} {:>6} {:>9} {:>8} {:>8} {:>8} {:>8} {:>7}",
            r.name,
            responses(&body),
            body.len(),
            fmt_ms(s.p50),
            fmt_ms(s.p90),
            fmt_ms(s.p99),
            fmt_ms(s.max),
            errors
        );
        out.push(json!({ "request": r.name, "responses": responses(&body), "bytes": body.len(), "latency_ms": s.json(), "errors": errors }));
    }
    Ok(json!({ "tasks": tasks, "seed_create": seeded.created.json(), "requests": out }))
}
