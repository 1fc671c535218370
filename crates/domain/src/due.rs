use chrono::{DateTime, Duration, LocalResult, NaiveDate, NaiveDateTime, NaiveTime, TimeZone, Utc};
use chrono_tz::Tz;
use thiserror::Error;

#[derive(Debug, Error, PartialEq, Eq)]
pub enum DueError {
    #[error(
        "expected a date (2026-11-24), an RFC 3339 instant (2026-11-24T09:00:00Z) or a local time \
         with its IANA zone (2026-11-24T09:00[Europe/Berlin]); got {0:?}"
    )]
    Format(String),
    #[error("unknown time zone {0:?} (use an IANA name such as Europe/Berlin)")]
    UnknownZone(String),
    #[error("{0} does not exist in {1} (skipped by a daylight-saving change)")]
    NonexistentLocalTime(NaiveDateTime, Tz),
    #[error("offset {offset} does not match zone {zone} at that time")]
    OffsetMismatch { offset: String, zone: Tz },
}

/// When a task is due: either an instant together with the IANA zone it was
/// given in (so "9:00 every Monday" stays 9:00 across daylight-saving changes), or
/// a whole day.
///
/// Textual form (RFC 9557 style): `2026-11-24`, `2026-11-24T09:00:00Z`,
/// `2026-11-24T09:00:00+01:00[Europe/Berlin]`, or `2026-11-24T09:00[Europe/Berlin]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Due {
    At { at: DateTime<Utc>, tz: Tz },
    Date(NaiveDate),
}

impl Due {
    pub fn at(at: DateTime<Utc>, tz: Tz) -> Self {
        Self::At { at, tz }
    }

    pub fn parse(raw: &str) -> Result<Self, DueError> {
        let s = raw.trim();
        let format_err = || DueError::Format(raw.to_owned());
        if let Ok(date) = NaiveDate::parse_from_str(s, "%Y-%m-%d") {
            return Ok(Self::Date(date));
        }
        let (time_part, zone) = match s.strip_suffix(']').and_then(|rest| rest.split_once('[')) {
            Some((time, zone)) => {
                let zone = zone.trim_start_matches('!');
                let tz: Tz = zone.parse().map_err(|_| DueError::UnknownZone(zone.to_owned()))?;
                (time, Some(tz))
            }
            None => (s, None),
        };
        if let Ok(instant) = DateTime::parse_from_rfc3339(time_part) {
            let at = instant.with_timezone(&Utc);
            return match zone {
                None => Ok(Self::At { at, tz: Tz::UTC }),
                Some(tz) => {
                    let offset_in_zone = at.with_timezone(&tz).naive_local() - at.naive_utc();
                    if offset_in_zone.num_seconds() != i64::from(instant.offset().local_minus_utc()) {
                        return Err(DueError::OffsetMismatch { offset: instant.offset().to_string(), zone: tz });
                    }
                    Ok(Self::At { at, tz })
                }
            };
        }
        let tz = zone.ok_or_else(format_err)?;
        let local = ["%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M"]
            .iter()
            .find_map(|f| NaiveDateTime::parse_from_str(time_part, f).ok())
            .ok_or_else(format_err)?;
        let at = resolve_local(local, tz)?;
        Ok(Self::At { at, tz })
    }

    /// The instant used to sort, filter and decide "overdue". A whole-day due
    /// counts until the end of that day (UTC), so it sorts after timed tasks of the
    /// same day.
    pub fn instant(&self) -> DateTime<Utc> {
        match self {
            Self::At { at, .. } => *at,
            Self::Date(date) => {
                let next = date.succ_opt().unwrap_or(*date);
                Utc.from_utc_datetime(&next.and_time(NaiveTime::MIN)) - Duration::milliseconds(1)
            }
        }
    }

    /// The instant that "15 minutes before due" counts back from. For a whole
    /// day that is 09:00 UTC on the day.
    pub fn reminder_anchor(&self) -> DateTime<Utc> {
        match self {
            Self::At { at, .. } => *at,
            Self::Date(date) => {
                Utc.from_utc_datetime(&date.and_time(NaiveTime::from_hms_opt(9, 0, 0).unwrap_or(NaiveTime::MIN)))
            }
        }
    }

    pub fn timezone(&self) -> Option<Tz> {
        match self {
            Self::At { tz, .. } => Some(*tz),
            Self::Date(_) => None,
        }
    }

    pub fn is_overdue(&self, now: DateTime<Utc>) -> bool {
        self.instant() < now
    }

    /// The same due on the day of `now`: a timed due keeps its wall-clock
    /// time in its zone (on a day that skips that time, the first instant
    /// after the gap); a whole day becomes `now`'s date (UTC).
    pub fn on_day_of(&self, now: DateTime<Utc>) -> Self {
        match self {
            Self::At { at, tz } => {
                let local = now.with_timezone(tz).date_naive().and_time(at.with_timezone(tz).time());
                let at = resolve_local(local, *tz)
                    .or_else(|_| resolve_local(local + Duration::hours(1), *tz))
                    .unwrap_or(now);
                Self::At { at, tz: *tz }
            }
            Self::Date(_) => Self::Date(now.date_naive()),
        }
    }
}

