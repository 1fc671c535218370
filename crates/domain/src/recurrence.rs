use chrono::{DateTime, NaiveDate, NaiveTime, TimeZone, Utc};
use rrule::{RRule, RRuleSet, Unvalidated};
use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::Due;

/// Occurrences scanned when looking for the next one, so a rule whose occurrences
/// are all in the past (or that never matches) cannot loop for long.
const MAX_SCAN: usize = 10_000;

#[derive(Debug, Error, PartialEq, Eq)]
pub enum RecurrenceError {
    #[error("not a valid RFC 5545 RRULE ({0}); example: FREQ=WEEKLY;BYDAY=MO,WE")]
    Invalid(String),
    #[error("recurring more often than hourly is not supported")]
    TooFrequent,
    #[error(
        "COUNT cannot end a series that repeats from completion (each completion starts it anew); \
         use UNTIL to end it on a date"
    )]
    CountFromCompletion,
}

/// What the next occurrence of a series counts from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum RepeatFrom {
    /// A fixed schedule: the rule's occurrences from the series' first due
    /// ("every Monday").
    #[default]
    Due,
    /// From the day the task is completed ("every! 3 days" in Todoist: three
    /// days after it was done), at the due's time of day.
    Completion,
}

impl RepeatFrom {
    pub fn is_due(&self) -> bool {
        *self == Self::Due
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Due => "due",
            Self::Completion => "completion",
        }
    }

    pub fn parse(raw: &str) -> Result<Self, &'static str> {
        match raw.trim().to_ascii_lowercase().as_str() {
            "due" => Ok(Self::Due),
            "completion" => Ok(Self::Completion),
            _ => Err("must be due (a fixed schedule) or completion (counted from when it is done)"),
        }
    }
}

/// How a task repeats: an RFC 5545 RRULE (`FREQ=MONTHLY;BYMONTHDAY=1`), kept in its
/// canonical text form, and what its occurrences count from. A fixed schedule
/// is anchored at the due of the task it was first set on, so `COUNT` and
/// `UNTIL` hold across occurrences; a series repeating from completion starts
/// anew at each completion, so only `UNTIL` can end it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recurrence {
    rule: String,
    from: RepeatFrom,
}

impl Recurrence {
    pub fn parse(raw: &str) -> Result<Self, RecurrenceError> {
        let body = raw.trim();
        let body = body.strip_prefix("RRULE:").unwrap_or(body);
        let rule: RRule<Unvalidated> =
            body.parse().map_err(|e: rrule::RRuleError| RecurrenceError::Invalid(e.to_string()))?;
        if rule.get_interval() == 0 {
            return Err(RecurrenceError::Invalid("INTERVAL must be at least 1".into()));
        }
        if matches!(rule.get_freq(), rrule::Frequency::Minutely | rrule::Frequency::Secondly) {
            return Err(RecurrenceError::TooFrequent);
        }
        // Validate against a fixed start; the real start is the task's due.
        let probe = rrule::Tz::UTC
            .with_ymd_and_hms(2026, 1, 1, 9, 0, 0)
            .single()
            .ok_or_else(|| RecurrenceError::Invalid("probe".into()))?;
        // Keep the rule as written (canonicalised): validating fills in BYHOUR etc.
        // from the start, which would pin the probe's time of day into the rule.
        let canonical = rule.to_string();
        rule.validate(probe).map_err(|e| RecurrenceError::Invalid(e.to_string()))?;
        Ok(Self { rule: canonical, from: RepeatFrom::Due })
    }

    /// The same rule, counted from `from`.
    pub fn repeating_from(self, from: RepeatFrom) -> Result<Self, RecurrenceError> {
        if from == RepeatFrom::Completion && self.count().is_some() {
            return Err(RecurrenceError::CountFromCompletion);
        }
        Ok(Self { from, ..self })
    }

    /// The rule (RRULE value), without what it counts from.
    pub fn as_str(&self) -> &str {
        &self.rule
    }

    pub fn repeat_from(&self) -> RepeatFrom {
        self.from
    }

    fn count(&self) -> Option<u32> {
        self.rule.parse::<RRule<Unvalidated>>().ok()?.get_count()
    }

    /// The due of the occurrence after one due `due` (`None` for a task
    /// without a due) in a series anchored at `anchor`, for an occurrence
    /// completed or skipped at `now`; and the anchor the series goes on with.
    /// `None` when the series is over.
    pub fn following(&self, due: Option<Due>, anchor: Option<Due>, now: DateTime<Utc>) -> Option<(Due, Due)> {
        match (due, self.from) {
            (None, _) => {
                let next = self.next_due_from(now)?;
                Some((next, next))
            }
            (Some(due), RepeatFrom::Due) => {
                let anchor = anchor.unwrap_or(due);
                Some((self.next_due(&anchor, &due, now)?, anchor))
            }
            (Some(due), RepeatFrom::Completion) => {
                // The series starts again on the day it was done, at the due's time.
                let today = due.on_day_of(now);
                let next = self.next_due(&today, &today, now)?;
                Some((next, next))
            }
        }
    }

