//! The Kafka bus against a real Apache Kafka broker (`ontask-testkit`): the one
//! the test command started (`ONTASK_TEST_KAFKA_BROKERS`), or one this process
//! starts. Every test uses topics and consumer groups of its own, so they can
//! share the broker and run in parallel. `kcat` (Debian package kafkacat)
//! reads topics from outside, as any other Kafka client would.
use std::collections::{BTreeMap, BTreeSet};
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use ontask_bus::{EventBus, KafkaBus, KafkaSettings, StoredEvent, Subscription, kafka_headers as h};
use ontask_domain::{EventActor, EventEnvelope, EventMetadata, EventType, TaskId, UserId};
use rdkafka::Message as _;
use rdkafka::consumer::{Consumer as _, StreamConsumer};
use rdkafka::message::Headers as _;

/// Settings with topic names and a group prefix no other test uses.
fn settings(brokers: &str) -> KafkaSettings {
    let tag = uuid::Uuid::new_v4().simple().to_string();
    let mut s = KafkaSettings::new(brokers);
    s.group_prefix = format!("test-{tag}");
    s.topic_task_events = format!("test.{tag}.tasks.events");
    s.topic_reminders = format!("test.{tag}.reminders.due");
    s.topic_task_updates = format!("test.{tag}.tasks.updates");
    s
}

async fn connect() -> KafkaBus {
    let brokers = tokio::task::spawn_blocking(ontask_testkit::kafka::shared)
        .await
        .expect("broker start panicked")
        .expect("a Kafka broker for the tests");
    KafkaBus::connect(settings(&brokers)).await.expect("connecting to Kafka")
}

fn event(seq: i64, kind: EventType, user: UserId, task: Option<TaskId>) -> StoredEvent {
    let task = task.expect("every event here is about a task");
    let metadata = EventMetadata {
        correlation_id: format!("corr-{seq}"),
        traceparent: Some("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01".into()),
        actor: Some(EventActor::User),
        ..Default::default()
    };
    let event = ontask_testkit::events::of_kind(kind, user, task, &format!("task {seq}"));
    StoredEvent { seq, envelope: EventEnvelope::new(event, "api", user, metadata) }
}

/// Reads `n` events from `sub`, acknowledging each batch as the consumer runner
/// does after its transaction.
async fn take(sub: &mut Box<dyn Subscription>, n: usize) -> Vec<StoredEvent> {
    let mut got = Vec::new();
    while got.len() < n {
        let batch = next(sub).await;
        sub.ack(batch.last().expect("next returns at least one event").seq).await.expect("ack");
        got.extend(batch);
    }
    assert_eq!(got.len(), n, "more events than published");
    got
}

