use serde::{Deserialize, Serialize};
use uuid::Uuid;

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(Uuid);

        impl $name {
            /// A new, time-ordered (UUIDv7) id.
            pub fn new() -> Self {
                Self(Uuid::now_v7())
            }

            pub fn from_uuid(id: Uuid) -> Self {
                Self(id)
            }

            pub fn as_uuid(&self) -> Uuid {
                self.0
            }

            pub fn parse(s: &str) -> Result<Self, uuid::Error> {
                Uuid::parse_str(s).map(Self)
            }
        }

        impl Default for $name {
            fn default() -> Self {
                Self::new()
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                self.0.fmt(f)
            }
        }
    };
}

id_type!(
    /// Identifies a task; also the partition key of its events.
    TaskId
);
id_type!(
    /// Identifies an account.
    UserId
);
id_type!(
    /// Identifies an in-app notification.
    NotificationId
);
id_type!(
    /// Identifies a webhook endpoint.
    EndpointId
);
id_type!(
    /// Identifies one delivery of one event to one webhook endpoint.
    DeliveryId
);
id_type!(
    /// Identifies a personal API token (not its secret).
    TokenId
);
id_type!(
    /// Identifies a dead letter: an event a consumer gave up on.
    DeadLetterId
);
id_type!(
    /// Identifies a conversation with the chat agent.
    ConversationId
);
id_type!(
    /// Identifies a project.
    ProjectId
);
id_type!(
    /// Identifies a section of a project.
    SectionId
);
id_type!(
    /// Identifies a comment on a task.
    CommentId
);
id_type!(
    /// Identifies one device's Web Push subscription.
    PushSubscriptionId
);
id_type!(
    /// Identifies an import job (`POST /api/v1/import`).
    ImportJobId
);
