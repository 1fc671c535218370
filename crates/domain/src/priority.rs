use serde::{Deserialize, Serialize};
use thiserror::Error;

/// How much a task matters. Ordered: `None < Low < ... < Urgent`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum Priority {
    #[default]
    None,
    Low,
    Medium,
    High,
    Urgent,
}

#[derive(Debug, Error, PartialEq, Eq)]
#[error("must be one of none, low, medium, high, urgent (got {0:?})")]
pub struct PriorityError(String);

impl Priority {
    pub const ALL: [Priority; 5] = [Self::None, Self::Low, Self::Medium, Self::High, Self::Urgent];

    pub fn parse(raw: &str) -> Result<Self, PriorityError> {
        match raw.trim().to_ascii_lowercase().as_str() {
            "none" | "" => Ok(Self::None),
            "low" => Ok(Self::Low),
            "medium" => Ok(Self::Medium),
            "high" => Ok(Self::High),
            "urgent" => Ok(Self::Urgent),
            _ => Err(PriorityError(raw.to_owned())),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::None => "none",
            Self::Low => "low",
            Self::Medium => "medium",
            Self::High => "high",
            Self::Urgent => "urgent",
        }
    }

    /// A number that sorts like the priority (stored for indexed ordering).
    pub fn rank(self) -> i64 {
        self as i64
    }

    pub fn from_rank(rank: i64) -> Option<Self> {
        Self::ALL.get(usize::try_from(rank).ok()?).copied()
    }
}

impl std::fmt::Display for Priority {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_case_insensitively_and_round_trips() {
        for p in Priority::ALL {
            assert_eq!(Priority::parse(&p.as_str().to_uppercase()), Ok(p));
            assert_eq!(Priority::from_rank(p.rank()), Some(p));
        }
        assert!(Priority::parse("critical").is_err());
        assert!(Priority::Urgent > Priority::High && Priority::Low > Priority::None);
    }
}
