//! The event contract as an AsyncAPI 3.0 document, generated from the event
//! types (`ontask_domain::Event`): every message with the JSON Schema of its
//! payload, and the Kafka topics that carry them. Served at `/asyncapi.json`
//! and kept in `docs/events/asyncapi.json`, where a test holds it to the types
//! and to what the previous version published.
use std::collections::BTreeMap;

use axum::Json;
use axum::routing::get;
use ontask_domain::{
    CommentState, EventEnvelope, EventType, ImportProgressed, MemberChange, ProjectState, ReminderDue, ReminderSent,
    SectionState, TaskAssigned, TaskMoved, TaskState, TaskUpdated,
};
use serde::Serialize;
use utoipa::ToSchema;
use utoipa::openapi::schema::{AllOfBuilder, ObjectBuilder, Schema, Type};
use utoipa::openapi::{Ref, RefOr};

/// An AsyncAPI 3.0 document, as much of it as ontask uses.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AsyncApi {
    pub asyncapi: &'static str,
    pub info: Info,
    pub default_content_type: &'static str,
    pub channels: BTreeMap<&'static str, Channel>,
    pub operations: BTreeMap<&'static str, Operation>,
    pub components: Components,
}

#[derive(Serialize)]
pub struct Info {
    pub title: &'static str,
    pub version: &'static str,
    pub description: &'static str,
}

#[derive(Serialize)]
pub struct Channel {
    /// The topic's name with the default settings (`bus.kafka.topic_*`).
    pub address: String,
    pub description: &'static str,
    pub messages: BTreeMap<&'static str, Reference>,
}

#[derive(Serialize)]
pub struct Operation {
    pub action: &'static str,
    pub channel: Reference,
    pub summary: &'static str,
    pub messages: Vec<Reference>,
}

#[derive(Serialize)]
pub struct Message {
    /// The `event_type` (and the CloudEvents `ce_type` header).
    pub name: &'static str,
    pub title: &'static str,
    pub payload: RefOr<Schema>,
}

#[derive(Serialize)]
pub struct Components {
    pub messages: BTreeMap<&'static str, Message>,
    pub schemas: BTreeMap<String, RefOr<Schema>>,
}

#[derive(Clone, Serialize)]
pub struct Reference {
    #[serde(rename = "$ref")]
    pub reference: String,
}

impl Reference {
    fn to(path: String) -> Self {
        Self { reference: path }
    }
}

/// Each kind's message id, title and the schema of its `data`.
fn message_of(kind: EventType) -> (&'static str, &'static str, String) {
    let (id, title, data) = match kind {
        EventType::TaskCreated => ("taskCreated", "A task was created", TaskState::name()),
        EventType::TaskUpdated => ("taskUpdated", "Fields of a task changed", TaskUpdated::name()),
        EventType::TaskCompleted => ("taskCompleted", "A task was completed", TaskState::name()),
        EventType::TaskReopened => ("taskReopened", "A completed task was reopened", TaskState::name()),
        EventType::TaskDeleted => ("taskDeleted", "A task was deleted (data: the task before)", TaskState::name()),
        EventType::ReminderDue => ("reminderDue", "A reminder of an open task came due", ReminderDue::name()),
        EventType::TaskMoved => ("taskMoved", "A task moved to another project, section or parent", TaskMoved::name()),
        EventType::TaskAssigned => ("taskAssigned", "A task was assigned or unassigned", TaskAssigned::name()),
        EventType::ReminderSent => ("reminderSent", "A reminder reached the person", ReminderSent::name()),
        EventType::ProjectCreated => ("projectCreated", "A project was created", ProjectState::name()),
        EventType::ProjectUpdated => {
            ("projectUpdated", "A project was renamed, recoloured, moved or handed over", ProjectState::name())
        }
        EventType::ProjectArchived => ("projectArchived", "A project was archived", ProjectState::name()),
        EventType::ProjectUnarchived => ("projectUnarchived", "A project was unarchived", ProjectState::name()),
        EventType::ProjectDeleted => {
            ("projectDeleted", "A project was deleted (data: the project before)", ProjectState::name())
        }
        EventType::SectionCreated => ("sectionCreated", "A section was created", SectionState::name()),
        EventType::SectionUpdated => ("sectionUpdated", "A section was renamed or moved", SectionState::name()),
        EventType::SectionDeleted => ("sectionDeleted", "A section was deleted", SectionState::name()),
        EventType::MemberAdded => ("memberAdded", "Someone was added to a project", MemberChange::name()),
        EventType::MemberRoleChanged => {
            ("memberRoleChanged", "A member's role in a project changed", MemberChange::name())
        }
        EventType::MemberRemoved => {
            ("memberRemoved", "Someone was removed from (or left) a project", MemberChange::name())
        }
        EventType::CommentAdded => ("commentAdded", "Someone commented on a task", CommentState::name()),
        EventType::CommentEdited => ("commentEdited", "A comment's text changed", CommentState::name()),
        EventType::CommentDeleted => ("commentDeleted", "A comment was deleted", CommentState::name()),
        EventType::ImportProgressed => {
            ("importProgressed", "An import job moved on, or ended", ImportProgressed::name())
        }
    };
    (id, title, data.into_owned())
}

