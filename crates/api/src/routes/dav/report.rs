//! REPORT on a calendar: calendar-query, calendar-multiget and
//! sync-collection (what DAVx5, Thunderbird and Apple's apps sync with).
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use ontask_app::caldav::Collection;
use ontask_dav::filter::Todo;
use ontask_dav::{Multistatus, Name, Node, Report, Response};
use ontask_domain::{ProjectId, Status, Task};
use ontask_ical::Resources;

use super::props::{self, sync_token, token_version};
use super::{DavCaller, DavError, calendar_href, name_in, object_href};
use crate::ApiState;

/// `DAV:supported-report`: a report this resource does not answer.
pub fn unsupported(report: &Report) -> DavError {
    let what = match report {
        Report::Unsupported(name) => name.to_string(),
        _ => "this report".into(),
    };
    DavError::Precondition(
        StatusCode::FORBIDDEN,
        Box::new(Node::new(Name::dav("supported-report"))),
        format!("{what} is not answered here; calendars answer calendar-query, calendar-multiget and sync-collection"),
    )
}

/// A task as a calendar-query's filter sees its VTODO.
struct TodoOf<'a> {
    task: &'a Task,
    collection: &'a Collection,
}

fn utc(at: DateTime<Utc>) -> String {
    at.format("%Y%m%dT%H%M%SZ").to_string()
}

impl Todo for TodoOf<'_> {
    fn property(&self, name: &str) -> Option<String> {
        let t = self.task;
        match name {
            "UID" => Some(self.collection.uid_of(t.id)),
            "SUMMARY" => Some(t.title.as_str().to_owned()),
            "DESCRIPTION" => (!t.description.is_empty()).then(|| t.description.as_str().to_owned()),
            "STATUS" => Some(match t.status {
                Status::Open => "NEEDS-ACTION".into(),
                Status::Completed => "COMPLETED".into(),
            }),
            "COMPLETED" => t.completed_at.map(utc),
            "DUE" => t.due.as_ref().map(|d| utc(d.instant())),
            "DTSTART" => t.recurrence.as_ref().and(t.due.as_ref()).map(|d| utc(d.instant())),
            "PRIORITY" => ontask_ical::priority::to_ical(t.priority).map(|p| p.to_string()),
            "CATEGORIES" => (!t.tags.is_empty()).then(|| t.tags.to_strings().join(",")),
            "RRULE" => t.recurrence.as_ref().map(|r| r.as_str().to_owned()),
            "RELATED-TO" => t.parent_id.map(|p| self.collection.uid_of(p)),
            "CREATED" => Some(utc(t.created_at)),
            "LAST-MODIFIED" | "DTSTAMP" => Some(utc(t.updated_at)),
            _ => None,
        }
    }
    fn dtstart(&self) -> Option<DateTime<Utc>> {
        self.task.recurrence.as_ref().and(self.task.due.as_ref()).map(|d| d.instant())
    }
    fn due(&self) -> Option<DateTime<Utc>> {
        self.task.due.as_ref().map(|d| d.instant())
    }
    fn completed(&self) -> Option<DateTime<Utc>> {
        self.task.completed_at
    }
    fn created(&self) -> Option<DateTime<Utc>> {
        Some(self.task.created_at)
    }
}

pub async fn answer(
    state: &ApiState,
    caller: &DavCaller,
    project: ProjectId,
    report: Report,
) -> Result<Multistatus, DavError> {
    let caldav = state.app.caldav();
    let mut writer = Resources::new();
    match report {
        Report::CalendarQuery { props, filter } => {
            let (collection, resources) = caldav.list(&caller.actor, project).await?;
            let responses = resources
                .iter()
                .filter(|r| filter.matches(&TodoOf { task: &r.task, collection: &collection }))
                .map(|r| props::object(caller, &collection, r, &props, &mut writer, None))
                .collect();
            Ok(Multistatus { responses, sync_token: None })
        }
        Report::CalendarMultiget { props, hrefs } => {
            let base = calendar_href(caller.actor.user_id, project);
            let names: Vec<(String, Option<String>)> = hrefs
                .into_iter()
                .map(|h| {
                    let name = name_in(&h, &base);
                    (h, name)
                })
                .collect();
            let asked: Vec<String> = names.iter().filter_map(|(_, n)| n.clone()).collect();
            let (collection, found) = caldav.get(&caller.actor, project, &asked).await?;
            let mut found = found.into_iter();
            let responses = names
                .iter()
                .map(|(href, name)| match name {
                    // `found` answers the named ones in order.
                    Some(_) => match found.next().and_then(|(_, r)| r) {
                        Some(r) => props::object(caller, &collection, &r, &props, &mut writer, Some(href)),
                        None => Response::status(href.clone(), 404),
                    },
                    None => Response::status(href.clone(), 404),
                })
                .collect();
            Ok(Multistatus { responses, sync_token: None })
        }
        Report::SyncCollection { token, props, .. } => {
            let since = match token.as_deref() {
                None => 0,
                Some(t) => token_version(project, t).ok_or(ontask_app::caldav::CalDavError::InvalidSyncToken)?,
            };
            let (collection, changes) = caldav.changes(&caller.actor, project, since).await?;
            let user = caller.actor.user_id;
            let mut responses: Vec<Response> = changes
                .changed
                .iter()
                .map(|r| props::object(caller, &collection, r, &props, &mut writer, None))
                .collect();
            responses
                .extend(changes.removed.iter().map(|name| Response::status(object_href(user, project, name), 404)));
            Ok(Multistatus { responses, sync_token: Some(sync_token(project, collection.calendar.version)) })
        }
        other @ Report::Unsupported(_) => Err(unsupported(&other)),
    }
}
