//! Instants serialized as RFC 3339 in UTC, exactly as chrono's own
//! `Serialize` writes them (`2026-11-24T09:00:00.123Z`: no fraction, or 3, 6
//! or 9 digits, as the instant needs), but through chrono's RFC 3339 writer
//! instead of its `Debug` formatting: on a page of 50 tasks chrono's
//! `Serialize` took half of the serialization's instructions (callgrind).
//! For the types written on hot paths (a listed task, an event's snapshot);
//! reading back is chrono's own `Deserialize`.
use chrono::{DateTime, SecondsFormat, Utc};
use serde::Serializer;

pub fn serialize<S: Serializer>(instant: &DateTime<Utc>, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(&instant.to_rfc3339_opts(SecondsFormat::AutoSi, true))
}

/// [`serialize`] for an optional instant; `None` is `null`.
pub fn option<S: Serializer>(instant: &Option<DateTime<Utc>>, serializer: S) -> Result<S::Ok, S::Error> {
    match instant {
        Some(instant) => serialize(instant, serializer),
        None => serializer.serialize_none(),
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;
    use serde::Serialize;

    use super::*;

    #[derive(Serialize)]
    struct Ours(#[serde(serialize_with = "serialize")] DateTime<Utc>);

    #[derive(Serialize)]
    struct Optional(#[serde(serialize_with = "option")] Option<DateTime<Utc>>);

    #[test]
    fn writes_what_chrono_writes_for_every_precision() {
        let second = Utc.with_ymd_and_hms(2026, 11, 24, 9, 0, 5).unwrap();
        for nanos in [0, 123_000_000, 123_456_000, 123_456_789, 1_000_000, 7] {
            let instant = second + chrono::Duration::nanoseconds(nanos);
            let ours = serde_json::to_string(&Ours(instant)).unwrap();
            assert_eq!(ours, serde_json::to_string(&instant).unwrap(), "{nanos} ns");
            let back: DateTime<Utc> = serde_json::from_str(&ours).unwrap();
            assert_eq!(back, instant);
        }
        assert_eq!(serde_json::to_string(&Ours(second)).unwrap(), "\"2026-11-24T09:00:05Z\"");
        assert_eq!(serde_json::to_string(&Optional(None)).unwrap(), "null");
        assert_eq!(serde_json::to_string(&Optional(Some(second))).unwrap(), "\"2026-11-24T09:00:05Z\"");
    }
}
