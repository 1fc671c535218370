//! `ontask-bench`: a reproducible load run against `ontask serve` (release
//! build, SQLite). Scenarios: open-loop create rates, closed-loop max create
//! throughput, filtered listing over a seeded task set, commit-to-SSE latency.
//! Prints a report and writes JSON to `bench/results/<timestamp>.json`.
//! Every request goes to a loopback address.
#![forbid(unsafe_code)]

mod caldav;
mod data;
mod list;
mod load;
mod reference;
mod server;
mod shared;
mod sse;
mod stats;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use clap::Parser;
use reqwest::{Client, StatusCode, Url};
use serde_json::{Value, json};

use crate::load::{Limit, Maker, Probe, RunResult};
use crate::server::Server;
use crate::stats::{Summary, fmt_ms, round3};

#[derive(Parser, Debug)]
#[command(name = "ontask-bench", about = "Load benchmark for `ontask serve` (loopback only).")]
struct Cli {
    /// Benchmark an already running server at this loopback URL instead of starting one.
    #[arg(long)]
    url: Option<Url>,
    /// With --url: the server's pid, for memory and CPU figures.
    #[arg(long)]
    server_pid: Option<u32>,
    /// The server binary to start [default: <repo>/target/release/ontask].
    #[arg(long)]
    bin: Option<PathBuf>,
    /// Extra environment for the started server, KEY=VALUE (repeatable), e.g. ONTASK_LOG=warn.
    #[arg(long = "server-env", value_name = "KEY=VALUE")]
    server_env: Vec<String>,
    /// Keep the started server's data directory.
    #[arg(long)]
    keep_data: bool,
    /// Scenarios to run, in order: reference, ceiling, http, create, max, list, shared, sse, sustained, caldav.
    #[arg(long, value_delimiter = ',', default_value = "reference,create,max,list,sse")]
    scenarios: Vec<String>,
    /// Open-loop create rates (requests/s).
    #[arg(long, value_delimiter = ',', default_value = "1000,5000,10000,20000")]
    rates: Vec<f64>,
    /// Seconds per open-loop rate and for the closed-loop run.
    #[arg(long, default_value_t = 10)]
    duration: u64,
    /// Concurrent connections for the open-loop runs (the in-flight ceiling).
    #[arg(long, default_value_t = 256)]
    connections: usize,
    /// Clients for the closed-loop max-throughput run (repeatable list).
    #[arg(long, value_delimiter = ',', default_value = "16,64")]
    max_concurrency: Vec<usize>,
    /// Seconds to let the server settle (relay, consumers) between runs.
    #[arg(long, default_value_t = 3)]
    settle: u64,
    /// Tasks seeded for the listing scenario.
    #[arg(long, default_value_t = 100_000)]
    tasks: u64,
    /// Concurrent clients while seeding.
    #[arg(long, default_value_t = 64)]
    seed_concurrency: usize,
    /// Timed requests per listing query (after 20 warm-up requests).
    #[arg(long, default_value_t = 200)]
    list_samples: usize,
    /// Page size for the listing queries.
    #[arg(long, default_value_t = 50)]
    list_limit: u32,
    /// Clients for the listing throughput run (0 skips it).
    #[arg(long, default_value_t = 8)]
    list_concurrency: usize,
    /// Tasks in the calendar of the caldav scenario.
    #[arg(long, default_value_t = 1000)]
    caldav_tasks: u64,
    /// Timed requests per CalDAV request kind (after 10 warm-up requests).
    #[arg(long, default_value_t = 50)]
    caldav_samples: usize,
    /// Create rates (requests/s) for the commit-to-SSE runs.
    #[arg(long, value_delimiter = ',', default_value = "500,2000")]
    sse_rates: Vec<f64>,
    /// Minutes of the sustained run (closed loop at full rate).
    #[arg(long, default_value_t = 5)]
    sustained_minutes: u64,
    /// Clients of the sustained run.
    #[arg(long, default_value_t = 64)]
    sustained_clients: usize,
    /// Tokio worker threads for the load generator (it shares the machine with the server).
    #[arg(long, default_value_t = 2)]
    client_threads: usize,
    /// Directory for the JSON results [default: bench/results].
    #[arg(long)]
    out_dir: Option<PathBuf>,
}

