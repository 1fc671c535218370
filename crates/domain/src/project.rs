//! Projects: how a person groups their tasks, and what they share with others.
//! Every account has an Inbox, the project tasks land in when none is named.
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::text::TextError;
use crate::{Description, ProjectId, UserId, ValidationErrors};

pub const MAX_PROJECT_NAME_CHARS: usize = 120;

/// What the Inbox is called when an account is created.
pub const INBOX_NAME: &str = "Inbox";

/// A project's or a section's name: trimmed, 1..=120 characters, one line.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Name(String);

impl Name {
    pub fn parse(raw: &str) -> Result<Self, TextError> {
        let trimmed = raw.trim();
        if trimmed.is_empty() {
            return Err(TextError::Empty);
        }
        let chars = trimmed.chars().count();
        if chars > MAX_PROJECT_NAME_CHARS {
            return Err(TextError::TooLong { max: MAX_PROJECT_NAME_CHARS, got: chars });
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

impl TryFrom<String> for Name {
    type Error = TextError;

    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::parse(&s)
    }
}

impl From<Name> for String {
    fn from(n: Name) -> Self {
        n.0
    }
}

impl std::fmt::Display for Name {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// A project's colour, from a fixed palette (the names Todoist uses, so an
/// import keeps them), each with the hex value the UI paints.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum Colour {
    BerryRed,
    Red,
    Orange,
    Yellow,
    OliveGreen,
    LimeGreen,
    Green,
    MintGreen,
    Teal,
    SkyBlue,
    LightBlue,
    Blue,
    Grape,
    Violet,
    Lavender,
    Magenta,
    Salmon,
    #[default]
    Charcoal,
    Grey,
    Taupe,
}

#[derive(Debug, Error, PartialEq, Eq)]
#[error("must be one of {}", Colour::ALL.map(Colour::as_str).join(", "))]
pub struct UnknownColour;

impl Colour {
    pub const ALL: [Colour; 20] = [
        Self::BerryRed,
        Self::Red,
        Self::Orange,
        Self::Yellow,
        Self::OliveGreen,
        Self::LimeGreen,
        Self::Green,
        Self::MintGreen,
        Self::Teal,
        Self::SkyBlue,
        Self::LightBlue,
        Self::Blue,
        Self::Grape,
        Self::Violet,
        Self::Lavender,
        Self::Magenta,
        Self::Salmon,
        Self::Charcoal,
        Self::Grey,
        Self::Taupe,
    ];

    pub fn as_str(self) -> &'static str {
        self.spec().0
    }

    /// `#rrggbb`.
    pub fn hex(self) -> &'static str {
        self.spec().1
    }

    pub fn parse(s: &str) -> Result<Self, UnknownColour> {
        let s = s.trim().to_ascii_lowercase();
        Self::ALL.into_iter().find(|c| c.as_str() == s).ok_or(UnknownColour)
    }

    fn spec(self) -> (&'static str, &'static str) {
        match self {
            Self::BerryRed => ("berry_red", "#b8255f"),
            Self::Red => ("red", "#db4035"),
            Self::Orange => ("orange", "#ff9933"),
            Self::Yellow => ("yellow", "#fad000"),
            Self::OliveGreen => ("olive_green", "#afb83b"),
            Self::LimeGreen => ("lime_green", "#7ecc49"),
            Self::Green => ("green", "#299438"),
            Self::MintGreen => ("mint_green", "#6accbc"),
            Self::Teal => ("teal", "#158fad"),
            Self::SkyBlue => ("sky_blue", "#14aaf5"),
            Self::LightBlue => ("light_blue", "#96c3eb"),
            Self::Blue => ("blue", "#4073ff"),
            Self::Grape => ("grape", "#884dff"),
            Self::Violet => ("violet", "#af38eb"),
            Self::Lavender => ("lavender", "#eb96eb"),
            Self::Magenta => ("magenta", "#e05194"),
            Self::Salmon => ("salmon", "#ff8d85"),
            Self::Charcoal => ("charcoal", "#808080"),
            Self::Grey => ("grey", "#b8b8b8"),
            Self::Taupe => ("taupe", "#ccac93"),
        }
    }
}

