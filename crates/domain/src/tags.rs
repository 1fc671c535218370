use std::collections::BTreeSet;

use thiserror::Error;

pub const MAX_TAGS: usize = 20;
pub const MAX_TAG_CHARS: usize = 50;

#[derive(Debug, Error, PartialEq, Eq)]
pub enum TagError {
    #[error("a tag must not be empty")]
    Empty,
    #[error("tag {0:?} is longer than {MAX_TAG_CHARS} characters")]
    TooLong(String),
    #[error("tag {0:?} may only contain letters, digits, '-', '_', '/' and '.'")]
    InvalidCharacter(String),
    #[error("at most {MAX_TAGS} tags are allowed (got {0})")]
    TooMany(usize),
}

/// A tag, normalised: lower case, without a leading `#`, inner spaces as `-`.
/// `"#Home Office"` and `"home-office"` are the same tag.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Tag(String);

impl Tag {
    pub fn parse(raw: &str) -> Result<Self, TagError> {
        let trimmed = raw.trim().trim_start_matches('#').trim();
        if trimmed.is_empty() {
            return Err(TagError::Empty);
        }
        let normalised: String = trimmed.split_whitespace().collect::<Vec<_>>().join("-").to_lowercase();
        if normalised.chars().count() > MAX_TAG_CHARS {
            return Err(TagError::TooLong(raw.to_owned()));
        }
        if !normalised.chars().all(|c| c.is_alphanumeric() || matches!(c, '-' | '_' | '/' | '.')) {
            return Err(TagError::InvalidCharacter(raw.to_owned()));
        }
        Ok(Self(normalised))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for Tag {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// The set of tags on a task: duplicates (after normalising) collapse, order is
/// alphabetical, and there are at most [`MAX_TAGS`].
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Tags(BTreeSet<Tag>);

impl Tags {
    pub fn parse<S: AsRef<str>>(raw: &[S]) -> Result<Self, TagError> {
        let set = raw.iter().map(|s| Tag::parse(s.as_ref())).collect::<Result<BTreeSet<_>, _>>()?;
        if set.len() > MAX_TAGS {
            return Err(TagError::TooMany(set.len()));
        }
        Ok(Self(set))
    }

    pub fn iter(&self) -> impl Iterator<Item = &Tag> {
        self.0.iter()
    }

    pub fn contains(&self, tag: &Tag) -> bool {
        self.0.contains(tag)
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn to_strings(&self) -> Vec<String> {
        self.0.iter().map(|t| t.0.clone()).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn normalises() {
        assert_eq!(Tag::parse("  #Home Office ").unwrap().as_str(), "home-office");
        assert_eq!(Tag::parse("Work/Q4").unwrap().as_str(), "work/q4");
        assert_eq!(Tag::parse("café").unwrap().as_str(), "café");
    }

    #[test]
    fn rejects_bad_tags() {
        assert_eq!(Tag::parse(" # "), Err(TagError::Empty));
        assert!(matches!(Tag::parse("a,b"), Err(TagError::InvalidCharacter(_))));
        assert!(matches!(Tag::parse("<script>"), Err(TagError::InvalidCharacter(_))));
        assert!(matches!(Tag::parse(&"x".repeat(51)), Err(TagError::TooLong(_))));
    }

    #[test]
    fn set_dedups_and_limits() {
        let tags = Tags::parse(&["Home", "#home", "work"]).unwrap();
        assert_eq!(tags.to_strings(), vec!["home", "work"]);
        let many: Vec<String> = (0..21).map(|i| format!("t{i}")).collect();
        assert_eq!(Tags::parse(&many), Err(TagError::TooMany(21)));
        let twenty_with_dups: Vec<String> = (0..40).map(|i| format!("T{}", i % 20)).collect();
        assert_eq!(Tags::parse(&twenty_with_dups).unwrap().len(), 20);
    }

    proptest! {
        #[test]
        fn normalising_is_idempotent(s in "[#]?[A-Za-z0-9 _./-]{1,60}") {
            if let Ok(tag) = Tag::parse(&s) {
                prop_assert_eq!(Tag::parse(tag.as_str()).unwrap(), tag.clone());
                prop_assert!(!tag.as_str().contains(' '));
                prop_assert_eq!(tag.as_str().to_lowercase(), tag.as_str());
            }
        }
    }
}
