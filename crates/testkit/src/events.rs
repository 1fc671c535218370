//! Sample events of every kind, for tests of the parts that carry events
//! without caring what is in them (the bus, the log, the relay).
use chrono::{SubsecRound, Utc};
use ontask_domain::{
    Channel, Comment, CommentBody, CommentState, Event, EventType, ImportJobId, ImportProgressed, ImportStatus, Member,
    MemberChange, Name, Notification, NotificationId, NotificationKind, Placement, Project, ProjectDraft, ProjectId,
    ProjectRole, ProjectState, ReminderDue, ReminderSent, Section, SectionState, Task, TaskAssigned, TaskDraft,
    TaskField, TaskId, TaskMoved, TaskPlace, TaskSnapshot, TaskState, TaskUpdated, Title, UserId,
};

/// A new task of `owner` with this id and title, in a project of its own.
pub fn task(owner: UserId, id: TaskId, title: &str) -> TaskSnapshot {
    let draft = TaskDraft { title: Some(Title::parse(title).expect("a valid title")), ..Default::default() };
    let at = Placement::project(ProjectId::new());
    let task = Task::create(owner, at, draft, Utc::now().trunc_subsecs(6)).expect("a valid task");
    let mut task = TaskSnapshot::from(&task);
    task.id = id;
    task
}

/// A new project of `owner` named `name`.
pub fn project(owner: UserId, name: &str) -> Project {
    let draft = ProjectDraft::parse(name, None, None, None).expect("a valid project");
    Project::create(owner, draft, Utc::now().trunc_subsecs(6))
}

/// An event of `kind` about task `id` of `owner`, titled `title` (for the
/// kinds about projects, a project of `owner` named `title`).
pub fn of_kind(kind: EventType, owner: UserId, id: TaskId, title: &str) -> Event {
    let state = || TaskState { task: task(owner, id, title) };
    let project_state = || ProjectState { project: project(owner, title) };
    let section_state = || {
        let name = Name::parse(title).expect("a valid name");
        SectionState { section: Section::create(ProjectId::new(), name, None, Utc::now().trunc_subsecs(6)) }
    };
    let member = |previous_role| MemberChange {
        member: Member {
            project_id: ProjectId::new(),
            user_id: owner,
            role: ProjectRole::Editor,
            added_at: Utc::now().trunc_subsecs(6),
        },
        previous_role,
    };
    let now = Utc::now().trunc_subsecs(6);
    let comment = || CommentState {
        comment: Comment::create(
            id,
            ProjectId::new(),
            owner,
            CommentBody::parse(title).expect("a valid comment"),
            Vec::new(),
            now,
        ),
    };
    match kind {
        EventType::TaskCreated => Event::TaskCreated(state()),
        EventType::TaskUpdated => {
            Event::TaskUpdated(TaskUpdated { task: task(owner, id, title), changes: vec![TaskField::Title] })
        }
        EventType::TaskCompleted => Event::TaskCompleted(state()),
        EventType::TaskReopened => Event::TaskReopened(state()),
        EventType::TaskDeleted => Event::TaskDeleted(state()),
        EventType::TaskMoved => Event::TaskMoved(TaskMoved {
            task: task(owner, id, title),
            from: TaskPlace { project_id: Some(ProjectId::new()), section_id: None, parent_id: None },
        }),
        EventType::TaskAssigned => {
            Event::TaskAssigned(TaskAssigned { task: task(owner, id, title), previous_assignee_id: None })
        }
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
        EventType::ProjectCreated => Event::ProjectCreated(project_state()),
        EventType::ProjectUpdated => Event::ProjectUpdated(project_state()),
        EventType::ProjectArchived => Event::ProjectArchived(project_state()),
        EventType::ProjectUnarchived => Event::ProjectUnarchived(project_state()),
        EventType::ProjectDeleted => Event::ProjectDeleted(project_state()),
        EventType::SectionCreated => Event::SectionCreated(section_state()),
        EventType::SectionUpdated => Event::SectionUpdated(section_state()),
        EventType::SectionDeleted => Event::SectionDeleted(section_state()),
        EventType::MemberAdded => Event::MemberAdded(member(None)),
        EventType::MemberRoleChanged => Event::MemberRoleChanged(member(Some(ProjectRole::Viewer))),
        EventType::MemberRemoved => Event::MemberRemoved(member(Some(ProjectRole::Editor))),
        EventType::CommentAdded => Event::CommentAdded(comment()),
        EventType::CommentEdited => Event::CommentEdited(comment()),
        EventType::CommentDeleted => Event::CommentDeleted(comment()),
        EventType::ImportProgressed => Event::ImportProgressed(ImportProgressed {
            job_id: ImportJobId::new(),
            status: ImportStatus::Running,
            done: 1,
            total: 2,
        }),
    }
}
