//! A row of either driver, read by column name. A decoder takes a `&dyn Row`,
//! so a row read through sqlx (`AnyRow`) and one read on a SQLite read
//! connection of our own ([`SqliteRow`], see `readers`) go through the same
//! code.
use std::cell::Cell;

use rusqlite::types::{Type, ValueRef};
use sqlx::Row as _;
use sqlx::any::AnyRow;

use crate::Result;

pub(crate) trait Row {
    fn text(&self, column: &str) -> Result<String>;
    fn maybe_text(&self, column: &str) -> Result<Option<String>>;
    /// The text as the row holds it, for a value that is parsed, not kept
    /// (ids, statuses, JSON arrays): no copy into a `String`.
    fn text_ref(&self, column: &str) -> Result<&str>;
    fn maybe_text_ref(&self, column: &str) -> Result<Option<&str>>;
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

    fn text_ref(&self, column: &str) -> Result<&str> {
        Ok(self.try_get(column)?)
    }

    fn maybe_text_ref(&self, column: &str) -> Result<Option<&str>> {
        Ok(self.try_get(column)?)
    }

    fn int(&self, column: &str) -> Result<i64> {
        Ok(self.try_get(column)?)
    }

    fn maybe_int(&self, column: &str) -> Result<Option<i64>> {
        Ok(self.try_get(column)?)
    }
}

/// A statement's column names, read once for all its rows.
pub(crate) struct Columns {
    names: Vec<String>,
    /// Whether the name at this position is its first occurrence: a name
    /// that repeats (a join's two `id`s) means the first one, as in rusqlite.
    first: Vec<bool>,
}

impl Columns {
    pub fn of(statement: &rusqlite::Statement<'_>) -> Self {
        let names: Vec<String> = statement.column_names().into_iter().map(str::to_owned).collect();
        let first = names
            .iter()
            .enumerate()
            .map(|(i, name)| !names[..i].iter().any(|earlier| earlier.eq_ignore_ascii_case(name)))
            .collect();
        Self { names, first }
    }
}

/// A row on one of our own SQLite read connections. rusqlite's `get` by name
/// asks SQLite for every column's name and compares it without case on each
/// call: for a page of 50 tasks of 23 columns that was 40% of the request's
/// instructions (callgrind). Decoders read columns in the order they are
/// selected, so the column after the one read last is tried first.
pub(crate) struct SqliteRow<'r, 's> {
    row: &'r rusqlite::Row<'s>,
    columns: &'r Columns,
    next: Cell<usize>,
}

impl<'r, 's> SqliteRow<'r, 's> {
    pub fn new(row: &'r rusqlite::Row<'s>, columns: &'r Columns) -> Self {
        Self { row, columns, next: Cell::new(0) }
    }

    fn index(&self, column: &str) -> Result<usize> {
        let next = self.next.get();
        let Columns { names, first } = self.columns;
        // SQLite names a column as the query wrote it, as decoders do: an
        // exact comparison first, the case-blind one (as rusqlite's) after.
        if names.get(next).is_some_and(|name| name == column) && first[next] {
            return Ok(next);
        }
        Ok(names
            .iter()
            .position(|name| name.eq_ignore_ascii_case(column))
            .ok_or_else(|| rusqlite::Error::InvalidColumnName(column.to_owned()))?)
    }

    /// The position of `column`, remembered so the next lookup tries the one after.
    fn seek(&self, column: &str) -> Result<usize> {
        let index = self.index(column)?;
        self.next.set(index + 1);
        Ok(index)
    }

    fn get<T: rusqlite::types::FromSql>(&self, column: &str) -> Result<T> {
        Ok(self.row.get(self.seek(column)?)?)
    }

    /// The value of `column` as SQLite holds it (valid until the row steps on).
    fn value(&self, column: &str) -> Result<(usize, ValueRef<'_>)> {
        let index = self.seek(column)?;
        Ok((index, self.row.get_ref(index)?))
    }
}

/// Text in SQLite's buffer, checked as UTF-8 as rusqlite's `String` is; any
/// other type is the error rusqlite's `get` gives.
fn borrowed_text<'v>(index: usize, column: &str, value: ValueRef<'v>) -> Result<&'v str> {
    match value {
        ValueRef::Text(bytes) => Ok(std::str::from_utf8(bytes)
            .map_err(|e| rusqlite::Error::FromSqlConversionFailure(index, Type::Text, Box::new(e)))?),
        other => Err(rusqlite::Error::InvalidColumnType(index, column.to_owned(), other.data_type()).into()),
    }
}

impl Row for SqliteRow<'_, '_> {
    fn text(&self, column: &str) -> Result<String> {
        self.get(column)
    }

    fn maybe_text(&self, column: &str) -> Result<Option<String>> {
        self.get(column)
    }

    fn text_ref(&self, column: &str) -> Result<&str> {
        let (index, value) = self.value(column)?;
        borrowed_text(index, column, value)
    }

    fn maybe_text_ref(&self, column: &str) -> Result<Option<&str>> {
        match self.value(column)? {
            (_, ValueRef::Null) => Ok(None),
            (index, value) => borrowed_text(index, column, value).map(Some),
        }
    }

    fn int(&self, column: &str) -> Result<i64> {
        self.get(column)
    }

    fn maybe_int(&self, column: &str) -> Result<Option<i64>> {
        self.get(column)
    }
}
