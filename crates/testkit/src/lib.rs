//! Real servers for the tests, started on demand: a throwaway PostgreSQL cluster
//! (`initdb` into a temp dir, random loopback port) and an Apache Kafka broker
//! (KRaft combined mode, jars fetched from Maven Central). When the test command
//! already started them, tests reuse them through `ONTASK_TEST_DATABASE_URL` and
//! `ONTASK_TEST_KAFKA_BROKERS`; a test that needs to kill a server starts its own.
#![forbid(unsafe_code)]

pub mod events;
pub mod kafka;
pub mod pg;

/// A free TCP port on loopback, for a server a test starts. It is taken
/// below the kernel's ephemeral range (32768 and up by default), so an
/// outgoing connection cannot take it between this check and the server's
/// bind (a Dapr sidecar once failed so), and a process never gets one twice.
pub fn free_port() -> u16 {
    use std::sync::atomic::{AtomicU32, Ordering};
    const FIRST: u32 = 20_000;
    const COUNT: u32 = 12_000;
    static TAKEN: AtomicU32 = AtomicU32::new(0);
    // Test processes running side by side start at different places.
    let start = std::process::id().wrapping_mul(97);
    loop {
        let n = TAKEN.fetch_add(1, Ordering::Relaxed);
        assert!(n < COUNT, "no free loopback port left below the ephemeral range");
        let port = u16::try_from(FIRST + start.wrapping_add(n) % COUNT).expect("below 32000");
        if std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
}
