//! `VTIMEZONE` definitions (RFC 5545 section 3.6.5) built from the tz
//! database chrono-tz carries, so that a program reading a `DUE;TZID=...`
//! resolves the same instant ontask means, on either side of a DST change,
//! even when it does not know the zone's name.
//!
//! Each definition lists the zone's real transitions over a span of years
//! (one observance per transition, no RRULE: the tz database's rules change
//! over time, a list of instants does not), headed by the observance in force
//! at the start of the span.
use chrono::{DateTime, Duration, NaiveDate, Offset, TimeZone, Utc};
use chrono_tz::{OffsetComponents, OffsetName, Tz};
use icalendar::parser::Component;

use crate::text::{component, prop};

/// A change of a zone's offset from UTC.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transition {
    /// The first instant of the new offset.
    pub at: DateTime<Utc>,
    /// Seconds east of UTC before and after.
    pub from: i32,
    pub to: i32,
    /// Whether the new offset is daylight saving time.
    pub dst: bool,
    /// The abbreviation after the change (`CEST`), when the tz database has one.
    pub name: Option<String>,
}

fn offset_at(tz: Tz, at: DateTime<Utc>) -> i32 {
    tz.offset_from_utc_datetime(&at.naive_utc()).fix().local_minus_utc()
}

fn observance_at(tz: Tz, at: DateTime<Utc>) -> (bool, Option<String>) {
    let offset = tz.offset_from_utc_datetime(&at.naive_utc());
    let name = offset.abbreviation().filter(|n| !n.starts_with(['+', '-'])).map(str::to_owned);
    (offset.dst_offset() != chrono::TimeDelta::zero(), name)
}

/// The zone's transitions from the start of `from_year` to the end of `to_year`.
pub fn transitions(tz: Tz, from_year: i32, to_year: i32) -> Vec<Transition> {
    let (Some(start), Some(end)) = (year_start(from_year), year_start(to_year.saturating_add(1))) else {
        return Vec::new();
    };
    let mut found = Vec::new();
    let mut day = start;
    // A zone changes its offset at most once a day; a day is scanned whole
    // and the change found to the second by halving.
    while day < end {
        let next = day + Duration::days(1);
        let (before, after) = (offset_at(tz, day), offset_at(tz, next));
        if before != after {
            let (mut lo, mut hi) = (day.timestamp(), next.timestamp());
            while hi - lo > 1 {
                let mid = lo + (hi - lo) / 2;
                let at = DateTime::from_timestamp(mid, 0).unwrap_or(day);
                if offset_at(tz, at) == before { lo = mid } else { hi = mid }
            }
            let hi = DateTime::from_timestamp(hi, 0).unwrap_or(next);
            let (dst, name) = observance_at(tz, hi);
            found.push(Transition { at: hi, from: before, to: after, dst, name });
        }
        day = next;
    }
    found
}

fn year_start(year: i32) -> Option<DateTime<Utc>> {
    Some(NaiveDate::from_ymd_opt(year, 1, 1)?.and_hms_opt(0, 0, 0)?.and_utc())
}

/// `+0100`, `-0930`, `+053728` (seconds only when there are some).
fn utc_offset(seconds: i32) -> String {
    let sign = if seconds < 0 { '-' } else { '+' };
    let s = seconds.unsigned_abs();
    let (h, m, rest) = (s / 3600, (s % 3600) / 60, s % 60);
    if rest == 0 { format!("{sign}{h:02}{m:02}") } else { format!("{sign}{h:02}{m:02}{rest:02}") }
}

fn observance(dst: bool, local_start: DateTime<Utc>, from: i32, to: i32, name: Option<&str>) -> Component<'static> {
    let mut c = component(if dst { "DAYLIGHT" } else { "STANDARD" });
    // DTSTART of an observance is the local time in the offset before it.
    c.properties.push(prop("DTSTART", local_start.format("%Y%m%dT%H%M%S").to_string()));
    c.properties.push(prop("TZOFFSETFROM", utc_offset(from)));
    c.properties.push(prop("TZOFFSETTO", utc_offset(to)));
    if let Some(name) = name {
        c.properties.push(prop("TZNAME", crate::text::escape(name)));
    }
    c
}

/// The `VTIMEZONE` of `tz` covering `from_year..=to_year`.
pub fn vtimezone(tz: Tz, from_year: i32, to_year: i32) -> Component<'static> {
    let mut zone = component("VTIMEZONE");
    zone.properties.push(prop("TZID", crate::text::escape(tz.name())));
    let start = year_start(from_year).unwrap_or(DateTime::UNIX_EPOCH);
    let first = offset_at(tz, start);
    let (dst, name) = observance_at(tz, start);
    zone.components.push(observance(dst, start + Duration::seconds(first.into()), first, first, name.as_deref()));
    for t in transitions(tz, from_year, to_year) {
        let local = t.at + Duration::seconds(t.from.into());
        zone.components.push(observance(t.dst, local, t.from, t.to, t.name.as_deref()));
    }
    zone
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn berlin_changes_twice_a_year_at_one_utc() {
        let found = transitions(chrono_tz::Europe::Berlin, 2026, 2026);
        assert_eq!(found.len(), 2, "{found:?}");
        assert_eq!(found[0].at, Utc.with_ymd_and_hms(2026, 3, 29, 1, 0, 0).unwrap());
        assert_eq!((found[0].from, found[0].to, found[0].dst), (3600, 7200, true));
        assert_eq!(found[0].name.as_deref(), Some("CEST"));
        assert_eq!(found[1].at, Utc.with_ymd_and_hms(2026, 10, 25, 1, 0, 0).unwrap());
        assert!(!found[1].dst);
    }

    #[test]
    fn a_zone_without_dst_has_one_observance() {
        let zone = vtimezone(chrono_tz::Asia::Kolkata, 2026, 2027);
        assert_eq!(zone.components.len(), 1);
        assert_eq!(utc_offset(19800), "+0530");
        assert_eq!(utc_offset(-3600), "-0100");
    }
}
