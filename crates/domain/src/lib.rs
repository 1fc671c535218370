//! The ontask domain: the task model and the value types it is made of, the events
//! that describe every change, and the parsing rules that keep invalid input out.
//!
//! Nothing here does I/O. Every value type has private fields and a `parse`
//! constructor, so a value that exists is a valid value ("parse, don't validate").
#![forbid(unsafe_code)]

mod account;
mod due;
mod error;
mod event;
mod ids;
mod notification;
mod priority;
pub mod quick;
mod recurrence;
mod reminder;
mod snapshot;
mod tags;
mod task;
mod text;
mod webhook;

pub use account::{Role, Scope};
pub use due::Due;
pub use error::{FieldError, ValidationErrors};
pub use event::{
    Channel, EVENT_VERSION, Event, EventActor, EventEnvelope, EventMetadata, EventType, MalformedEvent, OtherEvent,
    ReminderDue, ReminderSent, TaskField, TaskState, TaskUpdated,
};
pub use ids::{ConversationId, DeadLetterId, DeliveryId, EndpointId, NotificationId, TaskId, TokenId, UserId};
pub use notification::{Notification, NotificationKind};
pub use priority::Priority;
pub use recurrence::Recurrence;
pub use reminder::{MAX_REMINDERS, Reminder};
pub use snapshot::TaskSnapshot;
pub use tags::{MAX_TAGS, Tag, Tags};
pub use task::{Status, Task, TaskDraft, TaskPatch};
pub use text::{Description, Title};
pub use webhook::{DeliveryStatus, EndpointStatus};