/// Adds `T`'s schema and every schema it refers to.
fn add_schema<T: ToSchema>(schemas: &mut BTreeMap<String, RefOr<Schema>>) {
    let mut found = vec![(T::name().into_owned(), T::schema())];
    T::schemas(&mut found);
    schemas.extend(found);
}

/// The envelope with this kind's `event_type` and `data`.
fn envelope_of(kind: EventType, data: &str) -> RefOr<Schema> {
    let specific = ObjectBuilder::new()
        .property("event_type", ObjectBuilder::new().schema_type(Type::String).enum_values(Some([kind.as_str()])))
        .property("data", Ref::from_schema_name(data))
        .required("event_type")
        .required("data");
    RefOr::T(Schema::AllOf(
        AllOfBuilder::new().item(Ref::from_schema_name(EventEnvelope::name())).item(specific).build(),
    ))
}

pub fn document() -> AsyncApi {
    let topics = ontask_bus::KafkaSettings::new("");
    let mut schemas = BTreeMap::new();
    add_schema::<EventEnvelope>(&mut schemas);
    add_schema::<TaskState>(&mut schemas);
    add_schema::<TaskUpdated>(&mut schemas);
    add_schema::<ReminderDue>(&mut schemas);
    add_schema::<ReminderSent>(&mut schemas);
    add_schema::<TaskMoved>(&mut schemas);
    add_schema::<TaskAssigned>(&mut schemas);
    add_schema::<ProjectState>(&mut schemas);
    add_schema::<SectionState>(&mut schemas);
    add_schema::<MemberChange>(&mut schemas);
    add_schema::<CommentState>(&mut schemas);
    add_schema::<ImportProgressed>(&mut schemas);

    let mut messages = BTreeMap::new();
    let (mut task_messages, mut reminder_messages) = (BTreeMap::new(), BTreeMap::new());
    for kind in EventType::ALL {
        let (id, title, data) = message_of(kind);
        messages.insert(id, Message { name: kind.as_str(), title, payload: envelope_of(kind, &data) });
        let reference = Reference::to(format!("#/components/messages/{id}"));
        if topics.topic_for(kind.as_str()) == topics.topic_reminders {
            reminder_messages.insert(id, reference);
        } else {
            task_messages.insert(id, reference);
        }
    }
    let every_message: BTreeMap<_, _> =
        task_messages.iter().chain(&reminder_messages).map(|(id, r)| (*id, r.clone())).collect();
    let channels = BTreeMap::from([
        (
            "taskEvents",
            Channel {
                address: topics.topic_task_events.clone(),
                description: "Every change to a task, keyed by task id (one partition keeps a task's events in order).",
                messages: task_messages,
            },
        ),
        (
            "reminders",
            Channel {
                address: topics.topic_reminders.clone(),
                description: "Reminders coming due and delivered, keyed by task id.",
                messages: reminder_messages,
            },
        ),
        (
            "taskUpdates",
            Channel {
                address: topics.topic_task_updates.clone(),
                description: "Every event again, keyed by user id, for the live feeds of the API processes.",
                messages: every_message,
            },
        ),
    ]);
    let operations = channels
        .iter()
        .map(|(id, channel)| {
            let operation = Operation {
                action: "send",
                channel: Reference::to(format!("#/channels/{id}")),
                summary: "The relay publishes each committed event once it is in the log (at least once; consumers keep an inbox).",
                messages: channel
                    .messages
                    .keys()
                    .map(|m| Reference::to(format!("#/channels/{id}/messages/{m}")))
                    .collect(),
            };
            (*id, operation)
        })
        .collect();
    AsyncApi {
        asyncapi: "3.0.0",
        info: Info {
            title: "ontask events",
            version: ontask_domain::EVENT_VERSION,
            description: "Every change ontask makes, as the relay publishes it from the transactional outbox. \
                Messages carry CloudEvents binary-mode headers (ce_id, ce_type = event_type, ce_source, ce_time, \
                ce_subject = task id, traceparent, ontask_seq = log position). Webhooks deliver the same envelopes.",
        },
        default_content_type: "application/json",
        channels,
        operations,
        components: Components { messages, schemas },
    }
}

pub fn router() -> axum::Router<crate::ApiState> {
    axum::Router::new().route("/asyncapi.json", get(|| async { Json(document()) }))
}
