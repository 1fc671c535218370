//! Comments on tasks: Markdown written by a member, with `@name` mentions of
//! other members.
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::text::TextError;
use crate::{CommentId, ProjectId, TaskId, UserId};

pub const MAX_COMMENT_CHARS: usize = 10_000;

/// A comment's text: Markdown, 1..=10,000 characters. Rendering (and making
/// it safe) is the business of whoever shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct CommentBody(String);

impl CommentBody {
    pub fn parse(raw: &str) -> Result<Self, TextError> {
        let trimmed = raw.trim();
        if trimmed.is_empty() {
            return Err(TextError::Empty);
        }
        let chars = trimmed.chars().count();
        if chars > MAX_COMMENT_CHARS {
            return Err(TextError::TooLong { max: MAX_COMMENT_CHARS, got: chars });
        }
        if trimmed.chars().any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t')) {
            return Err(TextError::ControlCharacter);
        }
        Ok(Self(trimmed.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The names mentioned as `@name` (letters, digits, `.`, `-`, `_`), in
    /// order, each once, lowercased. An `@` inside a word (an e-mail address)
    /// is not a mention.
    pub fn mentions(&self) -> Vec<String> {
        let mut found: Vec<String> = Vec::new();
        let mut previous = ' ';
        for (i, c) in self.0.char_indices() {
            if c == '@' && !previous.is_alphanumeric() {
                let rest = &self.0[i + 1..];
                let name: String = rest
                    .chars()
                    .take_while(|c| c.is_alphanumeric() || matches!(c, '.' | '-' | '_'))
                    .collect::<String>()
                    .trim_end_matches(['.', '-', '_'])
                    .to_lowercase();
                if !name.is_empty() && !found.contains(&name) {
                    found.push(name);
                }
            }
            previous = c;
        }
        found
    }
}

impl TryFrom<String> for CommentBody {
    type Error = TextError;

    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::parse(&s)
    }
}

impl From<CommentBody> for String {
    fn from(b: CommentBody) -> Self {
        b.0
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Comment {
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = Uuid))]
    pub id: CommentId,
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = Uuid))]
    pub task_id: TaskId,
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = Uuid))]
    pub project_id: ProjectId,
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = Uuid))]
    pub author_id: UserId,
    /// Markdown.
    #[cfg_attr(feature = "openapi", schema(value_type = String, min_length = 1, max_length = 10000))]
    pub body: CommentBody,
    /// The members the text mentions (`@name`), as the comment was written.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(value_type = Vec<String>))]
    pub mentioned: Vec<UserId>,
    pub version: i64,
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub created_at: DateTime<Utc>,
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub updated_at: DateTime<Utc>,
}

impl Comment {
    pub fn create(
        task_id: TaskId,
        project_id: ProjectId,
        author_id: UserId,
        body: CommentBody,
        mentioned: Vec<UserId>,
        now: DateTime<Utc>,
    ) -> Self {
        Self {
            id: CommentId::new(),
            task_id,
            project_id,
            author_id,
            body,
            mentioned,
            version: 1,
            created_at: now,
            updated_at: now,
        }
    }

    /// Replaces the text; returns whether it changed.
    pub fn edit(&mut self, body: CommentBody, mentioned: Vec<UserId>, now: DateTime<Utc>) -> bool {
        if body == self.body {
            return false;
        }
        self.body = body;
        self.mentioned = mentioned;
        self.version += 1;
        self.updated_at = now;
        true
    }

    /// Whether the comment was changed after it was written.
    pub fn edited(&self) -> bool {
        self.version > 1
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mentions_are_names_after_an_at_sign_not_e_mail_addresses() {
        let body = CommentBody::parse("@Sam and @jo.k, ask @sam again; mail a@b.c. @ alone, end @li.").unwrap();
        assert_eq!(body.mentions(), ["sam", "jo.k", "li"]);
        assert!(CommentBody::parse("no one").unwrap().mentions().is_empty());
    }

    #[test]
    fn a_body_is_trimmed_and_bounded() {
        assert_eq!(CommentBody::parse("  hi \n").unwrap().as_str(), "hi");
        assert_eq!(CommentBody::parse(" \n "), Err(TextError::Empty));
        assert!(CommentBody::parse(&"x".repeat(MAX_COMMENT_CHARS + 1)).is_err());
        assert!(CommentBody::parse("line\nnext\ttab").is_ok());
    }

    #[test]
    fn editing_to_the_same_text_changes_nothing() {
        let now = Utc::now();
        let body = CommentBody::parse("first").unwrap();
        let mut c = Comment::create(TaskId::new(), ProjectId::new(), UserId::new(), body.clone(), vec![], now);
        assert!(!c.edit(body, vec![], now));
        assert!(!c.edited());
        assert!(c.edit(CommentBody::parse("second").unwrap(), vec![], now));
        assert_eq!((c.version, c.edited()), (2, true));
    }
}
