use chrono::{DateTime, Duration, Utc};
use thiserror::Error;

use crate::Due;

pub const MAX_REMINDERS: usize = 10;
const MAX_OFFSET: Duration = Duration::days(366);

#[derive(Debug, Error, PartialEq, Eq)]
pub enum ReminderError {
    #[error(
        "expected an RFC 3339 instant (2026-11-24T08:00:00Z) or a duration before due \
         (PT15M, P1D, 15m, 2h, 1d); got {0:?}"
    )]
    Format(String),
    #[error("a reminder offset must be between 0 and 366 days (got {0:?})")]
    OutOfRange(String),
}

/// A reminder: at a fixed instant, or a span of time before the task is due.
///
/// Textual form: an RFC 3339 instant, or an ISO 8601 duration (`PT15M`, `P1DT2H`,
/// `P1W`) meaning "that long before due". The short forms `15m`, `2h`, `1d`, `1w`
/// are accepted too and stored as ISO 8601.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Reminder {
    At(DateTime<Utc>),
    BeforeDue(Duration),
}

impl Reminder {
    pub fn parse(raw: &str) -> Result<Self, ReminderError> {
        let s = raw.trim();
        if let Ok(at) = DateTime::parse_from_rfc3339(s) {
            return Ok(Self::At(at.with_timezone(&Utc)));
        }
        let offset = parse_iso_duration(s)
            .or_else(|| parse_short_duration(s))
            .ok_or_else(|| ReminderError::Format(raw.to_owned()))?;
        if offset < Duration::zero() || offset > MAX_OFFSET {
            return Err(ReminderError::OutOfRange(raw.to_owned()));
        }
        Ok(Self::BeforeDue(offset))
    }

    /// When this reminder fires for a task with the given due, if it can fire at all
    /// (an offset reminder needs a due).
    pub fn fire_at(&self, due: Option<&Due>) -> Option<DateTime<Utc>> {
        match self {
            Self::At(at) => Some(*at),
            Self::BeforeDue(offset) => due.map(|d| d.reminder_anchor() - *offset),
        }
    }

    pub fn is_relative(&self) -> bool {
        matches!(self, Self::BeforeDue(_))
    }
}

impl std::fmt::Display for Reminder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::At(at) => write!(f, "{}", at.format("%Y-%m-%dT%H:%M:%SZ")),
            Self::BeforeDue(offset) => f.write_str(&format_iso_duration(*offset)),
        }
    }
}

/// `PnW` or `PnDTnHnMnS` (no years or months: their length depends on the date).
fn parse_iso_duration(s: &str) -> Option<Duration> {
    let rest = s.strip_prefix('P').or_else(|| s.strip_prefix('p'))?;
    if rest.is_empty() {
        return None;
    }
    let (date, time) = match rest.split_once(['T', 't']) {
        Some((d, t)) if !t.is_empty() => (d, Some(t)),
        Some(_) => return None,
        None => (rest, None),
    };
    let mut total = Duration::zero();
    total += parse_units(date, &[('W', 7 * 86_400), ('D', 86_400)])?;
    if let Some(time) = time {
        total += parse_units(time, &[('H', 3_600), ('M', 60), ('S', 1)])?;
    }
    Some(total)
}

/// Reads `<number><unit>` pairs in the order the units are given.
fn parse_units(mut s: &str, units: &[(char, i64)]) -> Option<Duration> {
    let mut total = Duration::zero();
    let mut next_unit = 0;
    while !s.is_empty() {
        let digits = s.find(|c: char| !c.is_ascii_digit())?;
        if digits == 0 {
            return None;
        }
        let value: i64 = s[..digits].parse().ok()?;
        let unit = s[digits..].chars().next()?.to_ascii_uppercase();
        let position = units.iter().skip(next_unit).position(|(u, _)| *u == unit)? + next_unit;
        total += Duration::seconds(value.checked_mul(units[position].1)?);
        next_unit = position + 1;
        s = &s[digits + 1..];
    }
    Some(total)
}

fn parse_short_duration(s: &str) -> Option<Duration> {
    let s = s.trim_end_matches(" before").trim();
    let unit = s.chars().last()?;
    let value: i64 = s[..s.len() - unit.len_utf8()].trim().parse().ok()?;
    let seconds = match unit.to_ascii_lowercase() {
        'm' => 60,
        'h' => 3_600,
        'd' => 86_400,
        'w' => 7 * 86_400,
        _ => return None,
    };
    Some(Duration::seconds(value.checked_mul(seconds)?))
}

fn format_iso_duration(d: Duration) -> String {
    let mut secs = d.num_seconds();
    if secs == 0 {
        return "PT0S".into();
    }
    let days = secs / 86_400;
    secs %= 86_400;
    let (h, m, s) = (secs / 3_600, (secs % 3_600) / 60, secs % 60);
    let mut out = String::from("P");
    if days > 0 {
        out.push_str(&format!("{days}D"));
    }
    if h + m + s > 0 {
        out.push('T');
        for (value, unit) in [(h, 'H'), (m, 'M'), (s, 'S')] {
            if value > 0 {
                out.push_str(&format!("{value}{unit}"));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn parses_offsets_and_instants() {
        assert_eq!(Reminder::parse("PT15M"), Ok(Reminder::BeforeDue(Duration::minutes(15))));
        assert_eq!(Reminder::parse("P1DT2H"), Ok(Reminder::BeforeDue(Duration::hours(26))));
        assert_eq!(Reminder::parse("P1W"), Ok(Reminder::BeforeDue(Duration::days(7))));
        assert_eq!(Reminder::parse("15m"), Ok(Reminder::BeforeDue(Duration::minutes(15))));
        assert_eq!(Reminder::parse("2h before"), Ok(Reminder::BeforeDue(Duration::hours(2))));
        assert!(matches!(Reminder::parse("2026-11-24T08:00:00Z"), Ok(Reminder::At(_))));
        assert_eq!(Reminder::parse("P1DT2H").unwrap().to_string(), "P1DT2H");
    }

    #[test]
    fn rejects_nonsense() {
        for bad in ["", "P", "PT", "P1M", "PT15", "15x", "soon", "P2D1W", "PT1S1M"] {
            assert!(matches!(Reminder::parse(bad), Err(ReminderError::Format(_))), "{bad}");
        }
        assert!(matches!(Reminder::parse("P400D"), Err(ReminderError::OutOfRange(_))));
        assert!(matches!(Reminder::parse("-5m"), Err(ReminderError::OutOfRange(_))));
    }

    #[test]
    fn offset_counts_back_from_due() {
        let due = Due::parse("2026-11-24T09:00:00Z").unwrap();
        let r = Reminder::parse("PT15M").unwrap();
        assert_eq!(r.fire_at(Some(&due)).unwrap().to_rfc3339(), "2026-11-24T08:45:00+00:00");
        assert_eq!(r.fire_at(None), None);
    }

    proptest! {
        #[test]
        fn iso_form_round_trips(secs in 0i64..(366 * 86_400)) {
            let r = Reminder::BeforeDue(Duration::seconds(secs));
            prop_assert_eq!(Reminder::parse(&r.to_string()).unwrap(), r);
        }

        #[test]
        fn never_panics(s in "\\PC{0,32}") {
            let _ = Reminder::parse(&s);
        }
    }
}