fn main() -> Result<()> {
    let cli = Cli::parse();
    for s in &cli.scenarios {
        if !["reference", "ceiling", "http", "create", "max", "list", "shared", "sse", "sustained", "caldav"]
            .contains(&s.as_str())
        {
            bail!(
                "unknown scenario {s:?} (reference, ceiling, http, create, max, list, shared, sse, sustained, caldav)"
            );
        }
    }
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(cli.client_threads.max(1))
        .enable_all()
        .build()?
        .block_on(run(cli))
}

async fn register(client: &Client, base: &Url, who: &str) -> Result<String> {
    let stamp = chrono::Utc::now().format("%Y%m%d%H%M%S%3f");
    let email = format!("bench-{who}-{stamp}-{}@example.com", std::process::id());
    let r = client
        .post(base.join("/api/v1/auth/register")?)
        .json(&json!({"email": email, "password": "bench-password-1234"}))
        .send()
        .await?;
    let status = r.status();
    let body: Value = r.json().await.context("register answer")?;
    if status != StatusCode::CREATED && status != StatusCode::OK {
        bail!("register answered {status}: {body}");
    }
    body["token"].as_str().map(str::to_owned).context("register answer has no token")
}

fn machine() -> Value {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find(|l| l.starts_with("model name"))
        .and_then(|l| l.split(':').nth(1))
        .map(|s| s.trim().to_owned());
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease").map(|s| s.trim().to_owned()).ok();
    json!({
        "cpus": std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0),
        "cpu_model": model,
        "kernel": kernel,
    })
}

/// Which server code was measured: the repository's HEAD, how many files under
/// crates/ differed from it, and the binary's --version.
fn server_build(bin: Option<&PathBuf>) -> Value {
    let repo = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/.."));
    let run = |cmd: &str, args: &[&str]| {
        std::process::Command::new(cmd)
            .args(args)
            .current_dir(&repo)
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
    };
    let dirty = run("git", &["status", "--porcelain", "--", "crates", "Cargo.lock"]).map(|s| s.lines().count());
    let version = bin.and_then(|b| {
        std::process::Command::new(b)
            .arg("--version")
            .output()
            .ok()
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
    });
    json!({"git_head": run("git", &["rev-parse", "--short", "HEAD"]), "uncommitted_files_in_crates": dirty, "version": version})
}

fn loadavg() -> Option<String> {
    std::fs::read_to_string("/proc/loadavg").ok().map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
}

struct Ctx {
    client: Client,
    base: Url,
    server: Server,
    settle: Duration,
}

impl Ctx {
    fn probe(&self) -> Probe {
        Probe { server_pid: self.server.pid }
    }

    async fn settle(&self) {
        tokio::time::sleep(self.settle).await;
    }

    fn memory_json(&self) -> Value {
        self.server
            .memory()
            .map_or(Value::Null, |m| json!({"rss_mib": round3(m.rss_mib), "hwm_mib": round3(m.hwm_mib)}))
    }
}

fn create_maker(base: &Url, token: &str, prefix: &str) -> Result<Maker> {
    let url = base.join("/api/v1/tasks")?;
    let (token, prefix, now) = (token.to_owned(), prefix.to_owned(), chrono::Utc::now());
    Ok(Arc::new(move |c: &Client, i| {
        let (_, body) = data::task(i, &prefix, now);
        c.post(url.clone()).bearer_auth(&token).header("content-type", "application/json").body(body)
    }))
}

/// Prints a closed-loop run's row (and its ratio to the reference, when that
/// ran) and returns its JSON.
fn closed_loop_report(clients: usize, r: &RunResult, reference: Option<f64>) -> Value {
    print_load_row(&clients.to_string(), r);
    let mut j = r.json();
    if let Some(rate) = reference {
        println!("{:>10} {:.2}x the reference", "", r.achieved_rate() / rate);
        j["ratio_to_reference"] = json!(round3(r.achieved_rate() / rate));
    }
    j
}

