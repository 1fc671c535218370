//! A throwaway PostgreSQL cluster: `initdb` into a temp dir, `pg_ctl start` on a
//! random loopback port, trust authentication for the `postgres` superuser.
//!
//! Tests get a fresh database each from [`database`], created in the cluster the
//! test command started (`ONTASK_TEST_DATABASE_URL`), or else in one kept under
//! the temp dir and reused by later test processes. A test that stops the
//! server (fault tests) starts its own [`Cluster`].
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};

/// A PostgreSQL server this process started. Stopped and deleted on drop.
pub struct Cluster {
    dir: PathBuf,
    port: u16,
    /// Removed on drop unless the cluster is shared across processes.
    _temp: Option<tempfile::TempDir>,
}

impl Cluster {
    /// initdb + start on a free port. Takes a second or two.
    pub fn start() -> anyhow::Result<Self> {
        let temp = tempfile::Builder::new().prefix("ontask-pg-").tempdir()?;
        let dir = temp.path().join("data");
        let mut cluster = Self { dir, port: crate::free_port(), _temp: Some(temp) };
        cluster.init()?;
        cluster.start_server()?;
        Ok(cluster)
    }

    /// A cluster in `dir` that outlives this process (see [`shared_url`]).
    fn persistent(dir: PathBuf, port: u16) -> Self {
        Self { dir, port, _temp: None }
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The superuser URL of the `postgres` database.
    pub fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    fn init(&mut self) -> anyhow::Result<()> {
        let parent = self.dir.parent().context("cluster dir has no parent")?;
        std::fs::create_dir_all(parent)?;
        hand_to_postgres_user(parent)?;
        let status = as_postgres_user(&bin("initdb")?)
            .args(["-D"])
            .arg(&self.dir)
            .args(["-U", "postgres", "--auth=trust", "--encoding=UTF8", "--locale=C.UTF-8", "--no-sync"])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .output()?;
        if !status.status.success() {
            bail!("initdb failed: {}", String::from_utf8_lossy(&status.stderr));
        }
        Ok(())
    }

    fn start_server(&self) -> anyhow::Result<()> {
        // Settings for tests: no fsync (the OS keeps what was written when the
        // server is killed, and a crashed machine throws the cluster away), but
        // synchronous commits, so a committed row survives `stop -m immediate`
        // as in production; enough connections for several app processes; the
        // socket in the data dir so no system directory is needed.
        let options = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off \
             -c full_page_writes=off -c max_connections=300 -c shared_buffers=64MB",
            self.port,
            self.dir.display()
        );
        let log = self.dir.join("server.log");
        let out = as_postgres_user(&bin("pg_ctl")?)
            .arg("start")
            .arg("-D")
            .arg(&self.dir)
            .arg("-l")
            .arg(&log)
            .args(["-w", "-t", "60", "-o", &options])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .output()?;
        if !out.status.success() {
            let server_log = std::fs::read_to_string(&log).unwrap_or_default();
            bail!("pg_ctl start failed: {}\n{server_log}", String::from_utf8_lossy(&out.stderr));
        }
        wait_for_port(self.port, Duration::from_secs(30))
    }

    /// Stops the server at once, like a crash (`pg_ctl stop -m immediate`).
    pub fn stop(&self) -> anyhow::Result<()> {
        let out = as_postgres_user(&bin("pg_ctl")?)
            .arg("stop")
            .arg("-D")
            .arg(&self.dir)
            .args(["-m", "immediate", "-w"])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .output()?;
        if !out.status.success() {
            bail!("pg_ctl stop failed: {}", String::from_utf8_lossy(&out.stderr));
        }
        Ok(())
    }

    /// Starts the server again after [`Cluster::stop`], on the same port.
    pub fn restart(&self) -> anyhow::Result<()> {
        self.start_server()
    }

    fn is_running(&self) -> bool {
        std::net::TcpStream::connect_timeout(&([127, 0, 0, 1], self.port).into(), Duration::from_millis(500)).is_ok()
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        if self._temp.is_some() {
            let _ = self.stop();
        }
    }
}

