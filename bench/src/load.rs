//! The two load generators.
//!
//! Open loop (wrk2 style): request `i` is *scheduled* at `start + i / rate`,
//! whatever happened to earlier requests, and its latency is measured from that
//! scheduled instant. When the server falls behind, every connection is busy,
//! later requests go out late, and the wait shows up in their latency instead
//! of silently lowering the offered rate (no coordinated omission). The time
//! from the actual send ("service time") is recorded beside it.
//!
//! Closed loop: C clients, each sending its next request when the previous
//! one answered: the maximum throughput at that concurrency.
use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use reqwest::{Client, RequestBuilder, StatusCode};
use serde_json::{Value, json};

use crate::stats::{self, Summary, round3};

/// Builds request number `i`. Called immediately before the request is sent.
pub type Maker = Arc<dyn Fn(&Client, u64) -> RequestBuilder + Send + Sync>;
/// Sees the body of each successful answer (e.g. to collect created ids).
pub type OnOk = Arc<dyn Fn(u64, &[u8]) + Send + Sync>;

#[derive(Default)]
struct Worker {
    ok: u64,
    unsent: u64,
    errors: BTreeMap<String, u64>,
    latency: Option<Histogram<u64>>,
    service: Option<Histogram<u64>>,
    last_done: Option<Instant>,
}

impl Worker {
    fn new() -> Self {
        Self { latency: Some(stats::histogram()), service: Some(stats::histogram()), ..Self::default() }
    }

    fn error(&mut self, kind: String) {
        *self.errors.entry(kind).or_default() += 1;
    }
}

pub struct RunResult {
    pub name: String,
    pub target_rate: Option<f64>,
    pub concurrency: usize,
    pub planned: u64,
    pub ok: u64,
    pub unsent: u64,
    pub errors: BTreeMap<String, u64>,
    /// From the first scheduled instant to the last answer.
    pub elapsed: Duration,
    /// Open loop: from the scheduled instant. Closed loop: same as `service`.
    pub latency: Histogram<u64>,
    pub service: Histogram<u64>,
    pub server_cpu_s: Option<f64>,
    pub client_cpu_s: Option<f64>,
    /// CPU used by other processes on the machine meanwhile (noise).
    pub other_cpu_s: Option<f64>,
}

impl RunResult {
    pub fn achieved_rate(&self) -> f64 {
        self.ok as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }

    pub fn error_count(&self) -> u64 {
        self.errors.values().sum()
    }

    pub fn json(&self) -> Value {
        let secs = self.elapsed.as_secs_f64().max(1e-9);
        json!({
            "name": self.name,
            "target_rate": self.target_rate,
            "concurrency": self.concurrency,
            "planned": self.planned,
            "ok": self.ok,
            "errors": self.errors,
            "unsent": self.unsent,
            "elapsed_s": round3(secs),
            "achieved_rate": round3(self.achieved_rate()),
            "latency": Summary::of(&self.latency).json(),
            "service_time": Summary::of(&self.service).json(),
            "server_cpu_cores": self.server_cpu_s.map(|c| round3(c / secs)),
            "client_cpu_cores": self.client_cpu_s.map(|c| round3(c / secs)),
            "other_processes_cpu_cores": self.other_cpu_s.map(|c| round3(c / secs)),
        })
    }
}

fn classify(e: &reqwest::Error) -> String {
    if e.is_timeout() {
        "timeout".into()
    } else if e.is_connect() {
        "connect".into()
    } else if e.is_body() || e.is_decode() {
        "body".into()
    } else {
        "transport".into()
    }
}

async fn exchange(client: &Client, make: &Maker, i: u64) -> Result<(StatusCode, bytes::Bytes), reqwest::Error> {
    let response = make(client, i).send().await?;
    let status = response.status();
    let body = response.bytes().await?;
    Ok((status, body))
}

/// Where to read CPU time from: the server's pid, when known.
pub struct Probe {
    pub server_pid: Option<u32>,
}

impl Probe {
    fn sample(&self) -> Sample {
        Sample {
            server: self.server_pid.and_then(|pid| crate::server::cpu_seconds_of(&format!("/proc/{pid}/stat"))),
            client: crate::server::client_cpu_seconds(),
            machine: crate::server::machine_busy_seconds(),
        }
    }
}

struct Sample {
    server: Option<f64>,
    client: Option<f64>,
    machine: Option<f64>,
}

impl Sample {
    /// CPU seconds used between two samples by the server, this client, and
    /// everything else on the machine.
    fn apply(self, later: Sample, r: &mut RunResult) {
        let d = |a: Option<f64>, b: Option<f64>| Some(b? - a?);
        r.server_cpu_s = d(self.server, later.server);
        r.client_cpu_s = d(self.client, later.client);
        r.other_cpu_s = d(self.machine, later.machine)
            .map(|m| (m - r.server_cpu_s.unwrap_or(0.0) - r.client_cpu_s.unwrap_or(0.0)).max(0.0));
    }
}