fn cores(r: &RunResult, cpu: Option<f64>) -> String {
    cpu.map_or("-".into(), |c| format!("{:.2}", c / r.elapsed.as_secs_f64().max(1e-9)))
}

fn errors_cell(r: &RunResult) -> String {
    if r.errors.is_empty() {
        "0".into()
    } else {
        r.errors.iter().map(|(k, v)| format!("{v} {k}")).collect::<Vec<_>>().join(", ")
    }
}

fn print_load_header(first: &str) {
    println!(
        "{first:>10} {:>10} {:>8} {:>7} {:>8} {:>8} {:>8} {:>8} {:>8} | {:>8} {:>8} | {:>5} {:>5} {:>5}  errors",
        "achieved/s", "ok", "unsent", "p50", "p90", "p99", "p99.9", "max", "svc p50", "svc p99", "srv", "cli", "oth"
    );
}

fn print_load_row(first: &str, r: &RunResult) {
    let l = Summary::of(&r.latency);
    let s = Summary::of(&r.service);
    println!(
        "{first:>10} {:>10.0} {:>8} {:>7} {:>8} {:>8} {:>8} {:>8} {:>8} | {:>8} {:>8} | {:>5} {:>5} {:>5}  {}",
        r.achieved_rate(),
        r.ok,
        r.unsent,
        fmt_ms(l.p50),
        fmt_ms(l.p90),
        fmt_ms(l.p99),
        fmt_ms(l.p999),
        fmt_ms(l.max),
        fmt_ms(s.p50),
        fmt_ms(s.p99),
        cores(r, r.server_cpu_s),
        cores(r, r.client_cpu_s),
        cores(r, r.other_cpu_s),
        errors_cell(r),
    );
}