/// Reads until one batch holds `n` events, acknowledging nothing: like the
/// embedded log, the bus hands out everything after the last acknowledged
/// event again on each call, so the batch grows until it holds all of them.
async fn peek(sub: &mut Box<dyn Subscription>, n: usize) -> Vec<StoredEvent> {
    for _ in 0..600 {
        let batch = next(sub).await;
        assert!(batch.len() <= n, "more events than published: {batch:?}");
        if batch.len() == n {
            return batch;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("never got all {n} events in one batch");
}

async fn next(sub: &mut Box<dyn Subscription>) -> Vec<StoredEvent> {
    tokio::time::timeout(Duration::from_secs(60), sub.next(500))
        .await
        .expect("events within a minute")
        .expect("reading the bus")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn published_events_reach_a_subscriber_intact() {
    let bus = connect().await;
    let user = UserId::new();
    let task = TaskId::new();
    let published = vec![
        event(1, EventType::TaskCreated, user, Some(task)),
        event(2, EventType::ReminderDue, user, Some(task)),
        event(3, EventType::TaskCompleted, user, Some(task)),
    ];
    bus.publish(&published).await.expect("publish");

    let mut sub = bus.subscribe("roundtrip").await.expect("subscribe");
    let mut got = take(&mut sub, 3).await;
    // Two topics (task events, reminders): order holds within each, not across.
    got.sort_by_key(|e| e.seq);
    assert_eq!(got, published, "envelope and log position survive the trip");
    bus.health().await.expect("healthy");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_tasks_events_arrive_in_log_order() {
    let bus = connect().await;
    let user = UserId::new();
    let tasks: Vec<TaskId> = (0..8).map(|_| TaskId::new()).collect();
    // 400 events, the tasks interleaved, published in batches as the relay does.
    let all: Vec<StoredEvent> = (1..=400)
        .map(|seq| {
            let kind = if seq % 5 == 0 { EventType::TaskCompleted } else { EventType::TaskUpdated };
            event(seq, kind, user, Some(tasks[seq as usize % tasks.len()]))
        })
        .collect();
    for batch in all.chunks(150) {
        bus.publish(batch).await.expect("publish");
    }

    let mut sub = bus.subscribe("ordering").await.expect("subscribe");
    let got = take(&mut sub, all.len()).await;
    let mut per_task: BTreeMap<TaskId, Vec<i64>> = BTreeMap::new();
    for e in &got {
        per_task.entry(e.envelope.task_id.expect("task event")).or_default().push(e.seq);
    }
    assert_eq!(per_task.len(), tasks.len());
    for (task, seqs) in per_task {
        let expected: Vec<i64> = all.iter().filter(|e| e.envelope.task_id == Some(task)).map(|e| e.seq).collect();
        assert_eq!(seqs, expected, "task {task}: its events in log order, each once");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unacknowledged_events_are_delivered_again_and_acknowledged_ones_are_not() {
    let bus = connect().await;
    let user = UserId::new();
    // One task: one partition, so "after the acknowledged offset" is well defined.
    let task = TaskId::new();
    let all: Vec<StoredEvent> = (1..=6).map(|seq| event(seq, EventType::TaskUpdated, user, Some(task))).collect();
    bus.publish(&all).await.expect("publish");

    let mut first = bus.subscribe("redelivery").await.expect("subscribe");
    let got = peek(&mut first, 6).await;
    assert_eq!(got.iter().map(|e| e.seq).collect::<Vec<_>>(), vec![1, 2, 3, 4, 5, 6]);
    // The consumer committed its effects for 1..=3, then crashed.
    first.ack(3).await.expect("ack");
    drop(first);

    let mut second = bus.subscribe("redelivery").await.expect("subscribe again");
    let again = peek(&mut second, 3).await;
    assert_eq!(again.iter().map(|e| e.seq).collect::<Vec<_>>(), vec![4, 5, 6], "from the first unacknowledged one");
    assert_eq!(again, all[3..].to_vec());

    // The consumer handled 4, then failed mid-batch: the next call starts at 5.
    second.ack(4).await.expect("ack");
    let retry = peek(&mut second, 2).await;
    assert_eq!(retry.iter().map(|e| e.seq).collect::<Vec<_>>(), vec![5, 6]);
    second.ack(6).await.expect("ack");
    drop(second);

    // Everything acknowledged: a new subscription sees only what comes next.
    let later = event(7, EventType::TaskDeleted, user, Some(task));
    bus.publish(std::slice::from_ref(&later)).await.expect("publish");
    let mut third = bus.subscribe("redelivery").await.expect("subscribe a third time");
    assert_eq!(take(&mut third, 1).await, vec![later]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_letter_lands_in_the_dlq_topic_with_the_error() {
    let bus = connect().await;
    let user = UserId::new();
    let task = TaskId::new();
    let poison = event(41, EventType::TaskCompleted, user, Some(task));
    bus.publish(std::slice::from_ref(&poison)).await.expect("publish");
    let mut sub = bus.subscribe("notifications").await.expect("subscribe");
    // Handed out, failed every attempt, not acknowledged: what the runner dead-letters.
    assert_eq!(peek(&mut sub, 1).await, vec![poison.clone()]);

    bus.dead_letter("notifications", &poison, "webhook answered 500 five times", 5).await.expect("dead letter");

    let dlq = format!("{}.dlq", bus.settings().topic_task_events);
    let reader: StreamConsumer = rdkafka::ClientConfig::new()
        .set("bootstrap.servers", &bus.settings().brokers)
        .set("group.id", format!("{}.dlq-reader", bus.settings().group_prefix))
        .set("auto.offset.reset", "earliest")
        .create()
        .expect("dlq reader");
    reader.subscribe(&[&dlq]).expect("subscribe to the dlq");
    let message = tokio::time::timeout(Duration::from_secs(60), reader.recv())
        .await
        .expect("a dead letter within a minute")
        .expect("reading the dlq");
    let headers: BTreeMap<String, String> = message
        .headers()
        .expect("headers")
        .iter()
        .map(|h| (h.key.to_owned(), String::from_utf8_lossy(h.value.unwrap_or_default()).into_owned()))
        .collect();
    assert_eq!(headers[h::ERROR], "webhook answered 500 five times");
    assert_eq!(headers[h::CONSUMER], "notifications");
    assert_eq!(headers[h::ATTEMPTS], "5");
    assert_eq!(headers[h::ORIGINAL_TOPIC], bus.settings().topic_task_events);
    assert!(headers[h::ORIGINAL_PARTITION].parse::<i32>().is_ok_and(|p| (0..3).contains(&p)));
    assert_eq!(headers[h::ORIGINAL_OFFSET], "0", "the first message of its partition");
    assert_eq!(headers[h::ID], poison.envelope.event_id.to_string());
    assert_eq!(headers[h::SEQ], "41");
    let envelope: EventEnvelope = serde_json::from_slice(message.payload().expect("value")).expect("an envelope");
    assert_eq!(envelope, poison.envelope);
    assert_eq!(message.key(), Some(task.to_string().as_bytes()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_replica_sees_every_update_live() {
    let brokers = tokio::task::spawn_blocking(ontask_testkit::kafka::shared).await.expect("join").expect("broker");
    let settings = settings(&brokers);
    // Two API replicas: same topics and group prefix, separate processes in production.
    let a = KafkaBus::connect(settings.clone()).await.expect("replica a");
    let b = KafkaBus::connect(settings).await.expect("replica b");
    let mut live_a = a.live();
    let mut live_b = b.live();
    a.live_ready().await;
    b.live_ready().await;

    let user = UserId::new();
    let task = TaskId::new();
    // Task changes and reminders both come through the updates topic.
    let reminder = event(1, EventType::ReminderSent, user, Some(task));
    let update = event(2, EventType::TaskUpdated, user, Some(task));
    a.publish(&[reminder.clone(), update.clone()]).await.expect("publish");
    for (name, live) in [("a", &mut live_a), ("b", &mut live_b)] {
        let mut seen = Vec::new();
        while seen.len() < 2 {
            let event = tokio::time::timeout(Duration::from_secs(60), live.recv())
                .await
                .unwrap_or_else(|_| panic!("replica {name} saw {} of 2 events", seen.len()))
                .expect("live feed open");
            seen.push((*event).clone());
        }
        seen.sort_by_key(|e| e.seq);
        assert_eq!(seen, vec![reminder.clone(), update.clone()], "replica {name} sees both, once");
    }
}

/// What kcat (`-J`) prints for one message.
#[derive(serde::Deserialize)]
struct KcatMessage {
    topic: String,
    key: Option<String>,
    payload: Option<String>,
    /// Flat list: name, value, name, value, ...
    headers: Option<Vec<String>>,
}

fn kcat(args: &[&str]) -> String {
    let out = Command::new("kcat").args(args).output().expect("running kcat (Debian package kafkacat)");
    assert!(out.status.success(), "kcat {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).expect("utf-8")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kcat_reads_the_envelope_and_cloudevents_headers() {
    let bus = connect().await;
    let user = UserId::new();
    let task = TaskId::new();
    let created = event(7, EventType::TaskCreated, user, Some(task));
    bus.publish(std::slice::from_ref(&created)).await.expect("publish");

    let brokers = bus.settings().brokers.clone();
    let topic = bus.settings().topic_task_events.clone();
    let out = tokio::task::spawn_blocking(move || {
        kcat(&["-b", &brokers, "-C", "-t", &topic, "-o", "beginning", "-c", "1", "-e", "-q", "-J"])
    })
    .await
    .expect("kcat ran");
    let message: KcatMessage = serde_json::from_str(out.trim()).expect("kcat -J output");
    assert_eq!(message.topic, bus.settings().topic_task_events);
    assert_eq!(message.key.as_deref(), Some(task.to_string().as_str()), "keyed by task");

    let value: serde_json::Value = serde_json::from_str(&message.payload.expect("value")).expect("JSON value");
    assert_eq!(value["event_id"], created.envelope.event_id.to_string());
    assert_eq!(value["event_type"], "task.created");
    assert_eq!(value["event_version"], "1");
    assert_eq!(value["source"], "api");
    assert_eq!(value["user_id"], user.to_string());
    assert_eq!(value["task_id"], task.to_string());
    assert_eq!(value["data"]["task"]["title"], "task 7");
    assert_eq!(value["metadata"]["correlation_id"], "corr-7");
    assert!(value["timestamp"].as_str().is_some_and(|t| chrono::DateTime::parse_from_rfc3339(t).is_ok()));

    let flat = message.headers.expect("headers");
    let headers: BTreeMap<&str, &str> = flat.chunks(2).map(|kv| (kv[0].as_str(), kv[1].as_str())).collect();
    assert_eq!(headers[h::SPECVERSION], "1.0");
    assert_eq!(headers[h::ID], created.envelope.event_id.to_string());
    assert_eq!(headers[h::TYPE], "task.created");
    assert_eq!(headers[h::SOURCE], "api");
    assert_eq!(headers[h::SUBJECT], task.to_string());
    assert_eq!(headers[h::CONTENT_TYPE], "application/json");
    assert_eq!(headers[h::SEQ], "7");
    assert_eq!(headers[h::TRACEPARENT], "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01");
    let time = chrono::DateTime::parse_from_rfc3339(headers[h::TIME]).expect("ce_time is RFC 3339");
    assert_eq!(time, created.envelope.timestamp);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_that_is_no_event_is_dead_lettered_and_skipped() {
    let bus = connect().await;
    let brokers = bus.settings().brokers.clone();
    let topic = bus.settings().topic_task_events.clone();
    // Someone else's producer writes garbage into every partition of our topic,
    // so whichever partition the event below lands in, garbage comes first there.
    for partition in ["0", "1", "2"] {
        let mut kcat = Command::new("kcat")
            .args(["-b", &brokers, "-P", "-t", &topic, "-k", "k", "-p", partition])
            .stdin(std::process::Stdio::piped())
            .spawn()
            .expect("kcat producer");
        {
            use std::io::Write as _;
            let mut stdin = kcat.stdin.take().expect("stdin");
            stdin.write_all(b"this is not an event\n").expect("write");
        }
        assert!(kcat.wait().expect("kcat exits").success());
    }
    let user = UserId::new();
    let good = event(8, EventType::TaskCreated, user, Some(TaskId::new()));
    bus.publish(std::slice::from_ref(&good)).await.expect("publish");

    let mut sub = bus.subscribe("garbage").await.expect("subscribe");
    assert_eq!(take(&mut sub, 1).await, vec![good.clone()], "the garbage is not handed to the consumer");
    sub.ack(good.seq).await.expect("ack");

    let dlq = format!("{topic}.dlq");
    let out = tokio::task::spawn_blocking(move || {
        self::kcat(&["-b", &brokers, "-C", "-t", &dlq, "-o", "beginning", "-c", "1", "-e", "-q", "-J"])
    })
    .await
    .expect("kcat ran");
    let message: KcatMessage = serde_json::from_str(out.trim()).expect("kcat -J output");
    assert_eq!(message.payload.as_deref(), Some("this is not an event"));
    let flat = message.headers.expect("headers");
    let headers: BTreeMap<&str, &str> = flat.chunks(2).map(|kv| (kv[0].as_str(), kv[1].as_str())).collect();
    assert!(headers[h::ERROR].contains("not an event envelope"), "{headers:?}");
    assert_eq!(headers[h::CONSUMER], "garbage");
    assert_eq!(headers[h::ORIGINAL_TOPIC], bus.settings().topic_task_events);
    assert_eq!(message.topic, format!("{}.dlq", bus.settings().topic_task_events));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn publishing_resumes_after_the_broker_is_killed_and_restarted() {
    // Its own broker: this test kills it.
    let mut broker = tokio::task::spawn_blocking(ontask_testkit::kafka::Broker::start)
        .await
        .expect("join")
        .expect("a broker of its own");
    let mut settings = settings(&broker.bootstrap());
    // librdkafka waits up to 10 s between reconnects by default; properties pass through.
    settings.properties.insert("reconnect.backoff.max.ms".into(), "500".into());
    let bus = Arc::new(KafkaBus::connect(settings).await.expect("connect"));
    let user = UserId::new();
    let task = TaskId::new();
    let before = event(1, EventType::TaskCreated, user, Some(task));
    bus.publish(std::slice::from_ref(&before)).await.expect("publish before the crash");

    broker = tokio::task::spawn_blocking(move || {
        broker.kill9().expect("kill -9");
        broker
    })
    .await
    .expect("join");
    assert!(bus.health().await.is_err(), "health reports the broker gone");
    // The relay keeps publishing while the broker is down; it completes once it is back.
    let after = event(2, EventType::TaskUpdated, user, Some(task));
    let publishing = tokio::spawn({
        let bus = bus.clone();
        let after = after.clone();
        async move { bus.publish(&[after]).await }
    });
    let _broker = tokio::task::spawn_blocking(move || {
        broker.restart().expect("restart");
        broker
    })
    .await
    .expect("join");
    publishing.await.expect("join").expect("publish across the restart");
    bus.health().await.expect("healthy again");

    let mut sub = bus.subscribe("restart").await.expect("subscribe");
    let got = take(&mut sub, 2).await;
    assert_eq!(got, vec![before, after], "both, once each, in order");
    assert_eq!(got.iter().map(|e| e.envelope.event_id).collect::<BTreeSet<_>>().len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_a_rebalance_the_unacknowledged_events_come_again_and_the_acknowledged_do_not() {
    let bus = connect().await;
    let user = UserId::new();
    // 36 tasks: every partition gets some (all but certainly: 3 * (2/3)^36).
    let all: Vec<StoredEvent> =
        (1..=36).map(|seq| event(seq, EventType::TaskUpdated, user, Some(TaskId::new()))).collect();
    bus.publish(&all).await.expect("publish");

    // One member owns every partition and handles the first two events it got;
    // from then on it fails on everything (it reads, never acknowledges).
    let mut first = bus.subscribe("rebalance").await.expect("subscribe");
    let delivered = peek(&mut first, all.len()).await;
    first.ack(delivered[1].seq).await.expect("ack");
    let acked: BTreeSet<i64> = delivered[..2].iter().map(|e| e.seq).collect();
    let unacked: BTreeSet<i64> = delivered[2..].iter().map(|e| e.seq).collect();
    // A second member joins: the partitions are split between the two, and it
    // gets what the first did not acknowledge in the partitions it takes over.
    let second = bus.subscribe("rebalance").await.expect("second member");

    let seen = Arc::new(std::sync::Mutex::new(Vec::<(&'static str, i64)>::new()));
    let stop = tokio_util::sync::CancellationToken::new();
    let mut members = Vec::new();
    for (name, mut sub, acks) in [("first", first, false), ("second", second, true)] {
        let (seen, stop) = (seen.clone(), stop.clone());
        members.push(tokio::spawn(async move {
            loop {
                let batch = tokio::select! {
                    () = stop.cancelled() => return,
                    batch = sub.next(500) => batch.expect("reading the bus"),
                };
                seen.lock().expect("lock").extend(batch.iter().map(|e| (name, e.seq)));
                if acks {
                    sub.ack(batch.last().expect("at least one").seq).await.expect("ack");
                } else {
                    // Failing again at once would only spin.
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            }
        }));
    }
    let (mut taken_over, mut redelivered) = (BTreeSet::new(), BTreeSet::new());
    for _ in 0..1200 {
        {
            let seen = seen.lock().expect("lock");
            taken_over = seen.iter().filter(|(member, _)| *member == "second").map(|(_, seq)| *seq).collect();
            redelivered = seen.iter().map(|(_, seq)| *seq).collect();
        }
        if !taken_over.is_empty() && unacked.is_subset(&redelivered) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    stop.cancel();
    for member in members {
        member.await.expect("member ran");
    }
    assert!(!taken_over.is_empty(), "the second member took over partitions with unacknowledged events");
    assert!(taken_over.is_subset(&unacked), "it got only unacknowledged events: {taken_over:?}");
    assert!(
        unacked.is_subset(&redelivered),
        "every unacknowledged event comes again: missing {unacked:?} - {redelivered:?}"
    );
    assert!(
        acked.is_disjoint(&redelivered),
        "no acknowledged event comes again: {:?}",
        acked.intersection(&redelivered)
    );
}
