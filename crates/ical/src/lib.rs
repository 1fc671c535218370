//! The iCalendar (RFC 5545) mapping of tasks, both ways: a task becomes a
//! VTODO ([`write`]), and a VTODO becomes the draft of a task plus a list of
//! what could not be mapped ([`read`]). Exports, the calendar feed, imports
//! and CalDAV all go through this crate, so a task looks the same
//! wherever a calendar program meets it.
//!
//! # Layout
//! - [`write`]: tasks to a `VCALENDAR` of `VTODO`s (or, for CalDAV, one
//!   `VCALENDAR` per task: [`Resources`]), with a `VTIMEZONE` for
//!   every zone a due uses.
//! - [`read`]: a `VCALENDAR` to [`read::ImportedTodo`]s.
//! - [`priority`]: ontask's priorities and RFC 5545's `PRIORITY` 0..9.
//! - [`zone`]: `VTIMEZONE` definitions built from the tz database.
//!
//! The field mapping is documented in `docs/import-export.md`.
#![forbid(unsafe_code)]

pub mod priority;
pub mod read;
pub mod write;
pub mod zone;

mod text;

pub use read::{IcsError, ImportedTodo, Unmapped, read};
pub use write::{Feed, Resources, calendar};

/// The `PRODID` of every calendar ontask writes.
pub const PRODID: &str = "-//ontask//ontask//EN";

/// A task's `UID`: its id, which never changes, so a calendar program that
/// sees the task again (a refreshed feed, a second export) knows it.
pub fn uid_of(task: ontask_domain::TaskId) -> String {
    task.to_string()
}
