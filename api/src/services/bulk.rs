//! Multi-row INSERTs for the large tables (readings, performance, settlement
//! lines): one statement per chunk of rows instead of one per row, with the
//! placeholder style of the connected backend.

use sea_orm::{ConnectionTrait, DatabaseBackend, DbErr, Statement, Value};

/// Bound parameters per statement: under SQLite's 32,766 and PostgreSQL's 65,535.
const MAX_PARAMS: usize = 30_000;

/// What to do when a row's key already exists.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum OnConflict {
    Fail,
    /// Keep the stored row (idempotent inserts).
    Ignore,
    /// An `ON CONFLICT (…) DO UPDATE …` clause, written portably (SQLite and
    /// PostgreSQL both read `excluded.` and `CASE`).
    Update(&'static str),
}

/// Inserts `rows` (each with `columns.len()` values) into `table`, chunked;
/// returns how many rows were actually inserted.
pub async fn insert<C: ConnectionTrait>(
    conn: &C,
    table: &str,
    columns: &[&str],
    rows: Vec<Vec<Value>>,
    on_conflict: OnConflict,
) -> Result<u64, DbErr> {
    let backend = conn.get_database_backend();
    let per_statement = (MAX_PARAMS / columns.len()).max(1);
    let mut inserted = 0;
    let mut rows = rows.into_iter().peekable();
    while rows.peek().is_some() {
        let chunk: Vec<Vec<Value>> = rows.by_ref().take(per_statement).collect();
        let mut sql = String::with_capacity(64 + chunk.len() * columns.len() * 5);
        sql.push_str("INSERT INTO ");
        sql.push_str(table);
        sql.push_str(" (");
        sql.push_str(&columns.join(", "));
        sql.push_str(") VALUES ");
        let mut values = Vec::with_capacity(chunk.len() * columns.len());
        for (r, row) in chunk.into_iter().enumerate() {
            debug_assert_eq!(row.len(), columns.len());
            if r > 0 {
                sql.push(',');
            }
            sql.push('(');
            for (c, value) in row.into_iter().enumerate() {
                if c > 0 {
                    sql.push(',');
                }
                values.push(value);
                push_placeholder(&mut sql, backend, values.len());
            }
            sql.push(')');
        }
        match on_conflict {
            OnConflict::Fail => {}
            OnConflict::Ignore => sql.push_str(" ON CONFLICT DO NOTHING"),
            OnConflict::Update(clause) => {
                sql.push(' ');
                sql.push_str(clause);
            }
        }
        let result = conn
            .execute(Statement::from_sql_and_values(backend, sql, values))
            .await?;
        inserted += result.rows_affected();
    }
    Ok(inserted)
}

/// Appends the placeholder for the `n`th (1-based) bound value.
pub fn push_placeholder(sql: &mut String, backend: DatabaseBackend, n: usize) {
    match backend {
        DatabaseBackend::Postgres => {
            sql.push('$');
            sql.push_str(&n.to_string());
        }
        _ => sql.push('?'),
    }
}

/// The placeholder for the `n`th (1-based) bound value.
pub fn param(backend: DatabaseBackend, n: usize) -> String {
    let mut sql = String::new();
    push_placeholder(&mut sql, backend, n);
    sql
}

/// `(p1, p2, …)` for `count` values starting at the `first`th (1-based).
pub fn placeholders(backend: DatabaseBackend, first: usize, count: usize) -> String {
    let mut sql = String::from("(");
    for i in 0..count {
        if i > 0 {
            sql.push(',');
        }
        push_placeholder(&mut sql, backend, first + i);
    }
    sql.push(')');
    sql
}
