//! The server under test: started here from the release binary on a free
//! loopback port with a fresh data directory, or an already running one.
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use reqwest::Url;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

pub struct Server {
    pub url: Url,
    pub pid: Option<u32>,
    child: Option<Child>,
    data_dir: Option<PathBuf>,
    keep_data: bool,
}

/// Refuses anything but a loopback address: the benchmark never sends load
/// elsewhere.
pub fn check_loopback(url: &Url) -> Result<()> {
    if url.scheme() != "http" {
        bail!("--url must be http:// (the benchmark speaks plain HTTP to a loopback server)");
    }
    let host = url.host_str().unwrap_or("").trim_start_matches('[').trim_end_matches(']');
    let loopback =
        host.eq_ignore_ascii_case("localhost") || host.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback());
    if !loopback {
        bail!("--url must point at a loopback address (127.0.0.1, ::1 or localhost), not {url}");
    }
    Ok(())
}

impl Server {
    pub fn external(url: Url, pid: Option<u32>) -> Result<Self> {
        check_loopback(&url)?;
        Ok(Self { url, pid, child: None, data_dir: None, keep_data: true })
    }

    /// Starts `bin serve --listen 127.0.0.1:0 --data-dir <fresh dir>` and waits
    /// until `/readyz` answers.
    pub async fn spawn(bin: &Path, envs: &[(String, String)], keep_data: bool) -> Result<Self> {
        if !bin.is_file() {
            bail!("no server binary at {}; build it first: cargo build --release -p ontask-ontask", bin.display());
        }
        let stamp = chrono::Utc::now().format("%Y%m%dT%H%M%S");
        let data_dir = std::env::temp_dir().join(format!("ontask-bench-{stamp}-{}", std::process::id()));
        std::fs::create_dir_all(&data_dir).with_context(|| format!("creating {}", data_dir.display()))?;
        let mut cmd = Command::new(bin);
        cmd.arg("serve")
            .arg("--listen")
            .arg("127.0.0.1:0")
            .arg("--data-dir")
            .arg(&data_dir)
            .env_remove("ONTASK_LISTEN")
            .env_remove("ONTASK_DATA_DIR")
            .env_remove("ONTASK_DATABASE_URL")
            // One user drives the whole load: the per-person API limit would
            // measure itself, not the server (--server-env can turn it back on).
            .env("ONTASK_RATE_LIMITS__ENABLED", "false")
            // JSON request logs go nowhere, as if shipped to a collector.
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .stdin(Stdio::null())
            .kill_on_drop(true);
        for (k, v) in envs {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().with_context(|| format!("starting {}", bin.display()))?;
        let pid = child.id();
        let stderr = child.stderr.take().context("server stderr")?;
        let mut lines = BufReader::new(stderr).lines();
        let mut seen = Vec::new();
        let port = tokio::time::timeout(Duration::from_secs(60), async {
            while let Some(line) = lines.next_line().await? {
                if let Some(rest) = line.split("is running at http://").nth(1) {
                    let addr = rest.split_whitespace().next().unwrap_or("");
                    let port: u16 = addr.rsplit(':').next().unwrap_or("").parse().context("port in start banner")?;
                    return Ok::<_, anyhow::Error>(Some(port));
                }
                seen.push(line);
            }
            Ok(None)
        })
        .await
        .context("the server did not print its address within 60 s")??;
        let Some(port) = port else {
            bail!("the server exited before listening:\n{}", seen.join("\n"));
        };
        // Keep draining stderr so the server never blocks on a full pipe.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        let url: Url = format!("http://127.0.0.1:{port}").parse()?;
        let server = Self { url, pid, child: Some(child), data_dir: Some(data_dir), keep_data };
        server.wait_ready().await?;
        Ok(server)
    }

    async fn wait_ready(&self) -> Result<()> {
        let client = reqwest::Client::new();
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok(r) = client.get(self.url.join("/readyz")?).send().await
                && r.status().is_success()
            {
                return Ok(());
            }
            if Instant::now() > deadline {
                bail!("the server at {} did not become ready within 30 s", self.url);
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Resident memory now and at its peak, in MiB (from /proc/<pid>/status).
    pub fn memory(&self) -> Option<Memory> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid?)).ok()?;
        let kib = |key: &str| {
            status
                .lines()
                .find(|l| l.starts_with(key))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse::<f64>().ok())
        };
        Some(Memory { rss_mib: kib("VmRSS:")? / 1024.0, hwm_mib: kib("VmHWM:")? / 1024.0 })
    }

    /// Size of SQLite's write-ahead log file (0 when there is none).
    pub fn wal_bytes(&self) -> Option<u64> {
        let dir = self.data_dir.as_ref()?;
        Some(std::fs::metadata(dir.join("ontask.db-wal")).map_or(0, |m| m.len()))
    }

    /// Bytes in the data directory (database, WAL).
    pub fn data_bytes(&self) -> Option<u64> {
        let dir = self.data_dir.as_ref()?;
        let mut total = 0;
        for entry in std::fs::read_dir(dir).ok()? {
            let entry = entry.ok()?;
            total += entry.metadata().ok()?.len();
        }
        Some(total)
    }

    /// SIGTERM, a grace period, then SIGKILL; removes the data directory.
    pub async fn stop(mut self) {
        if let Some(mut child) = self.child.take() {
            if let Some(pid) = child.id() {
                let _ = Command::new("kill").arg("-TERM").arg(pid.to_string()).status().await;
            }
            if tokio::time::timeout(Duration::from_secs(15), child.wait()).await.is_err() {
                let _ = child.kill().await;
            }
        }
        if let Some(dir) = self.data_dir.take() {
            if self.keep_data {
                eprintln!("data kept in {}", dir.display());
            } else {
                let _ = std::fs::remove_dir_all(dir);
            }
        }
    }
}

#[derive(Debug, Clone, Copy)]
pub struct Memory {
    pub rss_mib: f64,
    pub hwm_mib: f64,
}

pub fn cpu_seconds_of(stat_path: &str) -> Option<f64> {
    let stat = std::fs::read_to_string(stat_path).ok()?;
    // Fields after the parenthesised command name; utime and stime are 14 and 15.
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    // USER_HZ is 100 on every Linux this runs on.
    Some((utime + stime) / 100.0)
}

/// CPU seconds all processes have used (busy time of every CPU, /proc/stat).
pub fn machine_busy_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    let cpu = stat.lines().next()?.strip_prefix("cpu ")?;
    let v: Vec<f64> = cpu.split_whitespace().filter_map(|x| x.parse().ok()).collect();
    // user nice system idle iowait irq softirq steal (guest is inside user)
    let busy = v.first()? + v.get(1)? + v.get(2)? + v.get(5)? + v.get(6)? + v.get(7).unwrap_or(&0.0);
    Some(busy / 100.0)
}

pub fn client_cpu_seconds() -> Option<f64> {
    cpu_seconds_of("/proc/self/stat")
}