/// A new project, already parsed.
#[derive(Debug, Clone)]
pub struct ProjectDraft {
    pub name: Name,
    pub colour: Colour,
    pub description: Description,
    pub position: Option<i64>,
}

/// A partial update of a project, already parsed; `None` leaves a field alone.
#[derive(Debug, Clone, Default)]
pub struct ProjectPatch {
    pub name: Option<Name>,
    pub colour: Option<Colour>,
    pub description: Option<Description>,
    pub position: Option<i64>,
}

/// A project: its own fields, always valid. Who may see and change it is its
/// membership's business (`crate::member`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Project {
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = Uuid))]
    pub id: ProjectId,
    /// The member with the `owner` role.
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = Uuid))]
    pub owner_id: UserId,
    #[cfg_attr(feature = "openapi", schema(value_type = String, min_length = 1, max_length = 120))]
    pub name: Name,
    pub colour: Colour,
    /// Markdown.
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    #[serde(with = "description_text")]
    pub description: Description,
    /// The account's Inbox: where tasks go when no project is named. It cannot
    /// be renamed, archived, shared or deleted.
    pub inbox: bool,
    pub archived: bool,
    pub position: i64,
    pub version: i64,
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub created_at: DateTime<Utc>,
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub updated_at: DateTime<Utc>,
}

mod description_text {
    use serde::{Deserialize, Deserializer, Serializer, de::Error};

    use crate::Description;

    pub fn serialize<S: Serializer>(d: &Description, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(d.as_str())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Description, D::Error> {
        Description::parse(&String::deserialize(d)?).map_err(D::Error::custom)
    }
}

/// A project change the domain refuses.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum ProjectRuleError {
    #[error("the Inbox cannot be renamed, archived, shared or deleted")]
    Inbox,
}

impl Project {
    /// A new project owned by `owner`.
    pub fn create(owner: UserId, draft: ProjectDraft, now: DateTime<Utc>) -> Self {
        Self {
            id: ProjectId::new(),
            owner_id: owner,
            name: draft.name,
            colour: draft.colour,
            description: draft.description,
            inbox: false,
            archived: false,
            // Later projects after earlier ones in the sidebar.
            position: draft.position.unwrap_or(now.timestamp_millis()),
            version: 1,
            created_at: now,
            updated_at: now,
        }
    }

    /// The Inbox of a new account.
    pub fn inbox_of(owner: UserId, now: DateTime<Utc>) -> Self {
        let draft = ProjectDraft {
            name: Name::parse(INBOX_NAME).expect("a valid name"),
            colour: Colour::Grey,
            description: Description::default(),
            // First in every sidebar.
            position: Some(i64::MIN),
        };
        Self { inbox: true, ..Self::create(owner, draft, now) }
    }

    /// Applies a patch; returns whether anything changed (the version moves
    /// only then).
    pub fn apply(&mut self, patch: ProjectPatch, now: DateTime<Utc>) -> Result<bool, ProjectRuleError> {
        if self.inbox && patch.name.as_ref().is_some_and(|n| *n != self.name) {
            return Err(ProjectRuleError::Inbox);
        }
        let before = self.clone();
        if let Some(name) = patch.name {
            self.name = name;
        }
        if let Some(colour) = patch.colour {
            self.colour = colour;
        }
        if let Some(description) = patch.description {
            self.description = description;
        }
        if let Some(position) = patch.position {
            self.position = position;
        }
        Ok(self.touch_if_changed(&before, now))
    }

    /// Archives (true) or unarchives the project; returns whether that changed it.
    pub fn set_archived(&mut self, archived: bool, now: DateTime<Utc>) -> Result<bool, ProjectRuleError> {
        if self.inbox {
            return Err(ProjectRuleError::Inbox);
        }
        let before = self.clone();
        self.archived = archived;
        Ok(self.touch_if_changed(&before, now))
    }

    /// Hands the project to another member.
    pub fn transfer(&mut self, to: UserId, now: DateTime<Utc>) -> Result<bool, ProjectRuleError> {
        if self.inbox {
            return Err(ProjectRuleError::Inbox);
        }
        let before = self.clone();
        self.owner_id = to;
        Ok(self.touch_if_changed(&before, now))
    }

