use serde::{Deserialize, Serialize};

/// Who made a change, as an event's `metadata.actor` records it.
///
/// On the wire a plain string (`user`, `api-token`, `agent`, `system:recurrence`,
/// ...). A value this build does not know (written by a newer one) is kept as it
/// came, so reading and re-publishing an event never changes it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(from = "String", into = "String")]
pub enum EventActor {
    /// A person signed in (session or identity-provider token).
    User,
    /// A script or integration using one of the person's API tokens.
    ApiToken,
    /// The AI agent, over MCP or in a chat.
    Agent,
    /// The recurrence consumer, creating a series' next occurrence.
    Recurrence,
    /// The notification consumer, announcing a reminder it delivered.
    Notifications,
    /// The scheduler, firing a reminder.
    Scheduler,
    /// The start-up step that gives accounts from before projects their Inbox
    /// and moves their tasks into it.
    Migration,
    Other(String),
}

impl EventActor {
    pub fn as_str(&self) -> &str {
        match self {
            Self::User => "user",
            Self::ApiToken => "api-token",
            Self::Agent => "agent",
            Self::Recurrence => "system:recurrence",
            Self::Notifications => "system:notifications",
            Self::Scheduler => "system:scheduler",
            Self::Migration => "system:migration",
            Self::Other(name) => name,
        }
    }

    /// Whether a part of ontask itself made the change, not a person or their agent.
    pub fn is_system(&self) -> bool {
        self.as_str().starts_with("system:")
    }
}

impl From<String> for EventActor {
    fn from(s: String) -> Self {
        match s.as_str() {
            "user" => Self::User,
            "api-token" => Self::ApiToken,
            "agent" => Self::Agent,
            "system:recurrence" => Self::Recurrence,
            "system:notifications" => Self::Notifications,
            "system:scheduler" => Self::Scheduler,
            "system:migration" => Self::Migration,
            _ => Self::Other(s),
        }
    }
}

impl From<EventActor> for String {
    fn from(a: EventActor) -> Self {
        match a {
            EventActor::Other(name) => name,
            known => known.as_str().to_owned(),
        }
    }
}

impl std::fmt::Display for EventActor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_known_actor_reads_back_as_itself_and_unknown_ones_are_kept() {
        let known = [
            EventActor::User,
            EventActor::ApiToken,
            EventActor::Agent,
            EventActor::Recurrence,
            EventActor::Notifications,
            EventActor::Scheduler,
            EventActor::Migration,
        ];
        for actor in known {
            assert_eq!(EventActor::from(String::from(actor.clone())), actor);
        }
        let newer: EventActor = serde_json::from_str("\"system:importer\"").unwrap();
        assert_eq!(newer, EventActor::Other("system:importer".into()));
        assert!(newer.is_system());
        assert_eq!(serde_json::to_string(&newer).unwrap(), "\"system:importer\"");
    }
}
