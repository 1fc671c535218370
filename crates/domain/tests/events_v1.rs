//! The event contract, version 1: `docs/events/v1-examples.jsonl` holds an
//! event of every kind exactly as ontask has always written them (before the
//! payloads had types), and one of a type from a newer writer. Each must read
//! into its type and write back as the same JSON, so nothing a reader of the
//! log, the bus or a webhook sees changes. (Only the order of the keys inside
//! `data` differs: version 1 built `data` as a `serde_json::Value`, whose maps
//! sort their keys; the types write their fields in declaration order. JSON
//! objects are unordered, RFC 8259 section 4.)
use std::collections::BTreeSet;

use ontask_domain::{Event, EventActor, EventEnvelope, EventType, Task};

const EXAMPLES: &str = include_str!("../../../docs/events/v1-examples.jsonl");

fn examples() -> impl Iterator<Item = (&'static str, EventEnvelope)> {
    EXAMPLES.lines().map(|line| {
        let envelope = serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}"));
        (line, envelope)
    })
}

#[test]
fn every_v1_event_reads_into_its_type_and_writes_back_the_same() {
    let mut kinds = BTreeSet::new();
    let mut others = 0;
    for (line, envelope) in examples() {
        match envelope.kind() {
            Some(kind) => {
                kinds.insert(kind.as_str());
            }
            None => others += 1,
        }
        let original: serde_json::Value = serde_json::from_str(line).unwrap();
        assert_eq!(serde_json::to_value(&envelope).unwrap(), original, "{line}");
    }
    let every: BTreeSet<&str> = EventType::ALL.iter().map(|k| k.as_str()).collect();
    assert_eq!(kinds, every, "the examples cover every kind");
    assert_eq!(others, 1, "and one event of a type this build does not know");
}

#[test]
fn v1_events_carry_what_their_readers_need() {
    for (_, e) in examples() {
        if let Some(task) = e.event.task() {
            // Events from before projects carry no project: they parse once
            // given the Inbox that the start-up migration moves them to.
            let mut task = task.clone();
            assert_eq!(task.project_id, e.project_id, "the envelope's project is the task's");
            task.project_id = task.project_id.or(Some(ontask_domain::ProjectId::new()));
            let parsed = Task::try_from(&task).unwrap_or_else(|err| panic!("{}: {err}", e.event_type()));
            assert_eq!(Some(parsed.id), e.task_id, "the envelope's task is the payload's");
        }
        if let Some(project) = e.event.project_id() {
            assert_eq!(Some(project), e.project_id, "the envelope names the event's project");
        }
        match &e.event {
            Event::TaskUpdated(u) => assert!(!u.changes.is_empty()),
            Event::ReminderDue(r) => assert_eq!(Some(r.task_id), e.task_id),
            Event::ReminderSent(s) => assert_eq!(s.notification.task_id, e.task_id),
            Event::TaskCreated(c) if c.task.recurs_from.is_some() => {
                assert_eq!(e.metadata.actor, Some(EventActor::Recurrence));
                assert!(e.metadata.causation_id.is_some());
            }
            _ => {}
        }
    }
}

#[test]
fn a_known_type_with_data_of_another_shape_is_kept_as_it_came_with_the_reason() {
    let (line, _) = examples().find(|(_, e)| e.kind() == Some(EventType::ReminderDue)).unwrap();
    let mut value: serde_json::Value = serde_json::from_str(line).unwrap();
    value["data"] = serde_json::json!({ "title": "no task id" });
    let envelope: EventEnvelope = serde_json::from_value(value.clone()).unwrap();
    let Event::Malformed(malformed) = &envelope.event else { panic!("{envelope:?}") };
    assert_eq!(malformed.kind, EventType::ReminderDue);
    assert!(malformed.error.contains("task_id"), "{}", malformed.error);
    assert_eq!(envelope.kind(), Some(EventType::ReminderDue), "its consumers still get it");
    assert_eq!(serde_json::to_value(&envelope).unwrap(), value);
    let text = value["data"].to_string();
    let Event::Malformed(from_text) = Event::from_json("reminder.due", &text).unwrap() else { panic!("{text}") };
    assert_eq!((from_text.kind, &from_text.data), (malformed.kind, &malformed.data));
    assert!(Event::from_json("reminder.due", "{not json").is_err());
}

#[test]
fn new_events_take_their_task_from_the_payload() {
    let (_, example) = examples().find(|(_, e)| e.kind() == Some(EventType::TaskCreated)).unwrap();
    let fresh = EventEnvelope::new(example.event.clone(), "api", example.user_id, example.metadata.clone());
    assert_eq!(fresh.task_id, example.task_id);
    assert_eq!(fresh.event_version, "1");
    assert_ne!(fresh.event_id, example.event_id);
}
