//! Real servers for the tests, started on demand: a throwaway PostgreSQL cluster
//! (`initdb` into a temp dir, random loopback port) and an Apache Kafka broker
//! (KRaft combined mode, jars fetched from Maven Central). When the test command
//! already started them, tests reuse them through `ONTASK_TEST_DATABASE_URL` and
//! `ONTASK_TEST_KAFKA_BROKERS`; a test that needs to kill a server starts its own.
#![forbid(unsafe_code)]

pub mod events;
pub mod kafka;
pub mod pg;

/// A free TCP port on loopback (bound, read, released).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("no free loopback port")
}