async fn run(cli: Cli) -> Result<()> {
    let started = chrono::Utc::now();
    let load_at_start = loadavg();
    let bin = cli
        .bin
        .clone()
        .unwrap_or_else(|| PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../target/release/ontask")));
    let build = server_build(cli.url.is_none().then_some(&bin));
    let server = match &cli.url {
        Some(url) => Server::external(url.clone(), cli.server_pid)?,
        None => {
            let envs = cli
                .server_env
                .iter()
                .map(|kv| {
                    kv.split_once('=')
                        .map(|(k, v)| (k.to_owned(), v.to_owned()))
                        .context("--server-env wants KEY=VALUE")
                })
                .collect::<Result<Vec<_>>>()?;
            Server::spawn(&bin, &envs, cli.keep_data).await?
        }
    };
    let base = server.url.clone();
    server::check_loopback(&base)?;
    let client = Client::builder()
        .tcp_nodelay(true)
        .pool_max_idle_per_host(usize::MAX)
        .pool_idle_timeout(Duration::from_secs(60))
        .no_proxy()
        .build()?;
    let ctx = Ctx { client, base, server, settle: Duration::from_secs(cli.settle) };
    println!(
        "ontask-bench: server {} (pid {:?}; build {}), {} client threads, load average {}",
        ctx.base,
        ctx.server.pid,
        build,
        cli.client_threads,
        load_at_start.as_deref().unwrap_or("?")
    );
    let outcome = scenarios(&cli, &ctx).await;
    let memory = ctx.server.memory();
    let data_bytes = ctx.server.data_bytes();
    let Ctx { server, .. } = ctx;
    server.stop().await;
    let mut results = outcome?;

    println!("\n== server memory at the end");
    match memory {
        Some(m) => println!("VmRSS {:.1} MiB, VmHWM (peak) {:.1} MiB", m.rss_mib, m.hwm_mib),
        None => println!("unknown (pass --server-pid with --url)"),
    }
    if let Some(b) = data_bytes {
        println!("data directory: {:.1} MiB", b as f64 / 1048576.0);
    }
    results["server_memory_end"] =
        memory.map_or(Value::Null, |m| json!({"rss_mib": round3(m.rss_mib), "hwm_mib": round3(m.hwm_mib)}));
    results["data_dir_mib"] = json!(data_bytes.map(|b| round3(b as f64 / 1048576.0)));
    results["started_at"] = json!(started.to_rfc3339());
    results["finished_at"] = json!(chrono::Utc::now().to_rfc3339());
    results["machine"] = machine();
    results["machine"]["loadavg_start"] = json!(load_at_start);
    results["machine"]["loadavg_end"] = json!(loadavg());
    results["server_build"] = build;
    results["settings"] = json!({
        "scenarios": cli.scenarios, "rates": cli.rates, "duration_s": cli.duration, "connections": cli.connections,
        "max_concurrency": cli.max_concurrency, "tasks": cli.tasks, "seed_concurrency": cli.seed_concurrency,
        "list_samples": cli.list_samples, "list_limit": cli.list_limit, "list_concurrency": cli.list_concurrency,
        "sse_rates": cli.sse_rates, "client_threads": cli.client_threads, "server_env": cli.server_env,
        "external_server": cli.url.is_some(),
    });

    let out_dir = cli.out_dir.clone().unwrap_or_else(|| PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/results")));
    std::fs::create_dir_all(&out_dir).with_context(|| format!("creating {}", out_dir.display()))?;
    let path = out_dir.join(format!("{}.json", started.format("%Y%m%dT%H%M%SZ")));
    std::fs::write(&path, serde_json::to_vec_pretty(&results)?)?;
    println!("\nresults written to {}", path.display());
    Ok(())
}

/// pgbench's connections in the PostgreSQL reference (the smaller of the
/// closed-loop runs' default concurrencies).
const REFERENCE_PGBENCH_CLIENTS: usize = 16;

/// The started server's PostgreSQL (`--server-env ONTASK_DATABASE_URL=postgres://..`), if it uses one.
fn postgres_url(cli: &Cli) -> Option<String> {
    cli.server_env.iter().find_map(|kv| {
        let url = kv.strip_prefix("ONTASK_DATABASE_URL=")?;
        (url.starts_with("postgres://") || url.starts_with("postgresql://")).then(|| url.to_owned())
    })
}

async fn scenarios(cli: &Cli, ctx: &Ctx) -> Result<Value> {
    let mut results = json!({});
    let duration = Duration::from_secs(cli.duration);
    // Creates/s of the naive loop, when `reference` ran: the create figures are printed as ratios to it.
    let mut reference = None;
    for scenario in &cli.scenarios {
        match scenario.as_str() {
            "reference" => {
                let rate = match postgres_url(cli) {
                    // The server's PostgreSQL: pgbench with the same two inserts, the same server.
                    Some(url) => {
                        let clients = REFERENCE_PGBENCH_CLIENTS;
                        println!(
                            "\n== reference: pgbench, one transaction per create (task row, 4 indexes, event row), {clients} clients, the server's PostgreSQL, {} s",
                            cli.duration
                        );
                        tokio::task::spawn_blocking(move || reference::pgbench_per_second(&url, clients, duration))
                            .await??
                    }
                    None => {
                        println!(
                            "\n== reference: one transaction per create (task row, 4 indexes, event row), SQLite WAL, synchronous=NORMAL, {} s",
                            cli.duration
                        );
                        let dir = std::env::temp_dir();
                        tokio::task::spawn_blocking(move || reference::creates_per_second(&dir, duration, 1)).await??
                    }
                };
                println!("reference: {rate:.0} creates/s");
                reference = Some(rate);
                results["reference"] = json!({ "creates_per_second": round3(rate) });
            }
            "ceiling" => {
                println!(
                    "\n== ceiling: ontask's SQLite schema and the rows of one create, one thread, prepared statements, {} s per batch size",
                    cli.duration
                );
                // ontask's schema, then the reference's two rows batched the
                // same way: what batching alone gives them, so the gap between
                // the two is the cost of ontask's schema (its listing indexes,
                // tags and text index).
                type Run = fn(&std::path::Path, Duration, usize) -> Result<f64>;
                let runs: [(&str, &str, Run); 2] = [
                    ("ontask_schema", "", reference::schema_ceiling_per_second),
                    ("reference_rows", ", the reference's rows", reference::creates_per_second),
                ];
                let mut ceiling = serde_json::Map::new();
                for (key, what, run) in runs {
                    let mut rows = Vec::new();
                    for batch in [1, 64] {
                        let dir = std::env::temp_dir();
                        let rate = tokio::task::spawn_blocking(move || run(&dir, duration, batch)).await??;
                        rows.push(ceiling_row(what, batch, rate, reference));
                    }
                    ceiling.insert(key.into(), json!(rows));
                }
                results["ceiling"] = Value::Object(ceiling);
            }
            "create" => {
                let token = register(&ctx.client, &ctx.base, "create").await?;
                println!(
                    "\n== create, open loop: POST /api/v1/tasks at fixed rates, {} s each, up to {} connections",
                    cli.duration, cli.connections
                );
                println!(
                    "   latency in ms from the scheduled send time (no coordinated omission); svc = from the actual send;"
                );
                println!(
                    "   srv/cli/oth = CPU cores used by the server / this client / other processes (2 cores in all)"
                );
                print_load_header("target/s");
                let mut runs = Vec::new();
                for &rate in &cli.rates {
                    let make = create_maker(&ctx.base, &token, &format!("r{}-", rate as u64))?;
                    let r = load::open_loop(
                        &format!("create @{rate}/s"),
                        &ctx.client,
                        make,
                        StatusCode::CREATED,
                        rate,
                        duration,
                        cli.connections,
                        Duration::from_secs(10),
                        &ctx.probe(),
                    )
                    .await;
                    print_load_row(&format!("{rate:.0}"), &r);
                    let mut j = r.json();
                    j["server_memory"] = ctx.memory_json();
                    runs.push(j);
                    ctx.settle().await;
                }
                results["create_open_loop"] = json!(runs);
            }
            "http" => {
                // What a request that does nothing costs here, with the client
                // on the same cores: the ceiling for any endpoint.
                println!("\n== HTTP ceiling: GET /livez, closed loop, {} s", cli.duration);
                print_load_header("clients");
                let url = ctx.base.join("/livez")?;
                let mut runs = Vec::new();
                for &c in &cli.max_concurrency {
                    let url = url.clone();
                    let make: Maker = Arc::new(move |c: &Client, _| c.get(url.clone()));
                    let name = format!("livez, {c} clients");
                    let probe = ctx.probe();
                    let r = load::closed_loop(
                        &name,
                        &ctx.client,
                        make,
                        StatusCode::OK,
                        c,
                        Limit::Time(duration),
                        None,
                        &probe,
                    )
                    .await;
                    runs.push(closed_loop_report(c, &r, reference));
                    ctx.settle().await;
                }
                results["http_ceiling"] = json!(runs);
            }
            "max" => {
                let token = register(&ctx.client, &ctx.base, "max").await?;
                println!("\n== create, closed loop: C clients back to back for {} s (max throughput)", cli.duration);
                print_load_header("clients");
                let mut runs = Vec::new();
                for &c in &cli.max_concurrency {
                    let make = create_maker(&ctx.base, &token, &format!("m{c}-"))?;
                    let r = load::closed_loop(
                        &format!("create max, {c} clients"),
                        &ctx.client,
                        make,
                        StatusCode::CREATED,
                        c,
                        Limit::Time(duration),
                        None,
                        &ctx.probe(),
                    )
                    .await;
                    let mut j = closed_loop_report(c, &r, reference);
                    j["server_memory"] = ctx.memory_json();
                    runs.push(j);
                    ctx.settle().await;
                }
                results["create_closed_loop"] = json!(runs);
            }
            "list" => {
                let token = register(&ctx.client, &ctx.base, "list").await?;
                println!(
                    "\n== listing: seeding {} tasks with {} clients (one user; 1 in 5 then completed)",
                    cli.tasks, cli.seed_concurrency
                );
                let t = Instant::now();
                let seeded =
                    list::seed(&ctx.client, &ctx.base, &token, cli.tasks, cli.seed_concurrency, &[], &ctx.probe())
                        .await?;
                print_load_header("seed");
                print_load_row("create", &seeded.created);
                print_load_row("complete", &seeded.completed);
                println!("seeded in {:.1} s", t.elapsed().as_secs_f64());
                ctx.settle().await;
                println!(
                    "\n   GET /api/v1/tasks, limit={}, one request at a time, {} samples each (ms)",
                    cli.list_limit, cli.list_samples
                );
                println!(
                    "{:<40} {:>6} {:>8} {:>8} {:>8} {:>8} {:>8}",
                    "query", "items", "p50", "p90", "p99", "max", "errors"
                );
                let queries =
                    list::run_queries(&ctx.client, &ctx.base, &token, cli.list_limit, 20, cli.list_samples).await?;
                for q in &queries {
                    let s = Summary::of(&q.latency);
                    println!(
                        "{:<40} {:>6} {:>8} {:>8} {:>8} {:>8} {:>8}",
                        q.name,
                        q.items,
                        fmt_ms(s.p50),
                        fmt_ms(s.p90),
                        fmt_ms(s.p99),
                        fmt_ms(s.max),
                        q.errors
                    );
                }
                let mut list_json = json!({
                    "tasks": cli.tasks,
                    "seed_create": seeded.created.json(),
                    "seed_complete": seeded.completed.json(),
                    "queries": queries.iter().map(list::QueryResult::json).collect::<Vec<_>>(),
                });
                if cli.list_concurrency > 0 {
                    let q = format!("status=open&sort=due&limit={}", cli.list_limit);
                    let r = list::list_throughput(
                        &ctx.client,
                        &ctx.base,
                        &token,
                        &q,
                        cli.list_concurrency,
                        Duration::from_secs(5),
                        &ctx.probe(),
                    )
                    .await?;
                    println!("\n   listing throughput, {} clients for 5 s on ?{q}", cli.list_concurrency);
                    print_load_header("clients");
                    print_load_row(&cli.list_concurrency.to_string(), &r);
                    list_json["throughput"] = r.json();
                }
                list_json["server_memory"] = ctx.memory_json();
                results["list"] = list_json;
                ctx.settle().await;
            }
            "caldav" => {
                let mut r =
                    caldav::run(&ctx.client, &ctx.base, cli.caldav_tasks, cli.caldav_samples, &ctx.probe()).await?;
                r["server_memory"] = ctx.memory_json();
                results["caldav"] = r;
                ctx.settle().await;
            }
            "shared" => {
                results["shared"] = shared::run(cli, ctx).await?;
                ctx.settle().await;
            }
            "sse" => {
                println!("\n== commit-to-SSE: one SSE client; creates at a fixed rate for {} s; ms", cli.duration);
                println!(
                    "{:>8} {:>9} {:>8} {:>8} | {:>25} | {:>25} | {:>17}",
                    "rate/s",
                    "achieved",
                    "events",
                    "missing",
                    "send->event p50/p99/max",
                    "commit->event p50/p99/max",
                    "POST p50/p99"
                );
                let mut runs = Vec::new();
                for &rate in &cli.sse_rates {
                    // A fresh user per rate, so the stream carries only this run's events.
                    let token = register(&ctx.client, &ctx.base, &format!("sse{}", rate as u64)).await?;
                    let r =
                        sse::run(&ctx.client, &ctx.base, &token, rate, duration, cli.connections.min(64), &ctx.probe())
                            .await?;
                    let (a, b, p) =
                        (Summary::of(&r.send_to_event), Summary::of(&r.commit_to_event), Summary::of(&r.load.latency));
                    println!(
                        "{:>8.0} {:>9.0} {:>8} {:>8} | {:>25} | {:>25} | {:>17}",
                        rate,
                        r.load.achieved_rate(),
                        r.received,
                        r.missing,
                        format!("{}/{}/{}", fmt_ms(a.p50), fmt_ms(a.p99), fmt_ms(a.max)),
                        format!("{}/{}/{}", fmt_ms(b.p50), fmt_ms(b.p99), fmt_ms(b.max)),
                        format!("{}/{}", fmt_ms(p.p50), fmt_ms(p.p99)),
                    );
                    if !r.load.errors.is_empty() {
                        println!("         create errors: {}", errors_cell(&r.load));
                    }
                    runs.push(r.json());
                    ctx.settle().await;
                }
                results["sse"] = json!(runs);
            }
            "sustained" => results["sustained"] = sustained(cli, ctx, reference).await?,
            _ => unreachable!("checked in main"),
        }
    }
    Ok(results)
}

/// Creates at full rate for minutes, one closed-loop second at a time, sampling
/// throughput and the WAL's size each second: does the WAL stay bounded, and
/// does throughput hold as the database grows?
async fn sustained(cli: &Cli, ctx: &Ctx, reference: Option<f64>) -> Result<Value> {
    let token = register(&ctx.client, &ctx.base, "sustained").await?;
    let seconds = cli.sustained_minutes * 60;
    println!(
        "\n== sustained: {} clients creating back to back for {} min; WAL size and throughput each second",
        cli.sustained_clients, cli.sustained_minutes
    );
    println!("{:>6} {:>10} {:>12} {:>12} {:>8}", "second", "creates/s", "WAL MiB", "disk MiB", "errors");
    let mut samples = Vec::new();
    let (mut peak_wal, mut created) = (0u64, 0u64);
    for second in 0..seconds {
        let make = create_maker(&ctx.base, &token, &format!("s{second}-"))?;
        let r = load::closed_loop(
            "sustained",
            &ctx.client,
            make,
            StatusCode::CREATED,
            cli.sustained_clients,
            Limit::Time(Duration::from_secs(1)),
            None,
            &ctx.probe(),
        )
        .await;
        created += r.ok;
        let wal = ctx.server.wal_bytes().unwrap_or(0);
        let disk = ctx.server.data_bytes().unwrap_or(0);
        peak_wal = peak_wal.max(wal);
        if second % 10 == 9 || second + 1 == seconds {
            println!(
                "{:>6} {:>10.0} {:>12.1} {:>12.1} {:>8}",
                second + 1,
                r.achieved_rate(),
                wal as f64 / MIB,
                disk as f64 / MIB,
                r.error_count()
            );
        }
        samples.push(json!({ "second": second + 1, "rate": round3(r.achieved_rate()), "wal_bytes": wal, "disk_bytes": disk, "errors": r.error_count() }));
    }
    let rate_of =
        |part: &[Value]| part.iter().filter_map(|s| s["rate"].as_f64()).sum::<f64>() / part.len().max(1) as f64;
    let tenth = (samples.len() / 10).max(1);
    let (first, last) = (rate_of(&samples[..tenth]), rate_of(&samples[samples.len() - tenth..]));
    ctx.settle().await;
    let disk = ctx.server.data_bytes().unwrap_or(0);
    println!(
        "peak WAL {:.1} MiB; creates/s first tenth {first:.0}, last tenth {last:.0} ({:+.0}%); {} tasks, {:.0} bytes on disk per task after settling",
        peak_wal as f64 / MIB,
        (last / first.max(1e-9) - 1.0) * 100.0,
        created,
        disk as f64 / created.max(1) as f64
    );
    let average = created as f64 / seconds.max(1) as f64;
    if let Some(rate) = reference {
        println!("average {average:.0} creates/s: {:.2}x the reference", average / rate);
    }
    Ok(json!({
        "clients": cli.sustained_clients, "seconds": seconds, "created": created, "peak_wal_bytes": peak_wal,
        "ratio_to_reference": reference.map(|rate| round3(average / rate)),
        "rate_first_tenth": round3(first), "rate_last_tenth": round3(last), "disk_bytes": disk, "samples": samples,
        "server_memory": ctx.memory_json(),
    }))
}

const MIB: f64 = 1024.0 * 1024.0;

/// Prints one row of the `ceiling` scenario and returns it for the results.
fn ceiling_row(what: &str, batch: usize, rate: f64, reference: Option<f64>) -> Value {
    let ratio = reference.map(|r| rate / r);
    match ratio {
        Some(x) => println!("{batch:>4} per transaction{what}: {rate:.0} creates/s ({x:.2}x the reference)"),
        None => println!("{batch:>4} per transaction{what}: {rate:.0} creates/s"),
    }
    json!({ "batch": batch, "creates_per_second": round3(rate), "ratio_to_reference": ratio.map(round3) })
}
