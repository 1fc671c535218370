//! (being written) Apache Kafka broker for tests.
