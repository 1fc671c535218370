//! Starts one Apache Kafka broker for a whole test run and prints its
//! `bootstrap.servers` (one line on stdout), then runs until killed. The test
//! command exports that line as `ONTASK_TEST_KAFKA_BROKERS`:
//!
//! ```sh
//! target/debug/ontask-test-kafka > target/kafka.addr &
//! trap 'kill $!' EXIT
//! until [ -s target/kafka.addr ]; do sleep 0.2; done
//! export ONTASK_TEST_KAFKA_BROKERS="$(cat target/kafka.addr)"
//! ```
//!
//! When this process is killed, the broker's watchdog stops the JVM and deletes
//! its data within a second.
use std::io::Write as _;

fn main() -> anyhow::Result<()> {
    let broker = ontask_testkit::kafka::Broker::start()?;
    let mut stdout = std::io::stdout();
    writeln!(stdout, "{}", broker.bootstrap())?;
    stdout.flush()?;
    eprintln!(
        "Kafka {} at {}; log: {}",
        ontask_testkit::kafka::KAFKA_VERSION,
        broker.bootstrap(),
        broker.log_file().display()
    );
    loop {
        std::thread::park();
    }
}