/// Resolves a wall-clock time in a zone: an ambiguous time (clocks going back)
/// takes the earlier instant; a skipped time (clocks going forward) is an error.
pub(crate) fn resolve_local(local: NaiveDateTime, tz: Tz) -> Result<DateTime<Utc>, DueError> {
    match tz.from_local_datetime(&local) {
        LocalResult::Single(t) => Ok(t.with_timezone(&Utc)),
        LocalResult::Ambiguous(earlier, _) => Ok(earlier.with_timezone(&Utc)),
        LocalResult::None => Err(DueError::NonexistentLocalTime(local, tz)),
    }
}

impl std::fmt::Display for Due {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Date(date) => write!(f, "{}", date.format("%Y-%m-%d")),
            Self::At { at, tz } if *tz == Tz::UTC => write!(f, "{}", at.format("%Y-%m-%dT%H:%M:%SZ")),
            Self::At { at, tz } => {
                write!(f, "{}[{}]", at.with_timezone(tz).format("%Y-%m-%dT%H:%M:%S%:z"), tz.name())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn parses_each_form() {
        assert_eq!(Due::parse("2026-11-24").unwrap(), Due::Date(NaiveDate::from_ymd_opt(2026, 11, 24).unwrap()));
        let utc = Due::parse("2026-11-24T09:00:00Z").unwrap();
        assert_eq!(utc.to_string(), "2026-11-24T09:00:00Z");
        let berlin = Due::parse("2026-11-24T09:00[Europe/Berlin]").unwrap();
        assert_eq!(berlin.instant(), Utc.with_ymd_and_hms(2026, 11, 24, 8, 0, 0).unwrap());
        assert_eq!(berlin.to_string(), "2026-11-24T09:00:00+01:00[Europe/Berlin]");
        assert_eq!(Due::parse(&berlin.to_string()).unwrap(), berlin);
        let offset_only = Due::parse("2026-11-24T09:00:00+01:00").unwrap();
        assert_eq!(offset_only.instant(), berlin.instant());
    }

    #[test]
    fn rejects_bad_input_with_reason() {
        assert!(matches!(Due::parse("tomorrow"), Err(DueError::Format(_))));
        assert!(matches!(Due::parse("2026-13-01"), Err(DueError::Format(_))));
        assert!(matches!(Due::parse("2026-11-24T09:00[Mars/Olympus]"), Err(DueError::UnknownZone(_))));
        assert!(matches!(Due::parse("2026-11-24T09:00"), Err(DueError::Format(_))), "a local time needs a zone");
        // 02:30 on the spring-forward night does not exist in Berlin.
        assert!(matches!(Due::parse("2026-03-29T02:30[Europe/Berlin]"), Err(DueError::NonexistentLocalTime(..))));
        assert!(matches!(Due::parse("2026-11-24T09:00:00+05:00[Europe/Berlin]"), Err(DueError::OffsetMismatch { .. })));
    }

    #[test]
    fn ambiguous_time_takes_the_earlier_instant() {
        // 02:30 happens twice when Berlin leaves summer time.
        let due = Due::parse("2026-10-25T02:30[Europe/Berlin]").unwrap();
        assert_eq!(due.instant(), Utc.with_ymd_and_hms(2026, 10, 25, 0, 30, 0).unwrap());
    }

    #[test]
    fn on_day_of_keeps_the_wall_clock_time_in_its_zone() {
        let berlin = Due::parse("2026-11-24T09:00[Europe/Berlin]").unwrap();
        // Late on the 2nd in UTC is already the 3rd in Berlin.
        let now = Utc.with_ymd_and_hms(2026, 12, 2, 23, 30, 0).unwrap();
        assert_eq!(berlin.on_day_of(now).to_string(), "2026-12-03T09:00:00+01:00[Europe/Berlin]");
        // Across a daylight-saving change the offset follows the day.
        let summer = Utc.with_ymd_and_hms(2026, 7, 1, 12, 0, 0).unwrap();
        assert_eq!(berlin.on_day_of(summer).to_string(), "2026-07-01T09:00:00+02:00[Europe/Berlin]");
        // 02:30 does not exist on the spring-forward night: the hour after.
        let gap = Due::parse("2026-03-01T02:30[Europe/Berlin]").unwrap();
        let spring = Utc.with_ymd_and_hms(2026, 3, 29, 12, 0, 0).unwrap();
        assert_eq!(gap.on_day_of(spring).to_string(), "2026-03-29T03:30:00+02:00[Europe/Berlin]");
        assert_eq!(Due::parse("2026-11-24").unwrap().on_day_of(now).to_string(), "2026-12-02");
    }

    #[test]
    fn whole_day_counts_until_its_end() {
        let due = Due::parse("2026-11-24").unwrap();
        assert!(!due.is_overdue(Utc.with_ymd_and_hms(2026, 11, 24, 23, 0, 0).unwrap()));
        assert!(due.is_overdue(Utc.with_ymd_and_hms(2026, 11, 25, 0, 0, 0).unwrap()));
    }

    proptest! {
        #[test]
        fn display_round_trips(secs in 946_684_800i64..4_102_444_800, zone in 0usize..chrono_tz::TZ_VARIANTS.len()) {
            let tz = chrono_tz::TZ_VARIANTS[zone];
            let at = DateTime::from_timestamp(secs, 0).unwrap();
            let due = Due::at(at, tz);
            prop_assert_eq!(Due::parse(&due.to_string()).unwrap(), due);
        }

        #[test]
        fn never_panics(s in "\\PC{0,64}") {
            let _ = Due::parse(&s);
        }
    }
}
