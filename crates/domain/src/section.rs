//! Sections: ordered groups of tasks inside a project (a board's columns).
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::{Name, ProjectId, SectionId};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Section {
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = Uuid))]
    pub id: SectionId,
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = Uuid))]
    pub project_id: ProjectId,
    #[cfg_attr(feature = "openapi", schema(value_type = String, min_length = 1, max_length = 120))]
    pub name: Name,
    pub position: i64,
    pub version: i64,
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub created_at: DateTime<Utc>,
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub updated_at: DateTime<Utc>,
}

impl Section {
    /// A new section at the end of its project (or at `position`).
    pub fn create(project_id: ProjectId, name: Name, position: Option<i64>, now: DateTime<Utc>) -> Self {
        Self {
            id: SectionId::new(),
            project_id,
            name,
            position: position.unwrap_or(now.timestamp_millis()),
            version: 1,
            created_at: now,
            updated_at: now,
        }
    }

    /// Renames and/or moves the section; returns whether anything changed.
    pub fn apply(&mut self, name: Option<Name>, position: Option<i64>, now: DateTime<Utc>) -> bool {
        let before = (self.name.clone(), self.position);
        if let Some(name) = name {
            self.name = name;
        }
        if let Some(position) = position {
            self.position = position;
        }
        if before == (self.name.clone(), self.position) {
            return false;
        }
        self.version += 1;
        self.updated_at = now;
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_section_changes_only_when_something_does() {
        let now = Utc::now();
        let mut s = Section::create(ProjectId::new(), Name::parse("Doing").unwrap(), None, now);
        assert!(!s.apply(Some(Name::parse("Doing").unwrap()), None, now));
        assert!(s.apply(None, Some(3), now));
        assert_eq!((s.position, s.version), (3, 2));
    }
}