/// Offers `rate` requests per second for `duration` over up to `connections`
/// concurrent connections. Requests not sent by `duration + grace` are counted
/// as unsent; answers not back by then as timeouts.
#[allow(clippy::too_many_arguments)]
pub async fn open_loop(
    name: &str,
    client: &Client,
    make: Maker,
    expect: StatusCode,
    rate: f64,
    duration: Duration,
    connections: usize,
    grace: Duration,
    probe: &Probe,
) -> RunResult {
    let planned = (rate * duration.as_secs_f64()).round() as u64;
    let start = Instant::now() + Duration::from_millis(20);
    let deadline = start + duration + grace;
    let next = Arc::new(AtomicU64::new(0));
    let before = probe.sample();
    let mut handles = Vec::with_capacity(connections);
    for _ in 0..connections {
        let (client, make, next) = (client.clone(), make.clone(), next.clone());
        handles.push(tokio::spawn(async move {
            let mut w = Worker::new();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= planned {
                    break;
                }
                let scheduled = start + Duration::from_secs_f64(i as f64 / rate);
                tokio::time::sleep_until(scheduled.into()).await;
                if Instant::now() >= deadline {
                    w.unsent += 1;
                    continue;
                }
                let sent = Instant::now();
                let answer = tokio::time::timeout_at(deadline.into(), exchange(&client, &make, i)).await;
                let done = Instant::now();
                w.last_done = Some(w.last_done.map_or(done, |l| l.max(done)));
                match answer {
                    Ok(Ok((status, _))) if status == expect => {
                        w.ok += 1;
                        stats::record(w.latency.as_mut().expect("histogram"), done - scheduled);
                        stats::record(w.service.as_mut().expect("histogram"), done - sent);
                    }
                    Ok(Ok((status, _))) => w.error(format!("HTTP {}", status.as_u16())),
                    Ok(Err(e)) => w.error(classify(&e)),
                    // In flight when the run was cut off at `duration + grace`.
                    Err(_) => w.error("unanswered at cut-off".into()),
                }
            }
            w
        }));
    }
    let mut result = merge(name, Some(rate), connections, planned, start, handles).await;
    before.apply(probe.sample(), &mut result);
    result
}

pub enum Limit {
    /// Run for this long.
    Time(Duration),
    /// Send exactly this many requests.
    Count(u64),
}

/// `concurrency` clients sending back to back until the limit.
#[allow(clippy::too_many_arguments)]
pub async fn closed_loop(
    name: &str,
    client: &Client,
    make: Maker,
    expect: StatusCode,
    concurrency: usize,
    limit: Limit,
    on_ok: Option<OnOk>,
    probe: &Probe,
) -> RunResult {
    let start = Instant::now();
    let (planned, end) = match limit {
        Limit::Time(d) => (u64::MAX, Some(start + d)),
        Limit::Count(n) => (n, None),
    };
    let next = Arc::new(AtomicU64::new(0));
    let before = probe.sample();
    let mut handles = Vec::with_capacity(concurrency);
    for _ in 0..concurrency {
        let (client, make, next, on_ok) = (client.clone(), make.clone(), next.clone(), on_ok.clone());
        handles.push(tokio::spawn(async move {
            let mut w = Worker::new();
            loop {
                if end.is_some_and(|e| Instant::now() >= e) {
                    break;
                }
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= planned {
                    break;
                }
                let sent = Instant::now();
                let answer = tokio::time::timeout(Duration::from_secs(30), exchange(&client, &make, i)).await;
                let done = Instant::now();
                w.last_done = Some(w.last_done.map_or(done, |l| l.max(done)));
                match answer {
                    Ok(Ok((status, body))) if status == expect => {
                        w.ok += 1;
                        stats::record(w.latency.as_mut().expect("histogram"), done - sent);
                        stats::record(w.service.as_mut().expect("histogram"), done - sent);
                        if let Some(f) = &on_ok {
                            f(i, &body);
                        }
                    }
                    Ok(Ok((status, _))) => w.error(format!("HTTP {}", status.as_u16())),
                    Ok(Err(e)) => w.error(classify(&e)),
                    Err(_) => w.error("timeout".into()),
                }
            }
            w
        }));
    }
    let planned_n = if planned == u64::MAX { 0 } else { planned };
    let mut result = merge(name, None, concurrency, planned_n, start, handles).await;
    if planned == u64::MAX {
        result.planned = result.ok + result.error_count();
    }
    before.apply(probe.sample(), &mut result);
    result
}

async fn merge(
    name: &str,
    rate: Option<f64>,
    concurrency: usize,
    planned: u64,
    start: Instant,
    handles: Vec<tokio::task::JoinHandle<Worker>>,
) -> RunResult {
    let mut latency = stats::histogram();
    let mut service = stats::histogram();
    let mut result = RunResult {
        name: name.to_owned(),
        target_rate: rate,
        concurrency,
        planned,
        ok: 0,
        unsent: 0,
        errors: BTreeMap::new(),
        elapsed: Duration::ZERO,
        latency: stats::histogram(),
        service: stats::histogram(),
        server_cpu_s: None,
        client_cpu_s: None,
        other_cpu_s: None,
    };
    let mut last = start;
    for h in handles {
        let w = match h.await {
            Ok(w) => w,
            Err(e) => {
                *result.errors.entry(format!("worker panicked: {e}")).or_default() += 1;
                continue;
            }
        };
        result.ok += w.ok;
        result.unsent += w.unsent;
        for (k, v) in w.errors {
            *result.errors.entry(k).or_default() += v;
        }
        if let Some(h) = &w.latency {
            latency.add(h).expect("same bounds");
        }
        if let Some(h) = &w.service {
            service.add(h).expect("same bounds");
        }
        if let Some(d) = w.last_done {
            last = last.max(d);
        }
    }
    result.elapsed = last.saturating_duration_since(start);
    result.latency = latency;
    result.service = service;
    result
}
