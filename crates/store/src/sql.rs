//! A small builder for dynamic SQL with numbered (`$1`) placeholders, which both
//! SQLite and PostgreSQL understand (sqlx's `QueryBuilder<Any>` emits `?`).
use sqlx::any::{Any, AnyArguments};
use sqlx::postgres::{PgArguments, Postgres};
use sqlx::query::Query;
use sqlx::{Database, Encode, Type};

#[derive(Clone)]
pub(crate) enum Arg {
    I64(i64),
    Text(String),
    /// NULL or an integer.
    MaybeI64(Option<i64>),
    /// NULL or a text.
    MaybeText(Option<String>),
}

#[derive(Default)]
pub(crate) struct Sql {
    pub text: String,
    args: Vec<Arg>,
}

impl Sql {
    pub fn new(text: &str) -> Self {
        Self { text: text.to_owned(), args: Vec::new() }
    }

    pub fn push(&mut self, s: &str) -> &mut Self {
        self.text.push_str(s);
        self
    }

    /// Adds a bound value and returns its placeholder.
    pub fn arg(&mut self, arg: Arg) -> String {
        self.args.push(arg);
        format!("${}", self.args.len())
    }

    pub fn int(&mut self, v: i64) -> String {
        self.arg(Arg::I64(v))
    }

    pub fn text(&mut self, v: impl Into<String>) -> String {
        self.arg(Arg::Text(v.into()))
    }

    pub fn args(&self) -> &[Arg] {
        &self.args
    }

    pub fn query(&self) -> Query<'_, Any, AnyArguments<'_>> {
        self.bound()
    }

    /// The same query for PostgreSQL's own driver (the PostgreSQL writer's
    /// connection, which binds arrays, something `Any` cannot).
    pub fn pg_query(&self) -> Query<'_, Postgres, PgArguments> {
        self.bound()
    }

    fn bound<'q, DB>(&'q self) -> Query<'q, DB, <DB as Database>::Arguments<'q>>
    where
        DB: Database,
        i64: Encode<'q, DB> + Type<DB>,
        Option<i64>: Encode<'q, DB> + Type<DB>,
        &'q str: Encode<'q, DB> + Type<DB>,
        Option<&'q str>: Encode<'q, DB> + Type<DB>,
    {
        let mut q = sqlx::query(&self.text);
        for a in &self.args {
            q = match a {
                Arg::I64(v) => q.bind(*v),
                Arg::Text(s) => q.bind(s.as_str()),
                Arg::MaybeI64(v) => q.bind(*v),
                Arg::MaybeText(s) => q.bind(s.as_deref()),
            };
        }
        q
    }
}

/// Binds `args` to a statement prepared on a SQLite connection of our own
/// (the writer thread's, a reader's): its placeholders are `$N`, numbering
/// `args` from 1.
pub(crate) fn bind_sqlite(statement: &mut rusqlite::Statement<'_>, args: &[Arg]) -> rusqlite::Result<()> {
    for index in 1..=statement.parameter_count() {
        let name = statement.parameter_name(index).unwrap_or_default();
        let arg = name
            .strip_prefix('$')
            .and_then(|n| n.parse::<usize>().ok())
            .and_then(|n| n.checked_sub(1))
            .and_then(|i| args.get(i))
            .ok_or_else(|| rusqlite::Error::InvalidParameterName(name.to_owned()))?;
        match arg {
            Arg::I64(v) => statement.raw_bind_parameter(index, v)?,
            Arg::Text(s) => statement.raw_bind_parameter(index, s.as_str())?,
            Arg::MaybeI64(v) => statement.raw_bind_parameter(index, v)?,
            Arg::MaybeText(s) => statement.raw_bind_parameter(index, s.as_deref())?,
        }
    }
    Ok(())
}

impl Arg {
    pub fn text(v: impl Into<String>) -> Self {
        Self::Text(v.into())
    }

    pub fn maybe_text(v: Option<impl Into<String>>) -> Self {
        Self::MaybeText(v.map(Into::into))
    }
}

/// What a statement of a script is. The PostgreSQL writer merges the same
/// insert of every write in a batch into one statement, and takes a lock that
/// every write asks for once for the whole batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Plain,
    /// `INSERT INTO table (columns) VALUES (..), ..`, its arguments row by row.
    Insert(Shape),
    /// Takes a transaction-scoped lock (the event log's, `events::push_append`).
    Lock,
}

/// An insert's table, columns and `RETURNING` list: inserts of one shape merge.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Shape {
    pub table: &'static str,
    /// Comma-separated.
    pub columns: &'static str,
    pub returning: Option<&'static str>,
}

impl Shape {
    pub fn width(&self) -> usize {
        self.columns.split(',').count()
    }
}

const STATEMENT_SEPARATOR: &str = ";\n";

