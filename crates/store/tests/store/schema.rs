//! Both backends' migrations build the same schema. The store writes one SQL
//! text for both (sqlx's `Any` driver; docs/architecture.md, "SQL: why sqlx
//! Any"), so a column, a nullability or an index that exists on one backend
//! only is a bug waiting for the other. The differences by design are listed
//! below with their reason; anything else fails with the difference.
use std::collections::BTreeSet;

use ontask_store::{AnyConnection, Db};
use sqlx::Row;

use crate::TestDb;

/// (table, column, type class, nullable); type classes: integer, real, text, blob.
type Column = (String, String, &'static str, bool);
/// (index, table, columns in order).
type Index = (String, String, String);

/// Full-text search is SQLite's FTS5 table (with its shadow tables) on one
/// side and a generated tsvector column with a GIN index on the other;
/// `sqlite_sequence` is SQLite's AUTOINCREMENT bookkeeping.
const SQLITE_ONLY_TABLES: [&str; 6] =
    ["tasks_fts", "tasks_fts_config", "tasks_fts_data", "tasks_fts_docsize", "tasks_fts_idx", "sqlite_sequence"];
const POSTGRES_ONLY_COLUMNS: [(&str, &str); 1] = [("tasks", "search")];
const POSTGRES_ONLY_INDEXES: [&str; 1] = ["tasks_search"];

fn class(declared: &str) -> &'static str {
    let t = declared.to_ascii_lowercase();
    if t.contains("int") {
        "integer"
    } else if t.contains("char") || t.contains("text") || t.contains("clob") {
        "text"
    } else if t.contains("real") || t.contains("double") || t.contains("float") || t.contains("numeric") {
        "real"
    } else if t.contains("blob") || t.contains("bytea") {
        "blob"
    } else {
        // tsvector, boolean, ...: compared by name, so a difference shows.
        Box::leak(t.into_boxed_str())
    }
}

async fn sqlite_schema(conn: &mut AnyConnection) -> (BTreeSet<Column>, BTreeSet<Index>) {
    let tables: Vec<String> =
        sqlx::query("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE '_sqlx%' ORDER BY name")
            .fetch_all(&mut *conn)
            .await
            .unwrap()
            .iter()
            .map(|r| r.get(0))
            .filter(|t: &String| !SQLITE_ONLY_TABLES.contains(&t.as_str()))
            .collect();
    let mut columns = BTreeSet::new();
    for table in &tables {
        let rows = sqlx::query(&format!("SELECT name, type, \"notnull\", pk FROM pragma_table_info('{table}')"))
            .fetch_all(&mut *conn)
            .await
            .unwrap();
        for r in rows {
            // A primary key column is NOT NULL on PostgreSQL whatever it says.
            let not_null = r.get::<i64, _>(2) == 1 || r.get::<i64, _>(3) > 0;
            columns.insert((table.clone(), r.get(0), class(&r.get::<String, _>(1)), !not_null));
        }
    }
    let mut indexes = BTreeSet::new();
    let rows =
        sqlx::query("SELECT name, tbl_name FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL ORDER BY name")
            .fetch_all(&mut *conn)
            .await
            .unwrap();
    for r in rows {
        let (name, table): (String, String) = (r.get(0), r.get(1));
        let cols: Vec<String> =
            sqlx::query(&format!("SELECT COALESCE(name, '<expr>') FROM pragma_index_info('{name}') ORDER BY seqno"))
                .fetch_all(&mut *conn)
                .await
                .unwrap()
                .iter()
                .map(|c| c.get(0))
                .collect();
        indexes.insert((name, table, cols.join(",")));
    }
    (columns, indexes)
}

async fn postgres_schema(conn: &mut AnyConnection) -> (BTreeSet<Column>, BTreeSet<Index>) {
    let rows = sqlx::query(
        "SELECT table_name::text, column_name::text, data_type::text, is_nullable::text FROM information_schema.columns \
         WHERE table_schema = current_schema() AND table_name NOT LIKE '_sqlx%'",
    )
    .fetch_all(&mut *conn)
    .await
    .unwrap();
    let columns = rows
        .iter()
        .map(|r| (r.get(0), r.get(1), class(&r.get::<String, _>(2)), r.get::<String, _>(3) == "YES"))
        .filter(|(t, c, _, _): &Column| !POSTGRES_ONLY_COLUMNS.contains(&(t.as_str(), c.as_str())))
        .collect();
    // Indexes created by CREATE INDEX: not those backing a primary key or a
    // UNIQUE constraint (SQLite's automatic indexes are left out likewise).
    let rows = sqlx::query(
        "SELECT i.relname::text, t.relname::text, \
                array_to_string(array_agg(COALESCE(a.attname::text, '<expr>') ORDER BY k.n), ',') \
         FROM pg_index x \
         JOIN pg_class i ON i.oid = x.indexrelid \
         JOIN pg_class t ON t.oid = x.indrelid \
         JOIN pg_namespace ns ON ns.oid = t.relnamespace \
         CROSS JOIN LATERAL unnest(x.indkey) WITH ORDINALITY AS k(attnum, n) \
         LEFT JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = k.attnum \
         WHERE ns.nspname = current_schema() AND t.relname NOT LIKE '_sqlx%' \
           AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = x.indexrelid) \
         GROUP BY i.relname, t.relname",
    )
    .fetch_all(&mut *conn)
    .await
    .unwrap();
    let indexes = rows
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .filter(|(name, _, _): &Index| !POSTGRES_ONLY_INDEXES.contains(&name.as_str()))
        .collect();
    (columns, indexes)
}

async fn schema(db: &Db, postgres: bool) -> (BTreeSet<Column>, BTreeSet<Index>) {
    let mut conn = db.read().await.unwrap();
    if postgres { postgres_schema(&mut conn).await } else { sqlite_schema(&mut conn).await }
}

fn only_in<T: Ord + Clone + std::fmt::Debug>(a: &BTreeSet<T>, b: &BTreeSet<T>) -> Vec<T> {
    a.difference(b).cloned().collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn both_backends_migrate_to_the_same_tables_columns_and_indexes() {
    let (sqlite, postgres) = (TestDb::sqlite().await, TestDb::postgres().await);
    let (lite_columns, lite_indexes) = schema(&sqlite.db, false).await;
    let (pg_columns, pg_indexes) = schema(&postgres.db, true).await;
    assert!(lite_columns.len() > 50 && lite_indexes.len() > 10, "the schema was read: {lite_columns:?}");
    let title = ("tasks".to_owned(), "title".to_owned(), "text", false);
    let completed_at = ("tasks".to_owned(), "completed_at".to_owned(), "integer", true);
    for both in [&title, &completed_at] {
        assert!(lite_columns.contains(both) && pg_columns.contains(both), "{both:?} read on both");
    }
    assert_eq!(
        (only_in(&lite_columns, &pg_columns), only_in(&pg_columns, &lite_columns)),
        (vec![], vec![]),
        "columns only on SQLite, only on PostgreSQL"
    );
    assert_eq!(
        (only_in(&lite_indexes, &pg_indexes), only_in(&pg_indexes, &lite_indexes)),
        (vec![], vec![]),
        "indexes only on SQLite, only on PostgreSQL"
    );
}
