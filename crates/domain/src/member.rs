//! Who may do what in a project: the members' roles, and the one rule that
//! maps a role to what it allows. Every front door asks this rule (through
//! `ontask_app::policy`), so REST, the web UI, MCP, chat and the live feeds
//! agree on it.
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::{ProjectId, UserId};

/// A member's role in a project.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum ProjectRole {
    /// Reads the project and its tasks.
    Viewer,
    /// Also changes tasks, sections and comments.
    Editor,
    /// Everything, including the project's settings and its members. One per
    /// project; ownership can be handed to another member.
    Owner,
}

/// What an actor wants to do with a project or something in it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProjectAction {
    /// See the project, its sections, tasks, comments, members and activity.
    Read,
    /// Create, change, move, complete and delete tasks and sections; comment.
    Edit,
    /// Rename, recolour, archive or delete the project; add, change and remove
    /// members; hand the project to another member.
    Manage,
}

impl ProjectRole {
    pub const ALL: [ProjectRole; 3] = [Self::Owner, Self::Editor, Self::Viewer];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Owner => "owner",
            Self::Editor => "editor",
            Self::Viewer => "viewer",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.as_str() == s.trim().to_ascii_lowercase())
    }

    /// The rule: which actions this role allows.
    pub fn allows(self, action: ProjectAction) -> bool {
        match action {
            ProjectAction::Read => true,
            ProjectAction::Edit => self >= Self::Editor,
            ProjectAction::Manage => self == Self::Owner,
        }
    }
}

/// One person's membership of one project.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Member {
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = Uuid))]
    pub project_id: ProjectId,
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = Uuid))]
    pub user_id: UserId,
    pub role: ProjectRole,
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub added_at: DateTime<Utc>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_allow_what_they_say() {
        use ProjectAction::*;
        let allowed = |r: ProjectRole| [Read, Edit, Manage].map(|a| r.allows(a));
        assert_eq!(allowed(ProjectRole::Owner), [true, true, true]);
        assert_eq!(allowed(ProjectRole::Editor), [true, true, false]);
        assert_eq!(allowed(ProjectRole::Viewer), [true, false, false]);
    }

    #[test]
    fn roles_read_back_as_written() {
        for r in ProjectRole::ALL {
            assert_eq!(ProjectRole::parse(r.as_str()), Some(r));
            assert_eq!(serde_json::to_value(r).unwrap(), r.as_str());
        }
        assert_eq!(ProjectRole::parse(" Editor"), Some(ProjectRole::Editor));
        assert_eq!(ProjectRole::parse("admin"), None);
    }
}