/// The superuser URL of a cluster to create test databases in.
pub fn shared_url() -> anyhow::Result<String> {
    if let Ok(url) = std::env::var("ONTASK_TEST_DATABASE_URL")
        && !url.is_empty()
    {
        return Ok(url);
    }
    // One cluster per machine, started by the first test that needs it and
    // reused by the next ones; the lock keeps parallel test processes from
    // starting two. It lives in the temp dir, which the postgres user can reach.
    let root = std::env::temp_dir().join("ontask-testkit-pg");
    std::fs::create_dir_all(&root)?;
    let lock = std::fs::File::create(root.join("pg.lock"))?;
    lock.lock()?;
    let port_file = root.join("pg.port");
    let dir = root.join("pg").join("data");
    if let Some(port) = std::fs::read_to_string(&port_file).ok().and_then(|p| p.trim().parse().ok()) {
        let cluster = Cluster::persistent(dir.clone(), port);
        if cluster.is_running() {
            return Ok(cluster.url());
        }
    }
    let mut cluster = Cluster::persistent(dir.clone(), crate::free_port());
    if !dir.join("PG_VERSION").exists() {
        cluster.init()?;
    }
    // A stale pid file from a killed server would stop pg_ctl from starting.
    let _ = std::fs::remove_file(dir.join("postmaster.pid"));
    cluster.start_server()?;
    std::fs::write(&port_file, cluster.port.to_string())?;
    Ok(cluster.url())
}

/// A database of its own for one test, dropped (with its connections) on drop.
pub struct TestDatabase {
    admin_url: String,
    name: String,
    url: String,
}

impl TestDatabase {
    pub fn url(&self) -> &str {
        &self.url
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        let _ = psql(&self.admin_url, &format!("DROP DATABASE IF EXISTS \"{}\" WITH (FORCE)", self.name));
    }
}

/// A fresh, empty database in the shared cluster.
pub fn database() -> anyhow::Result<TestDatabase> {
    database_in(&shared_url()?)
}

/// A fresh, empty database in the cluster at `admin_url`.
pub fn database_in(admin_url: &str) -> anyhow::Result<TestDatabase> {
    let name = format!("test_{}", uuid::Uuid::new_v4().simple());
    psql(admin_url, &format!("CREATE DATABASE \"{name}\""))?;
    let base = admin_url.rsplit_once('/').map_or(admin_url, |(base, _)| base);
    Ok(TestDatabase { admin_url: admin_url.to_owned(), url: format!("{base}/{name}"), name })
}

/// Runs one SQL statement with `psql`.
pub fn psql(url: &str, sql: &str) -> anyhow::Result<String> {
    let out = Command::new("psql")
        .args([url, "-X", "-q", "-t", "-A", "-v", "ON_ERROR_STOP=1", "-c", sql])
        .stdin(Stdio::null())
        .output()
        .context("running psql (Debian package postgresql-client)")?;
    if !out.status.success() {
        bail!("psql {sql:?} failed: {}", String::from_utf8_lossy(&out.stderr));
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

/// The workspace's target directory (where cached servers live).
pub fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target"))
}

/// A PostgreSQL server program: on PATH, or in Debian's versioned directory.
fn bin(name: &str) -> anyhow::Result<PathBuf> {
    let mut versions: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .map(|d| d.filter_map(|e| e.ok()).map(|e| e.path().join("bin").join(name)).collect())
        .unwrap_or_default();
    versions.retain(|p| p.exists());
    versions.sort();
    if let Some(newest) = versions.pop() {
        return Ok(newest);
    }
    which(name).with_context(|| format!("{name} not found: install the Debian package postgresql"))
}

fn which(name: &str) -> Option<PathBuf> {
    std::env::var_os("PATH")?.to_str()?.split(':').map(|d| Path::new(d).join(name)).find(|p| p.exists())
}

fn running_as_root() -> bool {
    Command::new("id").arg("-u").output().is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

/// PostgreSQL refuses to run as root; as root, run it as the `postgres` user the
/// Debian package creates.
fn as_postgres_user(program: &Path) -> Command {
    if running_as_root() {
        let mut c = Command::new("runuser");
        c.args(["-u", "postgres", "--"]).arg(program);
        c
    } else {
        Command::new(program)
    }
}

fn hand_to_postgres_user(dir: &Path) -> anyhow::Result<()> {
    if running_as_root() {
        let ok = Command::new("chown").arg("postgres:postgres").arg(dir).status()?.success();
        if !ok {
            bail!("cannot hand {} to the postgres user", dir.display());
        }
    }
    Ok(())
}

fn wait_for_port(port: u16, timeout: Duration) -> anyhow::Result<()> {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if std::net::TcpStream::connect_timeout(&([127, 0, 0, 1], port).into(), Duration::from_millis(200)).is_ok() {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    bail!("PostgreSQL did not accept connections on port {port}")
}
