//! Query-string values that must be given in full. A form decoder reads
//! `limit=` as if `limit` were left out; an API client that sends it has a
//! bug worth hearing about, so numbers and booleans refuse an empty value.
use std::str::FromStr;

use serde::{Deserialize, Deserializer};

/// An optional number or boolean: absent is `None`, empty is an error.
/// Use with `#[serde(default, deserialize_with = "ontask_app::query::strict")]`.
pub fn strict<'de, D, T>(d: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: FromStr,
    T::Err: std::fmt::Display,
{
    let raw = String::deserialize(d)?;
    if raw.is_empty() {
        return Err(serde::de::Error::custom("is empty: give a value or leave the parameter out"));
    }
    raw.parse().map(Some).map_err(|e| serde::de::Error::custom(format!("{raw:?}: {e}")))
}

/// A page size: `default` when left out; one outside `1..=max` is refused
/// (422 naming `limit`) rather than quietly clamped, so a client learns the
/// bound the document states.
pub fn limit(raw: Option<i64>, default: i64, max: i64) -> Result<i64, ontask_domain::ValidationErrors> {
    match raw {
        None => Ok(default),
        Some(n) if (1..=max).contains(&n) => Ok(n),
        Some(_) => Err(ontask_domain::ValidationErrors::single("limit", format!("must be between 1 and {max}"))),
    }
}
