use thiserror::Error;

pub const MAX_TITLE_CHARS: usize = 500;
pub const MAX_DESCRIPTION_CHARS: usize = 20_000;

#[derive(Debug, Error, PartialEq, Eq)]
pub enum TextError {
    #[error("must not be empty")]
    Empty,
    #[error("must be at most {max} characters (got {got})")]
    TooLong { max: usize, got: usize },
    #[error("must not contain control characters")]
    ControlCharacter,
}

/// A task title: trimmed, 1..=500 characters, one line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Title(String);

impl Title {
    pub fn parse(raw: &str) -> Result<Self, TextError> {
        let trimmed = raw.trim();
        if trimmed.is_empty() {
            return Err(TextError::Empty);
        }
        let chars = trimmed.chars().count();
        if chars > MAX_TITLE_CHARS {
            return Err(TextError::TooLong { max: MAX_TITLE_CHARS, got: chars });
        }
        if trimmed.chars().any(char::is_control) {
            return Err(TextError::ControlCharacter);
        }
        Ok(Self(trimmed.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Free-form markdown, up to 20,000 characters. Rendering (and escaping) is the
/// business of whoever displays it; here we only bound its size.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Description(String);

impl Description {
    pub fn parse(raw: &str) -> Result<Self, TextError> {
        let chars = raw.chars().count();
        if chars > MAX_DESCRIPTION_CHARS {
            return Err(TextError::TooLong { max: MAX_DESCRIPTION_CHARS, got: chars });
        }
        // Tabs and newlines belong in markdown; other control characters do not.
        if raw.chars().any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t')) {
            return Err(TextError::ControlCharacter);
        }
        Ok(Self(raw.trim_end().to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn title_is_trimmed() {
        assert_eq!(Title::parse("  Pay rent \n").unwrap().as_str(), "Pay rent");
    }

    #[test]
    fn title_rejects_blank_long_and_control() {
        assert_eq!(Title::parse("   "), Err(TextError::Empty));
        assert_eq!(Title::parse(&"a".repeat(501)), Err(TextError::TooLong { max: 500, got: 501 }));
        assert!(Title::parse(&"é".repeat(500)).is_ok(), "limit counts characters, not bytes");
        assert_eq!(Title::parse("a\u{7}b"), Err(TextError::ControlCharacter));
        assert_eq!(Title::parse("two\nlines"), Err(TextError::ControlCharacter));
    }

    #[test]
    fn description_keeps_newlines_and_bounds_size() {
        assert_eq!(Description::parse("# h\n\n- a\n").unwrap().as_str(), "# h\n\n- a");
        assert!(Description::parse(&"x".repeat(20_001)).is_err());
        assert!(Description::parse("a\u{0}b").is_err());
    }

    proptest! {
        #[test]
        fn parsed_titles_are_always_valid(s in "\\PC{0,600}") {
            if let Ok(t) = Title::parse(&s) {
                let n = t.as_str().chars().count();
                prop_assert!((1..=500).contains(&n));
                prop_assert_eq!(t.as_str().trim(), t.as_str());
                prop_assert_eq!(Title::parse(t.as_str()).unwrap(), t.clone());
            }
        }
    }
}
