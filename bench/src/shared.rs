//! Listing a shared project: one owner's tasks spread over `SHARED_PROJECTS`
//! projects, each shared with `SHARED_MEMBERS - 1` others; a member lists one
//! project, a page at a time, and the owner lists the same project in the
//! same run (the reference: listing one's own). Also the default list across
//! all fifty projects, which walks each project's index (`tasks::list`).
use std::time::Instant;

use anyhow::{Context, Result, bail};
use reqwest::{Client, StatusCode, Url};
use serde_json::{Value, json};

use crate::stats::{Summary, fmt_ms};
use crate::{Cli, Ctx, list, print_load_header, print_load_row};

const SHARED_PROJECTS: usize = 50;
const SHARED_MEMBERS: usize = 5;

/// Registers an account; returns its token and e-mail.
async fn account(client: &Client, base: &Url, who: &str) -> Result<(String, String)> {
    let email = format!("bench-{who}-{}-{}@example.com", chrono::Utc::now().format("%H%M%S%3f"), std::process::id());
    let r = client
        .post(base.join("/api/v1/auth/register")?)
        .json(&json!({ "email": email, "password": "bench-password-1234" }))
        .send()
        .await?;
    let status = r.status();
    let body: Value = r.json().await.context("register answer")?;
    if !status.is_success() {
        bail!("register answered {status}: {body}");
    }
    Ok((body["token"].as_str().context("a token")?.to_owned(), email))
}

async fn post(client: &Client, url: Url, token: &str, body: Value, expect: StatusCode) -> Result<Value> {
    let r = client.post(url.clone()).bearer_auth(token).json(&body).send().await?;
    let status = r.status();
    let body: Value = r.json().await.unwrap_or(Value::Null);
    if status != expect {
        bail!("POST {url} answered {status}: {body}");
    }
    Ok(body)
}

pub async fn run(cli: &Cli, ctx: &Ctx) -> Result<Value> {
    let (owner, _) = account(&ctx.client, &ctx.base, "owner").await?;
    let mut members = Vec::new();
    for m in 1..SHARED_MEMBERS {
        members.push(account(&ctx.client, &ctx.base, &format!("member{m}")).await?);
    }
    let mut projects = Vec::new();
    for p in 0..SHARED_PROJECTS {
        let project = post(
            &ctx.client,
            ctx.base.join("/api/v1/projects")?,
            &owner,
            json!({ "name": format!("Project {p}") }),
            StatusCode::CREATED,
        )
        .await?;
        let id = project["id"].as_str().context("a project id")?.to_owned();
        for (_, email) in &members {
            let url = ctx.base.join(&format!("/api/v1/projects/{id}/members"))?;
            post(&ctx.client, url, &owner, json!({ "email": email, "role": "editor" }), StatusCode::CREATED).await?;
        }
        projects.push(id);
    }
    println!(
        "\n== shared project: seeding {} tasks over {SHARED_PROJECTS} projects of {SHARED_MEMBERS} members, {} clients",
        cli.tasks, cli.seed_concurrency
    );
    let t = Instant::now();
    let seeded =
        list::seed(&ctx.client, &ctx.base, &owner, cli.tasks, cli.seed_concurrency, &projects, &ctx.probe()).await?;
    print_load_header("seed");
    print_load_row("create", &seeded.created);
    println!("seeded in {:.1} s", t.elapsed().as_secs_f64());
    ctx.settle().await;

    let limit = cli.list_limit;
    let one = &projects[SHARED_PROJECTS / 2];
    let queries: Vec<(String, String)> = vec![
        ("one project (position)".into(), format!("project={one}&limit={limit}")),
        ("one project, status=open&sort=due".into(), format!("project={one}&status=open&sort=due&limit={limit}")),
        ("all 50 projects (position)".into(), format!("limit={limit}")),
        ("all 50 projects, status=open&sort=due".into(), format!("status=open&sort=due&limit={limit}")),
    ];
    println!("\n   GET /api/v1/tasks, one request at a time, {} samples each (ms)", cli.list_samples);
    println!("{:<12} {:<40} {:>6} {:>8} {:>8} {:>8} {:>8}", "who", "query", "items", "p50", "p90", "p99", "max");
    let mut out = Vec::new();
    let member = &members[0].0;
    for (who, token) in [("owner (ref)", &owner), ("member", member)] {
        let results = list::time_queries(&ctx.client, &ctx.base, token, &queries, 20, cli.list_samples).await?;
        for q in &results {
            let s = Summary::of(&q.latency);
            println!(
                "{:<12} {:<40} {:>6} {:>8} {:>8} {:>8} {:>8}",
                who,
                q.name,
                q.items,
                fmt_ms(s.p50),
                fmt_ms(s.p90),
                fmt_ms(s.p99),
                fmt_ms(s.max)
            );
            let mut j = q.json();
            j["who"] = json!(who);
            out.push(j);
        }
    }
    Ok(json!({
        "tasks": cli.tasks,
        "projects": SHARED_PROJECTS,
        "members": SHARED_MEMBERS,
        "seed_create": seeded.created.json(),
        "queries": out,
        "server_memory": ctx.memory_json(),
    }))
}