    /// Whether the project may be deleted or shared.
    pub fn check_not_inbox(&self) -> Result<(), ProjectRuleError> {
        if self.inbox { Err(ProjectRuleError::Inbox) } else { Ok(()) }
    }

    fn touch_if_changed(&mut self, before: &Self, now: DateTime<Utc>) -> bool {
        if self == before {
            return false;
        }
        self.version += 1;
        self.updated_at = now;
        true
    }
}

impl ProjectDraft {
    /// Parses a draft from a client's fields, every problem at once.
    pub fn parse(
        name: &str,
        colour: Option<&str>,
        description: Option<&str>,
        position: Option<i64>,
    ) -> Result<Self, ValidationErrors> {
        let mut e = ValidationErrors::new();
        let name = e.check("name", Name::parse(name));
        let colour = colour.map(|c| e.check("colour", Colour::parse(c))).unwrap_or(Some(Colour::default()));
        let description =
            description.map(|d| e.check("description", Description::parse(d))).unwrap_or(Some(Description::default()));
        match (name, colour, description) {
            (Some(name), Some(colour), Some(description)) if e.is_empty() => {
                Ok(Self { name, colour, description, position })
            }
            _ => Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn draft(name: &str) -> ProjectDraft {
        ProjectDraft::parse(name, None, None, None).unwrap()
    }

    #[test]
    fn names_are_trimmed_and_bounded() {
        assert_eq!(Name::parse("  Home ").unwrap().as_str(), "Home");
        assert_eq!(Name::parse(" "), Err(TextError::Empty));
        assert!(Name::parse(&"x".repeat(121)).is_err());
        assert!(Name::parse(&"x".repeat(120)).is_ok());
    }

    #[test]
    fn colours_read_back_as_written() {
        for c in Colour::ALL {
            assert_eq!(Colour::parse(c.as_str()), Ok(c));
            assert_eq!(serde_json::to_value(c).unwrap(), c.as_str());
            assert!(c.hex().starts_with('#') && c.hex().len() == 7);
        }
        assert_eq!(Colour::parse("Sky_Blue"), Ok(Colour::SkyBlue));
        assert!(Colour::parse("chartreuse").unwrap_err().to_string().contains("berry_red"));
    }

    #[test]
    fn a_draft_reports_every_bad_field() {
        let errors = ProjectDraft::parse("", Some("plaid"), None, None).unwrap_err();
        let fields: Vec<_> = errors.fields().iter().map(|f| f.field.as_str()).collect();
        assert_eq!(fields, ["name", "colour"]);
    }

    #[test]
    fn the_inbox_keeps_its_name_and_cannot_be_archived() {
        let now = Utc::now();
        let mut inbox = Project::inbox_of(UserId::new(), now);
        let rename = ProjectPatch { name: Some(Name::parse("Mine").unwrap()), ..Default::default() };
        assert_eq!(inbox.apply(rename, now), Err(ProjectRuleError::Inbox));
        assert_eq!(inbox.set_archived(true, now), Err(ProjectRuleError::Inbox));
        let recolour = ProjectPatch { colour: Some(Colour::Blue), ..Default::default() };
        assert_eq!(inbox.apply(recolour, now), Ok(true));
        assert_eq!(inbox.version, 2);
    }

    #[test]
    fn a_patch_that_changes_nothing_keeps_the_version() {
        let now = Utc::now();
        let mut p = Project::create(UserId::new(), draft("Home"), now);
        let same = ProjectPatch { name: Some(Name::parse("Home").unwrap()), ..Default::default() };
        assert_eq!(p.apply(same, now), Ok(false));
        assert_eq!(p.version, 1);
        assert_eq!(p.set_archived(true, now), Ok(true));
        assert_eq!(p.set_archived(true, now), Ok(false));
        assert_eq!(p.version, 2);
    }

    #[test]
    fn a_project_round_trips_as_json() {
        let p = Project::create(UserId::new(), draft("Home"), Utc::now());
        let back: Project = serde_json::from_value(serde_json::to_value(&p).unwrap()).unwrap();
        assert_eq!(back, p);
        let mut bad = serde_json::to_value(&p).unwrap();
        bad["name"] = "".into();
        assert!(serde_json::from_value::<Project>(bad).is_err());
    }
}