/// Statements that go to the database together. On SQLite a message to the
/// connection's thread and back costs about as much as a small insert, and the
/// single writer waits for each one, so a script travels as one message: its
/// statements share one list of numbered arguments, which sqlx's SQLite
/// driver binds to every statement by number. PostgreSQL prepares one statement
/// per message, so there they go one by one, each numbered from `$1`.
pub(crate) struct Script {
    backend: crate::Backend,
    statements: Vec<Sql>,
    /// SQLite: where each statement of the one `Sql` starts, so the writer
    /// thread can prepare (and cache) them one at a time.
    starts: Vec<usize>,
    /// SQLite: the statements (by position) that index inserted tasks' text,
    /// which the writer thread does once per batch instead (`text_index`).
    text_index: Vec<usize>,
    /// What each statement is (by position), for the PostgreSQL writer.
    kinds: Vec<Kind>,
    /// The types of the events it appends, counted once it commits.
    pub(crate) appended: Vec<String>,
}

impl Script {
    pub fn new(backend: crate::Backend) -> Self {
        Self {
            backend,
            statements: Vec::new(),
            starts: Vec::new(),
            text_index: Vec::new(),
            kinds: Vec::new(),
            appended: Vec::new(),
        }
    }

    pub fn backend(&self) -> crate::Backend {
        self.backend
    }

    /// SQLite: each statement's text, and the arguments they share, without
    /// the statements that index inserted tasks' text (see `text_index`).
    pub fn sqlite_statements(&self) -> Option<(Vec<&str>, &[Arg])> {
        let [one] = self.statements.as_slice() else { return None };
        if self.backend != crate::Backend::Sqlite {
            return None;
        }
        let ends = self.starts.iter().skip(1).map(|next| next - STATEMENT_SEPARATOR.len()).chain([one.text.len()]);
        let texts = self
            .starts
            .iter()
            .zip(ends)
            .enumerate()
            .filter(|(i, _)| !self.text_index.contains(i))
            .map(|(_, (&start, end))| &one.text[start..end])
            .collect();
        Some((texts, one.args()))
    }

    /// Whether the script inserts tasks whose text is still to be indexed.
    pub fn indexes_text(&self) -> bool {
        !self.text_index.is_empty()
    }

    /// Starts a statement that indexes the text of tasks the script inserted
    /// (SQLite's `tasks_fts`). It runs with the others, except on the writer
    /// thread, which indexes every task its batch inserted in one statement
    /// (FTS5 writes its pending terms out at every statement that touches it,
    /// so one statement per task would make one index segment per task).
    pub fn text_index_statement(&mut self) -> &mut Sql {
        self.text_index.push(self.starts.len());
        self.statement()
    }

    /// PostgreSQL: each statement with what it is.
    pub fn postgres_statements(&self) -> Option<impl Iterator<Item = (&Sql, Kind)>> {
        (self.backend == crate::Backend::Postgres).then(|| self.statements.iter().zip(self.kinds.iter().copied()))
    }

    /// Adds `INSERT INTO table (columns) VALUES ..` of `rows`, each a value
    /// per column, and `RETURNING returning` if given. On SQLite `returning`
    /// must name the table's rowid (its `INTEGER PRIMARY KEY`).
    pub fn insert(
        &mut self,
        table: &'static str,
        columns: &'static str,
        rows: impl IntoIterator<Item = Vec<Arg>>,
        returning: Option<&'static str>,
    ) {
        let shape = Shape { table, columns, returning };
        let width = shape.width();
        let backend = self.backend;
        let sql = self.statement();
        sql.push(&format!("INSERT INTO {table} ({columns}) VALUES "));
        let mut count = 0;
        for row in rows {
            debug_assert_eq!(row.len(), width, "a row of {table} has a value per column");
            let values: Vec<String> = row.into_iter().map(|arg| sql.arg(arg)).collect();
            sql.push(if count == 0 { "(" } else { ", (" }).push(&values.join(", ")).push(")");
            count += 1;
        }
        // SQLite runs an insert with `RETURNING` as one that may write
        // several rows, in a statement journal of its own: every page it
        // touches is copied first (10% of the writer's instructions per
        // create, callgrind). For one row, its rowid is the same answer.
        let select_rowid = backend == crate::Backend::Sqlite && count == 1 && returning.is_some();
        if let Some(returning) = returning.filter(|_| !select_rowid) {
            sql.push(" RETURNING ").push(returning);
        }
        *self.kinds.last_mut().expect("a statement was just started") = Kind::Insert(shape);
        if select_rowid {
            self.statement().push("SELECT last_insert_rowid()");
        }
    }

    /// Starts a statement that takes a transaction-scoped lock.
    pub fn lock_statement(&mut self) -> &mut Sql {
        self.statement();
        *self.kinds.last_mut().expect("a statement was just started") = Kind::Lock;
        self.statements.last_mut().expect("a statement was just started")
    }

    /// Starts the next statement; add its text and arguments to what this returns.
    pub fn statement(&mut self) -> &mut Sql {
        self.kinds.push(Kind::Plain);
        match (self.backend, self.statements.is_empty()) {
            (crate::Backend::Sqlite, false) => {}
            _ => self.statements.push(Sql::default()),
        }
        let sql = self.statements.last_mut().expect("a statement was just pushed");
        if !sql.text.is_empty() {
            sql.push(STATEMENT_SEPARATOR);
        }
        if self.backend == crate::Backend::Sqlite {
            self.starts.push(sql.text.len());
        }
        sql
    }

