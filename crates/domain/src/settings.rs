//! What every crate's settings are written in, so that each can read its own
//! section of the configuration file directly: a [`Secret`] that never prints,
//! and durations spelled in the unit their key names (`timeout_secs = 10`,
//! `session_ttl_hours = 168`), read and written as whole numbers of that unit.
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A value that must never be printed or logged: `Debug` and `Serialize`
/// (what `ontask config show` prints) both write `***`.
#[derive(Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// A list of secrets, or a single one: an environment variable holds
    /// `[a, b]` as a list and anything else as one string (empty: none).
    pub fn one_or_many<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Secret>, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum OneOrMany {
            One(Secret),
            Many(Vec<Secret>),
        }
        Ok(match OneOrMany::deserialize(d)? {
            OneOrMany::One(secret) if secret.0.is_empty() => Vec::new(),
            OneOrMany::One(secret) => vec![secret],
            OneOrMany::Many(secrets) => secrets,
        })
    }
}

impl From<String> for Secret {
    fn from(s: String) -> Self {
        Self(s)
    }
}

impl From<&str> for Secret {
    fn from(s: &str) -> Self {
        Self(s.to_owned())
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("\"***\"")
    }
}

impl Serialize for Secret {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str("***")
    }
}

/// `#[serde(with = "...")]` modules for a `Duration` kept as a whole number
/// of one unit.
pub mod units {
    macro_rules! unit {
        ($name:ident, $per_unit:expr, $what:literal) => {
            #[doc = concat!("A `Duration` as whole ", $what, ".")]
            pub mod $name {
                use std::time::Duration;

                use serde::{Deserialize, Deserializer, Serializer};

                const NANOS: u128 = $per_unit;

                pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
                    s.serialize_u64(u64::try_from(d.as_nanos() / NANOS).unwrap_or(u64::MAX))
                }

                pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
                    let nanos = u128::from(u64::deserialize(d)?) * NANOS;
                    let secs = u64::try_from(nanos / 1_000_000_000)
                        .map_err(|_| serde::de::Error::custom(concat!("is too many ", $what)))?;
                    Ok(Duration::new(secs, (nanos % 1_000_000_000) as u32))
                }
            }
        };
    }

    unit!(millis, 1_000_000, "milliseconds");
    unit!(secs, 1_000_000_000, "seconds");
    unit!(hours, 3_600 * 1_000_000_000, "hours");
    unit!(days, 86_400 * 1_000_000_000, "days");
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct Timings {
        #[serde(rename = "wait_ms", with = "units::millis")]
        wait: Duration,
        #[serde(rename = "keep_days", with = "units::days")]
        keep: Duration,
    }

    #[test]
    fn durations_keep_the_unit_their_key_names() {
        let t: Timings = serde_json::from_str(r#"{"wait_ms": 1500, "keep_days": 2}"#).expect("parses");
        assert_eq!(t, Timings { wait: Duration::from_millis(1500), keep: Duration::from_secs(2 * 86_400) });
        assert_eq!(serde_json::to_string(&t).expect("writes"), r#"{"wait_ms":1500,"keep_days":2}"#);
        let too_long = serde_json::from_str::<Timings>(&format!(r#"{{"wait_ms": 0, "keep_days": {}}}"#, u64::MAX));
        assert!(too_long.unwrap_err().to_string().contains("too many days"));
    }

    #[test]
    fn secrets_never_print() {
        let s = Secret::from("hunter2");
        assert_eq!(format!("{s:?}"), "\"***\"");
        assert_eq!(serde_json::to_string(&s).expect("writes"), "\"***\"");
        assert_eq!(s.expose(), "hunter2");
    }
}
