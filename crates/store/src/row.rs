//! A row of either driver, read by column name. A decoder takes a `&dyn Row`,
//! so a row read through sqlx (`AnyRow`) and one read on a SQLite read
//! connection of our own (`rusqlite::Row`, see `readers`) go through the same
//! code.
use sqlx::Row as _;
use sqlx::any::AnyRow;

use crate::Result;

pub(crate) trait Row {
    fn text(&self, column: &str) -> Result<String>;
    fn maybe_text(&self, column: &str) -> Result<Option<String>>;
    fn int(&self, column: &str) -> Result<i64>;
    fn maybe_int(&self, column: &str) -> Result<Option<i64>>;
}

impl Row for AnyRow {
    fn text(&self, column: &str) -> Result<String> {
        Ok(self.try_get(column)?)
    }

    fn maybe_text(&self, column: &str) -> Result<Option<String>> {
        Ok(self.try_get(column)?)
    }

    fn int(&self, column: &str) -> Result<i64> {
        Ok(self.try_get(column)?)
    }

    fn maybe_int(&self, column: &str) -> Result<Option<i64>> {
        Ok(self.try_get(column)?)
    }
}

impl Row for rusqlite::Row<'_> {
    fn text(&self, column: &str) -> Result<String> {
        Ok(self.get(column)?)
    }

    fn maybe_text(&self, column: &str) -> Result<Option<String>> {
        Ok(self.get(column)?)
    }

    fn int(&self, column: &str) -> Result<i64> {
        Ok(self.get(column)?)
    }

    fn maybe_int(&self, column: &str) -> Result<Option<i64>> {
        Ok(self.get(column)?)
    }
}
