//! The ontask domain: the task model and the value types it is made of, the events
//! that describe every change, and the parsing rules that keep invalid input out.
//!
//! Nothing here does I/O. Every value type has private fields and a `parse`
//! constructor, so a value that exists is a valid value ("parse, don't validate").
#![forbid(unsafe_code)]

mod account;
mod comment;
mod due;
mod error;
mod event;
mod ids;
mod member;
mod notification;
mod priority;
mod project;
pub mod quick;
mod recurrence;
mod reminder;
mod rfc3339;
mod section;
pub mod settings;
mod snapshot;
mod tags;
mod task;
mod text;
mod webhook;

pub use account::{Role, Scope};
pub use comment::{Comment, CommentBody, MAX_COMMENT_CHARS};
pub use due::Due;
pub use error::{FieldError, ValidationErrors};
pub use event::{
    Channel, CommentState, EVENT_VERSION, Event, EventActor, EventEnvelope, EventMetadata, EventType, ImportProgressed,
    ImportStatus, MalformedEvent, MemberChange, OtherEvent, ProjectState, ReminderDue, ReminderSent, SectionState,
    TaskAssigned, TaskField, TaskMoved, TaskPlace, TaskState, TaskUpdated,
};
pub use ids::{
    CommentId, ConversationId, DeadLetterId, DeliveryId, EndpointId, ImportJobId, NotificationId, ProjectId,
    PushSubscriptionId, SectionId, TaskId, TokenId, UserId,
};
pub use member::{Member, ProjectAction, ProjectRole};
pub use notification::{Notification, NotificationKind};
pub use priority::Priority;
pub use project::{
    Colour, INBOX_NAME, MAX_PROJECT_NAME_CHARS, Name, Project, ProjectDraft, ProjectPatch, ProjectRuleError,
    UnknownColour,
};
pub use recurrence::{Recurrence, RecurrenceError, RepeatFrom};
pub use reminder::{MAX_REMINDERS, Reminder};
pub use section::Section;
pub use snapshot::TaskSnapshot;
pub use tags::{MAX_TAGS, Tag, Tags};
pub use task::{MAX_SUBTASK_DEPTH, Placement, SkipError, Status, Task, TaskDraft, TaskPatch};
pub use text::{Description, TextError, Title};
pub use webhook::{DeliveryStatus, EndpointStatus};
