//! Sample events of every kind, for tests of the parts that carry events
//! without caring what is in them (the bus, the log, the relay).
use chrono::{SubsecRound, Utc};
use ontask_domain::{
    Channel, Event, EventType, Notification, NotificationId, NotificationKind, ReminderDue, ReminderSent, Task,
    TaskDraft, TaskField, TaskId, TaskSnapshot, TaskState, TaskUpdated, Title, UserId,
};

/// A new task of `owner` with this id and title.
pub fn task(owner: UserId, id: TaskId, title: &str) -> TaskSnapshot {
    let draft = TaskDraft { title: Some(Title::parse(title).expect("a valid title")), ..Default::default() };
    let mut task = TaskSnapshot::from(&Task::create(owner, draft, Utc::now().trunc_subsecs(6)).expect("a valid task"));
    task.id = id;
    task
}

/// An event of `kind` about task `id` of `owner`, titled `title`.
pub fn of_kind(kind: EventType, owner: UserId, id: TaskId, title: &str) -> Event {
    let state = || TaskState { task: task(owner, id, title) };
    let now = Utc::now().trunc_subsecs(6);
    match kind {
        EventType::TaskCreated => Event::TaskCreated(state()),
        EventType::TaskUpdated => {
            Event::TaskUpdated(TaskUpdated { task: task(owner, id, title), changes: vec![TaskField::Title] })
        }
        EventType::TaskCompleted => Event::TaskCompleted(state()),
        EventType::TaskReopened => Event::TaskReopened(state()),
        EventType::TaskDeleted => Event::TaskDeleted(state()),
        EventType::ReminderDue => {
            Event::ReminderDue(ReminderDue { task_id: id, title: title.to_owned(), due: None, fire_at: now })
        }
        EventType::ReminderSent => Event::ReminderSent(ReminderSent {
            notification: Notification {
                id: NotificationId::new(),
                user_id: owner,
                kind: NotificationKind::Reminder,
                title: title.to_owned(),
                body: "Reminder".to_owned(),
                task_id: Some(id),
                event_id: uuid::Uuid::now_v7(),
                created_at: now,
                read_at: None,
            },
            channel: Channel::InApp,
        }),
    }
}