    /// The due of the next occurrence of a series anchored at `anchor` (the
    /// due the series started from): the first one after `current` and after
    /// `now`. A series completed (or skipped) late so goes on from today
    /// instead of with occurrences that are already overdue; the ones it
    /// passes over still count toward `COUNT`. A whole-day series compares
    /// calendar days (today is `now`'s date in UTC). `None` when the series is over.
    pub fn next_due(&self, anchor: &Due, current: &Due, now: DateTime<Utc>) -> Option<Due> {
        let midnight = |d: NaiveDate| rrule::Tz::UTC.from_utc_datetime(&d.and_time(NaiveTime::MIN));
        let (start, after) = match anchor {
            Due::At { at, tz } => {
                let tz = rrule::Tz::Tz(*tz);
                (at.with_timezone(&tz), current.instant().max(now).with_timezone(&tz))
            }
            Due::Date(date) => {
                let current_day = match current {
                    Due::Date(d) => *d,
                    Due::At { at, .. } => at.date_naive(),
                };
                (midnight(*date), midnight(current_day.max(now.date_naive())))
            }
        };
        let rule: RRule<Unvalidated> = self.rule.parse().ok()?;
        let set: RRuleSet = rule.build(start).ok()?;
        let next = set.into_iter().take(MAX_SCAN).find(|occurrence| *occurrence > after)?;
        Some(match anchor {
            Due::At { tz, .. } => Due::At { at: next.with_timezone(&Utc), tz: *tz },
            Due::Date(_) => Due::Date(next.date_naive()),
        })
    }

    /// The next due for a task without a due date: the first occurrence after
    /// `now`, counted from `now`.
    pub fn next_due_from(&self, now: DateTime<Utc>) -> Option<Due> {
        let anchor = Due::At { at: now, tz: chrono_tz::Tz::UTC };
        self.next_due(&anchor, &anchor, now)
    }
}

