use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::{NotificationId, TaskId, UserId};

/// What a notification is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum NotificationKind {
    /// A reminder of a task came due.
    Reminder,
    /// Someone assigned a task to the person.
    Assigned,
    /// Someone mentioned the person (`@name`) in a comment.
    Mention,
}

impl NotificationKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Reminder => "reminder",
            Self::Assigned => "assigned",
            Self::Mention => "mention",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [Self::Reminder, Self::Assigned, Self::Mention].into_iter().find(|k| k.as_str() == s)
    }
}

/// A message in a person's in-app inbox; also the `data.notification` of
/// `reminder.sent` events.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Notification {
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = Uuid))]
    pub id: NotificationId,
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = Uuid))]
    pub user_id: UserId,
    pub kind: NotificationKind,
    pub title: String,
    pub body: String,
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, format = Uuid))]
    pub task_id: Option<TaskId>,
    /// The event that caused the notification (one notification per event).
    pub event_id: Uuid,
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub created_at: DateTime<Utc>,
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, format = DateTime))]
    pub read_at: Option<DateTime<Utc>>,
}