    /// Runs every statement in order in the caller's transaction and returns
    /// the first column of every row they answered, as integers (an event
    /// append's `seq`), as the writer thread does for queued scripts.
    pub async fn run(&self, tx: &mut crate::WriteTx) -> crate::Result<Vec<i64>> {
        use sqlx::Row;
        for event_type in &self.appended {
            tx.mark_appended(event_type);
        }
        let mut returned = Vec::new();
        for sql in &self.statements {
            // `fetch_all` drives every statement of a SQLite script (a
            // `fetch_one` would stop at the first row).
            for row in sql.query().fetch_all(tx.conn()).await? {
                // PostgreSQL's event-log lock answers a row of NULL.
                returned.extend(row.try_get::<Option<i64>, _>(0)?);
            }
        }
        Ok(returned)
    }
}

/// What a batched delete's subquery ends with so that several housekeepers can
/// run at once: on PostgreSQL each one skips the rows another has already
/// locked, instead of waiting for them (or deadlocking on them in a different
/// order). SQLite has one writer at a time and no row locks.
pub(crate) fn skip_locked(backend: crate::Backend) -> &'static str {
    match backend {
        crate::Backend::Postgres => " FOR UPDATE SKIP LOCKED",
        crate::Backend::Sqlite => "",
    }
}

/// Deletes at most `limit` rows of `table` whose `condition` holds for the
/// cutoff `before` (bound as `$1`); returns how many it deleted. `key` lists
/// the columns that identify a row. Callers repeat until a call deletes fewer
/// than `limit`, so no single statement holds the (SQLite) writer for long.
pub(crate) async fn delete_batch(
    tx: &mut crate::WriteTx,
    table: &str,
    key: &[&str],
    condition: &str,
    before: chrono::DateTime<chrono::Utc>,
    limit: i64,
) -> crate::Result<u64> {
    let columns = key.join(", ");
    let row = if key.len() == 1 { columns.clone() } else { format!("({columns})") };
    let statement = format!(
        "DELETE FROM {table} WHERE {row} IN (SELECT {columns} FROM {table} WHERE {condition} LIMIT $2{})",
        skip_locked(tx.backend())
    );
    let done = sqlx::query(&statement).bind(crate::time::to_ms(before)).bind(limit).execute(tx.conn()).await?;
    Ok(done.rows_affected())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sqlite_script_splits_into_its_statements_with_shared_numbered_arguments_and_its_text_index_aside() {
        let mut script = Script::new(crate::Backend::Sqlite);
        let first = script.statement();
        let id = first.text("a");
        first.push(&format!("INSERT INTO t (id) VALUES ({id})"));
        let second = script.statement();
        let n = second.int(7);
        second.push(&format!("INSERT INTO u (id, n) VALUES ($1, {n}) RETURNING n"));
        let index = script.text_index_statement();
        index.push("INSERT INTO t_fts (rowid) SELECT rowid FROM t WHERE id = $1");
        let (statements, args) = script.sqlite_statements().unwrap();
        assert_eq!(statements, ["INSERT INTO t (id) VALUES ($1)", "INSERT INTO u (id, n) VALUES ($1, $2) RETURNING n"]);
        assert_eq!(args.len(), 2);
        assert!(script.indexes_text());
        assert!(Script::new(crate::Backend::Postgres).sqlite_statements().is_none());
    }

    #[test]
    fn an_insert_of_one_row_returns_its_rowid_by_last_insert_rowid_on_sqlite_and_by_returning_otherwise() {
        let row = || vec![Arg::text("a"), Arg::I64(7)];
        let mut sqlite = Script::new(crate::Backend::Sqlite);
        sqlite.insert("t", "id, n", [row()], Some("seq"));
        let (statements, args) = sqlite.sqlite_statements().unwrap();
        assert_eq!(statements, ["INSERT INTO t (id, n) VALUES ($1, $2)", "SELECT last_insert_rowid()"]);
        assert_eq!(args.len(), 2);
        let mut several = Script::new(crate::Backend::Sqlite);
        several.insert("t", "id, n", [row(), row()], Some("seq"));
        let (statements, _) = several.sqlite_statements().unwrap();
        assert_eq!(
            statements,
            ["INSERT INTO t (id, n) VALUES ($1, $2), ($3, $4) RETURNING seq"],
            "one rowid is no answer for two rows"
        );

        let mut postgres = Script::new(crate::Backend::Postgres);
        postgres.insert("t", "id, n", [row()], Some("seq"));
        let statements: Vec<_> =
            postgres.postgres_statements().unwrap().map(|(sql, kind)| (sql.text.clone(), kind)).collect();
        let shape = Shape { table: "t", columns: "id, n", returning: Some("seq") };
        assert_eq!(
            statements,
            [("INSERT INTO t (id, n) VALUES ($1, $2) RETURNING seq".to_owned(), Kind::Insert(shape))]
        );
    }
}