impl std::fmt::Display for Recurrence {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.rule)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn due(s: &str) -> Due {
        Due::parse(s).unwrap()
    }

    #[test]
    fn parses_and_canonicalises() {
        let r = Recurrence::parse("RRULE:freq=weekly;byday=MO,WE").unwrap();
        assert!(r.as_str().contains("FREQ=WEEKLY"), "{}", r.as_str());
        assert_eq!(Recurrence::parse(r.as_str()).unwrap(), r);
    }

    #[test]
    fn rejects_invalid_rules() {
        assert!(matches!(Recurrence::parse("every day"), Err(RecurrenceError::Invalid(_))));
        assert!(matches!(Recurrence::parse("FREQ=DAILY;INTERVAL=0"), Err(RecurrenceError::Invalid(_))));
        assert!(matches!(Recurrence::parse("FREQ=DAILY;BYMONTH=13"), Err(RecurrenceError::Invalid(_))));
        assert_eq!(Recurrence::parse("FREQ=MINUTELY"), Err(RecurrenceError::TooFrequent));
    }

    #[test]
    fn monthly_keeps_wall_clock_time_across_dst() {
        let r = Recurrence::parse("FREQ=MONTHLY").unwrap();
        let first = due("2026-03-01T09:00[Europe/Berlin]");
        let next = r.next_due(&first, &first, first.instant()).unwrap();
        assert_eq!(next.to_string(), "2026-04-01T09:00:00+02:00[Europe/Berlin]");
    }

    #[test]
    fn whole_day_series_stays_whole_day() {
        let r = Recurrence::parse("FREQ=WEEKLY;BYDAY=MO").unwrap();
        let first = due("2026-11-23");
        assert_eq!(r.next_due(&first, &first, first.instant()), Some(due("2026-11-30")));
    }

    #[test]
    fn count_ends_the_series() {
        let r = Recurrence::parse("FREQ=DAILY;COUNT=2").unwrap();
        let anchor = due("2026-11-23T09:00:00Z");
        let second = r.next_due(&anchor, &anchor, anchor.instant()).unwrap();
        assert_eq!(second, due("2026-11-24T09:00:00Z"));
        assert_eq!(r.next_due(&anchor, &second, second.instant()), None);
    }

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn a_series_completed_late_goes_on_after_now_not_with_overdue_occurrences() {
        let daily = Recurrence::parse("FREQ=DAILY").unwrap();
        let first = due("2026-11-01T09:00[Europe/Berlin]");
        // Done on the 20th at 10:00 Berlin: today's 09:00 is gone, so tomorrow's.
        let late = daily.next_due(&first, &first, at("2026-11-20T09:00:00Z")).unwrap();
        assert_eq!(late.to_string(), "2026-11-21T09:00:00+01:00[Europe/Berlin]");
        // Done at 07:00 Berlin: today's 09:00 is still ahead.
        let early = daily.next_due(&first, &first, at("2026-11-20T06:00:00Z")).unwrap();
        assert_eq!(early.to_string(), "2026-11-20T09:00:00+01:00[Europe/Berlin]");
        // Done before it was due: the next after the due, as ever.
        let ahead = daily.next_due(&first, &first, at("2026-10-30T12:00:00Z")).unwrap();
        assert_eq!(ahead.to_string(), "2026-11-02T09:00:00+01:00[Europe/Berlin]");

        let mondays = Recurrence::parse("FREQ=WEEKLY;BYDAY=MO").unwrap();
        let monday = due("2026-11-02");
        assert_eq!(mondays.next_due(&monday, &monday, at("2026-11-25T15:00:00Z")), Some(due("2026-11-30")));
        // Done on a Monday: the next Monday, not today.
        assert_eq!(mondays.next_due(&monday, &monday, at("2026-11-30T08:00:00Z")), Some(due("2026-12-07")));

        // The occurrences passed over count: three days, all gone, end the series.
        let three = Recurrence::parse("FREQ=DAILY;COUNT=3").unwrap();
        assert_eq!(three.next_due(&first, &first, at("2026-11-20T09:00:00Z")), None);
    }

    #[test]
    fn a_series_repeating_from_completion_counts_from_the_day_it_was_done() {
        let every_three_days =
            Recurrence::parse("FREQ=DAILY;INTERVAL=3").unwrap().repeating_from(RepeatFrom::Completion).unwrap();
        let due_at = due("2026-11-20T09:00[Europe/Berlin]");
        // Done two days late, in the evening: three days after that day, at 09:00.
        let (next, anchor) =
            every_three_days.following(Some(due_at), Some(due_at), at("2026-11-22T19:00:00Z")).unwrap();
        assert_eq!(next.to_string(), "2026-11-25T09:00:00+01:00[Europe/Berlin]");
        assert_eq!(anchor, next, "the series starts anew");
        // Done a day early: still three days after the day it was done.
        let (early, _) = every_three_days.following(Some(due_at), None, at("2026-11-19T07:00:00Z")).unwrap();
        assert_eq!(early.to_string(), "2026-11-22T09:00:00+01:00[Europe/Berlin]");
        // On a fixed schedule the same completion keeps to the grid of the 20th.
        let fixed = Recurrence::parse("FREQ=DAILY;INTERVAL=3").unwrap();
        let (grid, _) = fixed.following(Some(due_at), Some(due_at), at("2026-11-22T19:00:00Z")).unwrap();
        assert_eq!(grid.to_string(), "2026-11-23T09:00:00+01:00[Europe/Berlin]");

        let weekly = Recurrence::parse("FREQ=WEEKLY").unwrap().repeating_from(RepeatFrom::Completion).unwrap();
        let (day, _) = weekly.following(Some(due("2026-11-02")), None, at("2026-11-12T10:00:00Z")).unwrap();
        assert_eq!(day, due("2026-11-19"));
    }

    #[test]
    fn until_still_ends_a_series_repeating_from_completion_and_count_is_refused() {
        let until = Recurrence::parse("FREQ=DAILY;UNTIL=20261125T000000Z")
            .unwrap()
            .repeating_from(RepeatFrom::Completion)
            .unwrap();
        let d = due("2026-11-20T09:00:00Z");
        assert!(until.following(Some(d), None, at("2026-11-23T10:00:00Z")).is_some());
        assert_eq!(until.following(Some(d), None, at("2026-11-24T10:00:00Z")), None);
        let count = Recurrence::parse("FREQ=DAILY;COUNT=3").unwrap();
        assert_eq!(count.repeating_from(RepeatFrom::Completion), Err(RecurrenceError::CountFromCompletion));
    }

    proptest! {
        #[test]
        fn next_is_strictly_later(days in 0i64..3_000, interval in 1u16..30) {
            let r = Recurrence::parse(&format!("FREQ=DAILY;INTERVAL={interval}")).unwrap();
            let anchor = due("2026-01-01T09:00[America/New_York]");
            let current = Due::at(anchor.instant() + chrono::Duration::days(days), chrono_tz::America::New_York);
            let next = r.next_due(&anchor, &current, anchor.instant()).unwrap();
            prop_assert!(next.instant() > current.instant());
        }

        #[test]
        fn never_panics(s in "\\PC{0,64}") {
            let _ = Recurrence::parse(&s);
        }
    }
}
