//! Starts one Apache Kafka broker for a whole test run and prints its
//! `bootstrap.servers` (one line on stdout), then runs until SIGTERM or SIGINT,
//! when it stops the broker and deletes its data. The test command exports that
//! line as `ONTASK_TEST_KAFKA_BROKERS` (see `scripts/test`).
//!
//! Killed with SIGKILL instead, the broker's watchdog stops the JVM and deletes
//! its data within a second.
use std::io::Write as _;

use tokio::signal::unix::{SignalKind, signal};

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    let mut terminate = signal(SignalKind::terminate())?;
    let mut interrupt = signal(SignalKind::interrupt())?;
    let broker = tokio::task::spawn_blocking(ontask_testkit::kafka::Broker::start).await??;
    let mut stdout = std::io::stdout();
    writeln!(stdout, "{}", broker.bootstrap())?;
    stdout.flush()?;
    eprintln!(
        "Kafka {} at {}; log: {}",
        ontask_testkit::kafka::KAFKA_VERSION,
        broker.bootstrap(),
        broker.log_file().display()
    );
    tokio::select! {
        _ = terminate.recv() => {}
        _ = interrupt.recv() => {}
    }
    // Dropping the broker kills the JVM and waits for it, so whoever waits for
    // this process knows the broker is gone too.
    tokio::task::spawn_blocking(move || drop(broker)).await?;
    Ok(())
}
