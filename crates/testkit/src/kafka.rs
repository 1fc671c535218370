//! A real Apache Kafka broker for tests: KRaft combined mode (one process is both
//! broker and controller) on random loopback ports, data in a temp dir.
//!
//! The broker's jars come from Maven Central (`crates/testkit/kafka/pom.xml`,
//! `mvn dependency:copy-dependencies`) into `target/kafka-<version>/libs`, once
//! per checkout; a lock file and an atomic rename keep parallel test processes
//! from fetching twice or reading a half-filled folder. Java 17+ and Maven must
//! be installed.
//!
//! Tests use [`shared`]: the broker the test command started
//! (`ONTASK_TEST_KAFKA_BROKERS`), or else one this test process starts and
//! keeps. A test that kills the broker (fault tests) starts its own [`Broker`].
use std::io::{Read as _, Write as _};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};

/// The Kafka release the tests run. It names the cache folder and overrides the
/// version in the pom, so changing it here is enough.
pub const KAFKA_VERSION: &str = "4.1.1";

/// The environment variable through which the test command shares one broker.
pub const BROKERS_ENV: &str = "ONTASK_TEST_KAFKA_BROKERS";

/// Any 16 bytes in URL-safe base64 will do: every broker has its own data dir.
const CLUSTER_ID: &str = "b250YXNrLXRlc3RrYWZrYQ";

/// A 2-core machine shared with a build can take a while to start a JVM.
const START_TIMEOUT: Duration = Duration::from_secs(120);
const RESTART_TIMEOUT: Duration = Duration::from_secs(60);

/// An Apache Kafka broker this process started; killed (and its data deleted)
/// on drop.
pub struct Broker {
    port: u16,
    controller_port: u16,
    dir: tempfile::TempDir,
    java: Option<Child>,
    /// Kills the JVM if this process dies without dropping the broker (a
    /// panic=abort, SIGKILL from a test runner's timeout, or a `static`).
    watchdog: Option<Child>,
}

impl Broker {
    /// Formats storage and starts a broker on free loopback ports; returns once
    /// it answers metadata requests. A few seconds when the jars are cached.
    #[tracing::instrument(skip_all)]
    pub fn start() -> anyhow::Result<Self> {
        let libs = libs()?;
        let mut last_error = None;
        // A port picked by `free_port` can be taken by someone else before the
        // JVM binds it; new ports fix that.
        for _ in 0..3 {
            let dir = tempfile::Builder::new().prefix("ontask-kafka-").tempdir()?;
            let mut broker =
                Self { port: crate::free_port(), controller_port: crate::free_port(), dir, java: None, watchdog: None };
            broker.write_config()?;
            broker.format(&libs)?;
            match broker.launch(&libs) {
                Ok(()) => {
                    broker.start_watchdog()?;
                    return Ok(broker);
                }
                Err(e) => last_error = Some(e),
            }
        }
        Err(last_error.unwrap_or_else(|| anyhow::anyhow!("the broker did not start")))
    }

