//! A calendar-query's filter (RFC 4791 section 9.7) and its test against a
//! VTODO. Clients use few of its forms: "every VTODO", "VTODOs not
//! completed" (a prop-filter on `COMPLETED` with `is-not-defined`, or a
//! text-match on `STATUS`), and a time range. Those are evaluated exactly;
//! a form that needs more than a VTODO's properties (a param-filter) matches
//! rather than hide a task from the client.
use chrono::{DateTime, NaiveDateTime, Utc};

use crate::name::CALDAV;
use crate::tree::{BadXml, Element};

/// What a VTODO shows a filter.
pub trait Todo {
    /// The text of a property (as written in the VTODO), if it has it.
    fn property(&self, name: &str) -> Option<String>;
    fn dtstart(&self) -> Option<DateTime<Utc>>;
    fn due(&self) -> Option<DateTime<Utc>>;
    fn completed(&self) -> Option<DateTime<Utc>>;
    fn created(&self) -> Option<DateTime<Utc>>;
}

/// `CALDAV:time-range`: either end may be open.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimeRange {
    pub start: Option<DateTime<Utc>>,
    pub end: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PropTest {
    Defined,
    IsNotDefined,
    /// Case-insensitive substring (the default `i;ascii-casemap` collation).
    TextMatch {
        text: String,
        negate: bool,
    },
    TimeRange(TimeRange),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PropFilter {
    pub name: String,
    pub test: PropTest,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CompFilter {
    pub name: String,
    pub is_not_defined: bool,
    pub time_range: Option<TimeRange>,
    pub props: Vec<PropFilter>,
    pub comps: Vec<CompFilter>,
}

/// `CALDAV:filter`: exactly one comp-filter, for VCALENDAR.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Filter {
    pub calendar: CompFilter,
}

fn utc(raw: &str) -> Result<DateTime<Utc>, BadXml> {
    let body = raw.trim().strip_suffix(['Z', 'z']).ok_or_else(|| BadXml::new(format!("{raw:?} is not a UTC time")))?;
    NaiveDateTime::parse_from_str(body, "%Y%m%dT%H%M%S")
        .map(|t| t.and_utc())
        .map_err(|_| BadXml::new(format!("{raw:?} is not a UTC time (20261124T090000Z)")))
}

fn time_range(e: &Element) -> Result<TimeRange, BadXml> {
    let start = e.attribute("start").map(utc).transpose()?;
    let end = e.attribute("end").map(utc).transpose()?;
    if start.is_none() && end.is_none() {
        return Err(BadXml::new("a time-range needs a start or an end"));
    }
    Ok(TimeRange { start, end })
}

fn name_of(e: &Element) -> Result<String, BadXml> {
    e.attribute("name")
        .map(str::to_ascii_uppercase)
        .ok_or_else(|| BadXml::new(format!("{} needs a name attribute", e.name)))
}

fn comp_filter(e: &Element) -> Result<CompFilter, BadXml> {
    let mut props = Vec::new();
    for p in e.children_named(CALDAV, "prop-filter") {
        let test = if p.child(CALDAV, "is-not-defined").is_some() {
            PropTest::IsNotDefined
        } else if let Some(t) = p.child(CALDAV, "text-match") {
            let negate = t.attribute("negate-condition").is_some_and(|v| v == "yes");
            PropTest::TextMatch { text: t.text.clone(), negate }
        } else if let Some(r) = p.child(CALDAV, "time-range") {
            PropTest::TimeRange(time_range(r)?)
        } else {
            PropTest::Defined
        };
        props.push(PropFilter { name: name_of(p)?, test });
    }
    Ok(CompFilter {
        name: name_of(e)?,
        is_not_defined: e.child(CALDAV, "is-not-defined").is_some(),
        time_range: e.child(CALDAV, "time-range").map(time_range).transpose()?,
        props,
        comps: e.children_named(CALDAV, "comp-filter").map(comp_filter).collect::<Result<_, _>>()?,
    })
}

impl Filter {
    pub fn parse(filter: &Element) -> Result<Filter, BadXml> {
        let mut comps = filter.children_named(CALDAV, "comp-filter");
        let (Some(calendar), None) = (comps.next(), comps.next()) else {
            return Err(BadXml::new("a CALDAV:filter holds exactly one comp-filter"));
        };
        let calendar = comp_filter(calendar)?;
        if calendar.name != "VCALENDAR" {
            return Err(BadXml::new("a CALDAV:filter's comp-filter is for VCALENDAR"));
        }
        Ok(Filter { calendar })
    }

    /// Whether a calendar object resource holding this VTODO matches.
    pub fn matches(&self, todo: &impl Todo) -> bool {
        let c = &self.calendar;
        !c.is_not_defined && c.time_range.is_none() && c.comps.iter().all(|inner| component(inner, todo))
    }
}

fn component(f: &CompFilter, todo: &impl Todo) -> bool {
    if f.name != "VTODO" {
        // The resource holds no such component (VEVENT, VJOURNAL), but a
        // VTIMEZONE may be there; asking for one is rare and not answered.
        return f.is_not_defined;
    }
    if f.is_not_defined {
        return false;
    }
    // VALARM filters (the only components inside a VTODO) are passed.
    f.time_range.is_none_or(|r| overlaps(r, todo)) && f.props.iter().all(|p| property(p, todo))
}

fn property(f: &PropFilter, todo: &impl Todo) -> bool {
    let value = todo.property(&f.name);
    match &f.test {
        PropTest::Defined => value.is_some(),
        PropTest::IsNotDefined => value.is_none(),
        PropTest::TextMatch { text, negate } => {
            value.is_some_and(|v| v.to_lowercase().contains(&text.to_lowercase()) != *negate)
        }
        // A date property inside the range; only those a VTODO has dates for.
        PropTest::TimeRange(r) => {
            let at = match f.name.as_str() {
                "DUE" => todo.due(),
                "DTSTART" => todo.dtstart(),
                "COMPLETED" => todo.completed(),
                "CREATED" => todo.created(),
                _ => return value.is_some(),
            };
            at.is_some_and(|at| r.start.is_none_or(|s| s <= at) && r.end.is_none_or(|e| at < e))
        }
    }
}

/// RFC 4791 section 9.9's table for VTODO (no DURATION: ontask writes none).
fn overlaps(r: TimeRange, todo: &impl Todo) -> bool {
    let after_start = |t: DateTime<Utc>, strict: bool| r.start.is_none_or(|s| if strict { s < t } else { s <= t });
    let before_end = |t: DateTime<Utc>, strict: bool| r.end.is_none_or(|e| if strict { e > t } else { e >= t });
    match (todo.dtstart(), todo.due(), todo.completed(), todo.created()) {
        (Some(start), Some(due), _, _) => {
            (after_start(due, true) || after_start(start, false)) && (before_end(start, true) || before_end(due, false))
        }
        (Some(start), None, _, _) => after_start(start, false) && before_end(start, true),
        (None, Some(due), _, _) => after_start(due, true) && before_end(due, false),
        (None, None, Some(done), Some(created)) => {
            (after_start(created, false) || after_start(done, false))
                && (before_end(created, false) || before_end(done, false))
        }
        (None, None, Some(done), None) => after_start(done, false) && before_end(done, false),
        (None, None, None, Some(created)) => before_end(created, true),
        (None, None, None, None) => true,
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;
    use crate::tree;

    struct T {
        status: &'static str,
        due: Option<DateTime<Utc>>,
        completed: Option<DateTime<Utc>>,
    }

    impl Todo for T {
        fn property(&self, name: &str) -> Option<String> {
            match name {
                "STATUS" => Some(self.status.to_owned()),
                "COMPLETED" => self.completed.map(|c| c.to_string()),
                "DUE" => self.due.map(|d| d.to_string()),
                _ => None,
            }
        }
        fn dtstart(&self) -> Option<DateTime<Utc>> {
            None
        }
        fn due(&self) -> Option<DateTime<Utc>> {
            self.due
        }
        fn completed(&self) -> Option<DateTime<Utc>> {
            self.completed
        }
        fn created(&self) -> Option<DateTime<Utc>> {
            Some(Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap())
        }
    }

    fn filter(inner: &str) -> Filter {
        let xml = format!(
            r#"<C:filter xmlns:C="urn:ietf:params:xml:ns:caldav"><C:comp-filter name="VCALENDAR">{inner}</C:comp-filter></C:filter>"#
        );
        Filter::parse(&tree::parse(xml.as_bytes()).unwrap()).unwrap()
    }

    #[test]
    fn open_tasks_and_time_ranges() {
        let at = |d| Utc.with_ymd_and_hms(2026, 11, d, 9, 0, 0).unwrap();
        let open = T { status: "NEEDS-ACTION", due: Some(at(24)), completed: None };
        let done = T { status: "COMPLETED", due: None, completed: Some(at(2)) };
        let all = filter(r#"<C:comp-filter name="VTODO"/>"#);
        assert!(all.matches(&open) && all.matches(&done));
        let not_done = filter(
            r#"<C:comp-filter name="VTODO"><C:prop-filter name="COMPLETED"><C:is-not-defined/></C:prop-filter></C:comp-filter>"#,
        );
        assert!(not_done.matches(&open) && !not_done.matches(&done));
        let status = filter(
            r#"<C:comp-filter name="VTODO"><C:prop-filter name="STATUS"><C:text-match negate-condition="yes">completed</C:text-match></C:prop-filter></C:comp-filter>"#,
        );
        assert!(status.matches(&open) && !status.matches(&done));
        let november = filter(
            r#"<C:comp-filter name="VTODO"><C:time-range start="20261120T000000Z" end="20261201T000000Z"/></C:comp-filter>"#,
        );
        assert!(november.matches(&open) && !november.matches(&done));
        let events = filter(r#"<C:comp-filter name="VEVENT"/>"#);
        assert!(!events.matches(&open));
    }

    #[test]
    fn refuses_malformed_filters() {
        for bad in [
            r#"<C:filter xmlns:C="urn:ietf:params:xml:ns:caldav"/>"#,
            r#"<C:filter xmlns:C="urn:ietf:params:xml:ns:caldav"><C:comp-filter name="VTODO"/></C:filter>"#,
            r#"<C:filter xmlns:C="urn:ietf:params:xml:ns:caldav"><C:comp-filter/></C:filter>"#,
            r#"<C:filter xmlns:C="urn:ietf:params:xml:ns:caldav"><C:comp-filter name="VCALENDAR"><C:time-range start="tomorrow"/></C:comp-filter></C:filter>"#,
        ] {
            assert!(Filter::parse(&tree::parse(bad.as_bytes()).unwrap()).is_err(), "{bad}");
        }
    }
}
