//! ontask's five priorities and RFC 5545's `PRIORITY` (section 3.8.1.9):
//! 0 is undefined, 1 the highest, 9 the lowest; 1-4 are "high", 5 "medium"
//! and 6-9 "low" in the CUA sense the RFC names.
//!
//! | ontask | written | read from |
//! |---|---|---|
//! | urgent | 1 | 1, 2 |
//! | high | 3 | 3, 4 |
//! | medium | 5 | 5 |
//! | low | 7 | 6..9 |
//! | none | (no property) | 0 or none |
use ontask_domain::Priority;

/// The `PRIORITY` value for a priority; `None` for no priority (the
/// property is left out, which RFC 5545 reads as 0, undefined).
pub fn to_ical(p: Priority) -> Option<u8> {
    match p {
        Priority::None => None,
        Priority::Urgent => Some(1),
        Priority::High => Some(3),
        Priority::Medium => Some(5),
        Priority::Low => Some(7),
    }
}

/// The priority a `PRIORITY` value stands for; `None` when it is outside 0..9.
pub fn from_ical(value: u8) -> Option<Priority> {
    Some(match value {
        0 => Priority::None,
        1 | 2 => Priority::Urgent,
        3 | 4 => Priority::High,
        5 => Priority::Medium,
        6..=9 => Priority::Low,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_priority_round_trips() {
        for p in Priority::ALL {
            assert_eq!(from_ical(to_ical(p).unwrap_or(0)), Some(p));
        }
        assert_eq!(from_ical(10), None);
    }
}