    /// `host:port` for `bootstrap.servers`.
    pub fn bootstrap(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The broker's own log (log4j), for a failing test to show.
    pub fn log_file(&self) -> PathBuf {
        self.dir.path().join("server.log")
    }

    /// Kills the JVM with SIGKILL, like a crash: no controlled shutdown, no
    /// flush. [`Broker::restart`] brings it back with the same data and port.
    pub fn kill9(&mut self) -> anyhow::Result<()> {
        if let Some(mut java) = self.java.take() {
            // Already gone is fine: the point is that it is not running.
            let _ = java.kill();
            java.wait().context("waiting for the killed broker")?;
        }
        Ok(())
    }

    /// Starts the broker again on the same port and data dir (after
    /// [`Broker::kill9`]); returns once it answers metadata requests.
    #[tracing::instrument(skip_all, fields(port = self.port))]
    pub fn restart(&mut self) -> anyhow::Result<()> {
        self.kill9()?;
        let libs = libs()?;
        // Right after a SIGKILL the ports can still be held for a while (longer
        // on a loaded machine); retry the launch until they are free.
        let deadline = Instant::now() + RESTART_TIMEOUT;
        loop {
            match self.launch(&libs) {
                Ok(()) => return Ok(()),
                Err(e) if Instant::now() > deadline => return Err(e.context("the broker did not restart")),
                Err(e) => {
                    tracing::warn!(error = %e, "the broker did not restart yet; trying again");
                    std::thread::sleep(Duration::from_millis(500));
                }
            }
        }
    }

    fn write_config(&self) -> anyhow::Result<()> {
        let dir = self.dir.path();
        let (port, controller) = (self.port, self.controller_port);
        let data = dir.join("data");
        // Sized for a test: one node, so every replication factor and ISR is 1;
        // no rebalance delay, so a consumer group forms at once; a short broker
        // session, so a node restarted after `kill9` is unfenced in seconds, not
        // after the 9 s default; 3 partitions for auto-created topics, so per-key
        // ordering is actually exercised.
        let properties = format!(
            "process.roles=broker,controller\n\
             node.id=1\n\
             controller.quorum.voters=1@127.0.0.1:{controller}\n\
             listeners=PLAINTEXT://127.0.0.1:{port},CONTROLLER://127.0.0.1:{controller}\n\
             advertised.listeners=PLAINTEXT://127.0.0.1:{port}\n\
             controller.listener.names=CONTROLLER\n\
             listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT\n\
             inter.broker.listener.name=PLAINTEXT\n\
             log.dirs={data}\n\
             num.partitions=3\n\
             default.replication.factor=1\n\
             min.insync.replicas=1\n\
             offsets.topic.replication.factor=1\n\
             offsets.topic.num.partitions=3\n\
             transaction.state.log.replication.factor=1\n\
             transaction.state.log.min.isr=1\n\
             transaction.state.log.num.partitions=3\n\
             share.coordinator.state.topic.replication.factor=1\n\
             share.coordinator.state.topic.min.isr=1\n\
             group.initial.rebalance.delay.ms=0\n\
             broker.heartbeat.interval.ms=500\n\
             broker.session.timeout.ms=3000\n\
             auto.create.topics.enable=true\n\
             delete.topic.enable=true\n\
             log.flush.interval.messages=9223372036854775807\n\
             num.network.threads=2\n\
             num.io.threads=2\n\
             background.threads=2\n",
            data = data.display()
        );
        std::fs::write(dir.join("server.properties"), properties)?;
        // log4j2: everything at INFO to a file, nothing on the console.
        let log4j = format!(
            "status = warn\n\
             appender.file.type = File\n\
             appender.file.name = file\n\
             appender.file.fileName = {log}\n\
             appender.file.layout.type = PatternLayout\n\
             appender.file.layout.pattern = [%d] %p %m (%c)%n\n\
             rootLogger.level = info\n\
             rootLogger.appenderRef.file.ref = file\n\
             logger.kafka.name = kafka\n\
             logger.kafka.level = info\n\
             logger.state.name = state.change.logger\n\
             logger.state.level = warn\n",
            log = self.log_file().display()
        );
        std::fs::write(dir.join("log4j2.properties"), log4j)?;
        Ok(())
    }

    fn java(&self, libs: &Path) -> Command {
        let mut java = Command::new("java");
        java.arg("-Xms64m")
            .arg("-Xmx512m")
            // One GC thread and the quick JIT: starts faster and leaves the two
            // cores to the tests.
            .arg("-XX:+UseSerialGC")
            .arg("-XX:TieredStopAtLevel=1")
            .arg("-Djava.awt.headless=true")
            .arg(format!("-Dlog4j2.configurationFile={}", self.dir.path().join("log4j2.properties").display()))
            .arg("-cp")
            .arg(format!("{}/*", libs.display()))
            .current_dir(self.dir.path())
            .stdin(Stdio::null());
        java
    }

    #[tracing::instrument(skip_all)]
    fn format(&self, libs: &Path) -> anyhow::Result<()> {
        let out = self
            .java(libs)
            .args(["kafka.tools.StorageTool", "format", "--ignore-formatted", "-t", CLUSTER_ID, "-c"])
            .arg(self.dir.path().join("server.properties"))
            .output()
            .context("running java (install a JDK 17+, e.g. the Debian package openjdk-17-jre-headless)")?;
        if !out.status.success() {
            bail!(
                "formatting Kafka storage failed: {}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
        }
        Ok(())
    }

    /// Starts the JVM and waits until it answers a metadata request.
    fn launch(&mut self, libs: &Path) -> anyhow::Result<()> {
        let console =
            std::fs::OpenOptions::new().create(true).append(true).open(self.dir.path().join("console.log"))?;
        let java = self
            .java(libs)
            .arg("kafka.Kafka")
            .arg(self.dir.path().join("server.properties"))
            .stdout(console.try_clone()?)
            .stderr(console)
            .spawn()
            .context("starting java")?;
        std::fs::write(self.dir.path().join("java.pid"), java.id().to_string())?;
        self.java = Some(java);
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            if metadata_answers(self.port) {
                return Ok(());
            }
            if let Some(java) = self.java.as_mut()
                && let Some(status) = java.try_wait()?
            {
                self.java = None;
                bail!("the Kafka broker exited ({status}) while starting:\n{}", self.log_tail());
            }
            if Instant::now() > deadline {
                let _ = self.kill9();
                bail!("the Kafka broker did not answer within {START_TIMEOUT:?}:\n{}", self.log_tail());
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// A shell loop that outlives this process by at most a second: once the
    /// test process is gone it kills the JVM (whatever pid it has after
    /// restarts) and deletes the data dir.
    fn start_watchdog(&mut self) -> anyhow::Result<()> {
        let script = r#"while kill -0 "$1" 2>/dev/null; do sleep 1; done
kill -9 "$(cat "$2/java.pid")" 2>/dev/null
rm -rf "$2""#;
        let child = Command::new("sh")
            .args(["-c", script, "ontask-kafka-watchdog"])
            .arg(std::process::id().to_string())
            .arg(self.dir.path())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .context("starting the broker watchdog")?;
        self.watchdog = Some(child);
        Ok(())
    }

    fn log_tail(&self) -> String {
        let mut tail = String::new();
        for file in ["console.log", "server.log"] {
            let text = std::fs::read_to_string(self.dir.path().join(file)).unwrap_or_default();
            let lines: Vec<&str> = text.lines().collect();
            let from = lines.len().saturating_sub(30);
            tail.push_str(&format!("--- {file}\n{}\n", lines[from..].join("\n")));
        }
        tail
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        let _ = self.kill9();
        if let Some(mut watchdog) = self.watchdog.take() {
            let _ = watchdog.kill();
            let _ = watchdog.wait();
        }
    }
}

/// `bootstrap.servers` of a broker for tests: the one the test command started
/// (`ONTASK_TEST_KAFKA_BROKERS`), or else one started on first use that lives
/// as long as this test process. Tests that share it use topics and groups of
/// their own (e.g. named with a UUID).
pub fn shared() -> anyhow::Result<String> {
    if let Ok(brokers) = std::env::var(BROKERS_ENV)
        && !brokers.trim().is_empty()
    {
        return Ok(brokers.trim().to_owned());
    }
    static BROKER: OnceLock<Result<Broker, String>> = OnceLock::new();
    // A failed start is remembered, so the other tests of this process fail fast
    // with the same reason instead of each trying again.
    match BROKER.get_or_init(|| Broker::start().map_err(|e| format!("{e:#}"))) {
        Ok(broker) => Ok(broker.bootstrap()),
        Err(e) => bail!("starting a Kafka broker for the tests: {e}"),
    }
}

/// The broker's jars, fetched on first use into `target/kafka-<version>/libs`.
pub fn libs() -> anyhow::Result<PathBuf> {
    let root = crate::pg::target_dir().join(format!("kafka-{KAFKA_VERSION}"));
    let libs = root.join("libs");
    if libs.join(".complete").exists() {
        return Ok(libs);
    }
    std::fs::create_dir_all(&root)?;
    // One fetch at a time: the other test processes wait here, then find the folder.
    let lock = std::fs::File::create(root.join("fetch.lock"))?;
    lock.lock().context("locking the Kafka jar cache")?;
    if libs.join(".complete").exists() {
        return Ok(libs);
    }
    let staging = tempfile::Builder::new().prefix("libs-").tempdir_in(&root)?;
    let pom = Path::new(env!("CARGO_MANIFEST_DIR")).join("kafka/pom.xml");
    let out = Command::new("mvn")
        .args(["-q", "-B", "-f"])
        .arg(&pom)
        .arg("dependency:copy-dependencies")
        .arg(format!("-DoutputDirectory={}", staging.path().display()))
        .arg(format!("-Dkafka.version={KAFKA_VERSION}"))
        .arg("-DincludeScope=runtime")
        .stdin(Stdio::null())
        .output()
        .context("running mvn (install Maven, e.g. the Debian package maven)")?;
    if !out.status.success() {
        bail!(
            "fetching Kafka {KAFKA_VERSION} with Maven failed:\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let jar = staging.path().join(format!("kafka_2.13-{KAFKA_VERSION}.jar"));
    if !jar.exists() {
        bail!("Maven finished but {} is missing", jar.display());
    }
    std::fs::write(staging.path().join(".complete"), KAFKA_VERSION)?;
    // A leftover from an interrupted rename would make the rename fail.
    if libs.exists() {
        std::fs::remove_dir_all(&libs)?;
    }
    std::fs::rename(staging.keep(), &libs)?;
    Ok(libs)
}

/// Whether a broker on `port` answers a Metadata request (v4, the oldest that
/// Kafka 4 still speaks) with at least one live broker: the listener is up and
/// the node has joined its own cluster.
fn metadata_answers(port: u16) -> bool {
    metadata_brokers(port).is_ok_and(|n| n > 0)
}

fn metadata_brokers(port: u16) -> std::io::Result<i32> {
    let mut stream = TcpStream::connect_timeout(&([127, 0, 0, 1], port).into(), Duration::from_millis(500))?;
    stream.set_read_timeout(Some(Duration::from_secs(2)))?;
    stream.set_write_timeout(Some(Duration::from_secs(2)))?;
    let client_id = b"ontask-testkit";
    let mut request = Vec::new();
    request.extend_from_slice(&3i16.to_be_bytes()); // api key: Metadata
    request.extend_from_slice(&4i16.to_be_bytes()); // api version
    request.extend_from_slice(&1i32.to_be_bytes()); // correlation id
    request.extend_from_slice(&(client_id.len() as i16).to_be_bytes());
    request.extend_from_slice(client_id);
    request.extend_from_slice(&(-1i32).to_be_bytes()); // topics: null = all
    request.push(0); // allow_auto_topic_creation: false
    stream.write_all(&(request.len() as i32).to_be_bytes())?;
    stream.write_all(&request)?;
    let mut size = [0u8; 4];
    stream.read_exact(&mut size)?;
    // correlation id, throttle time, broker count
    let mut head = [0u8; 12];
    if i32::from_be_bytes(size) < 12 {
        return Err(std::io::Error::other("short metadata response"));
    }
    stream.read_exact(&mut head)?;
    let correlation = i32::from_be_bytes([head[0], head[1], head[2], head[3]]);
    if correlation != 1 {
        return Err(std::io::Error::other("unexpected correlation id"));
    }
    Ok(i32::from_be_bytes([head[8], head[9], head[10], head[11]]))
}
