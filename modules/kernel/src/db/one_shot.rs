//! A tenant statement that is a transaction of its own, sent in one round trip.
//!
//! A scoped transaction costs a round trip for its `BEGIN` line, one per statement and one for
//! `COMMIT`; with sqlx's check of a returned connection, a single-statement write takes four.
//! On two cores that traffic, not the statement, is most of the work: a story view spent 130 µs
//! of server and 290 µs of PostgreSQL CPU that way, and 95 and 235 µs in one round trip.
//!
//! sqlx sends each statement on its own, so a [`OneShot`] goes as one simple query instead:
//! the scoped `BEGIN` line, `EXECUTE` of the statement prepared on that connection (by a name
//! derived from its text, prepared on first use) with its arguments written as literals, and
//! `COMMIT`. Arguments are only values whose literal this module writes itself (ids, numbers,
//! booleans, times, arrays of ids or numbers, and text in dollar quotes with a tag it does not
//! contain), so nothing a caller passes can change the statement. Rows come back in
//! PostgreSQL's text format, which sqlx decodes like the binary one.
//!
//! The statement runs in the same scope as [`super::begin_tenant`] (role `gymapi_app` under
//! row-level security). A statement made under an `Idempotency-Key` lease needs the fence
//! first, so it takes the ordinary transaction with the same statement and binds.
//!
//! It pays for statements of a row or a few, where the round trips are the cost. It does not
//! for pages: a read-only page of 50 members ran no faster in one round trip (about 7,100
//! requests/s either way): its 300 ids and times are then formatted and parsed as text, which
//! cost what the round trip saved.

use std::hash::{Hash, Hasher};

use chrono::{DateTime, SecondsFormat, Utc};
use sqlx::postgres::{PgArguments, PgRow};
use sqlx::query::Query;
use sqlx::{Executor, PgPool, Postgres};
use uuid::Uuid;

use super::{Lease, begin_tenant, scoped_begin};

/// SQLSTATE `invalid_sql_statement_name`: the connection has not prepared the statement yet.
const NOT_PREPARED: &str = "26000";

/// A value a [`OneShot`] statement takes as `$n`.
#[derive(Debug, Clone, PartialEq)]
pub enum Arg {
    Uuid(Uuid),
    Int(i64),
    Bool(bool),
    Time(DateTime<Utc>),
    Text(String),
    Uuids(Vec<Uuid>),
    Ints(Vec<i64>),
}

impl From<Uuid> for Arg {
    fn from(value: Uuid) -> Self {
        Self::Uuid(value)
    }
}

impl From<i64> for Arg {
    fn from(value: i64) -> Self {
        Self::Int(value)
    }
}

impl From<bool> for Arg {
    fn from(value: bool) -> Self {
        Self::Bool(value)
    }
}

impl From<DateTime<Utc>> for Arg {
    fn from(value: DateTime<Utc>) -> Self {
        Self::Time(value)
    }
}

impl From<&str> for Arg {
    fn from(value: &str) -> Self {
        Self::Text(value.to_owned())
    }
}

impl From<String> for Arg {
    fn from(value: String) -> Self {
        Self::Text(value)
    }
}

impl From<Vec<Uuid>> for Arg {
    fn from(value: Vec<Uuid>) -> Self {
        Self::Uuids(value)
    }
}

impl From<Vec<i64>> for Arg {
    fn from(value: Vec<i64>) -> Self {
        Self::Ints(value)
    }
}

impl Arg {
    fn sql_type(&self) -> &'static str {
        match self {
            Self::Uuid(_) => "uuid",
            Self::Int(_) => "int8",
            Self::Bool(_) => "boolean",
            Self::Time(_) => "timestamptz",
            Self::Text(_) => "text",
            Self::Uuids(_) => "uuid[]",
            Self::Ints(_) => "int8[]",
        }
    }

    /// The value as a SQL literal. Dollar quotes take their content verbatim, whatever the
    /// server's string settings; the tag grows until the text does not contain it.
    fn write_literal(&self, out: &mut String) {
        let literal = match self {
            Self::Uuid(id) => format!("'{id}'"),
            Self::Int(n) => n.to_string(),
            Self::Bool(b) => b.to_string(),
            Self::Time(t) => format!("'{}'", t.to_rfc3339_opts(SecondsFormat::Micros, true)),
            Self::Text(text) => {
                let tag = dollar_tag(text);
                format!("{tag}{text}{tag}")
            }
            Self::Uuids(ids) => array_literal(ids),
            Self::Ints(numbers) => array_literal(numbers),
        };
        out.push_str(&literal);
    }

    /// Whether the value can go as a literal: a NUL would end the query message early.
    fn is_literal_safe(&self) -> bool {
        !matches!(self, Self::Text(text) if text.contains('\0'))
    }

    fn bind(self, query: Query<'_, Postgres, PgArguments>) -> Query<'_, Postgres, PgArguments> {
        match self {
            Self::Uuid(id) => query.bind(id),
            Self::Int(n) => query.bind(n),
            Self::Bool(b) => query.bind(b),
            Self::Time(t) => query.bind(t),
            Self::Text(text) => query.bind(text),
            Self::Uuids(ids) => query.bind(ids),
            Self::Ints(numbers) => query.bind(numbers),
        }
    }
}

/// The arguments of one statement, numbered in the order they are bound.
#[derive(Debug, Default)]
pub struct OneShot {
    args: Vec<Arg>,
}

impl OneShot {
    pub fn new() -> Self {
        Self::default()
    }

    /// Takes `value` as the next argument and returns its placeholder (`$1`, `$2`, ...).
    pub fn bind(&mut self, value: impl Into<Arg>) -> String {
        self.args.push(value.into());
        format!("${}", self.args.len())
    }

    fn is_literal_safe(&self) -> bool {
        self.args.iter().all(Arg::is_literal_safe)
    }

    /// `sql` with the arguments bound, for the ordinary transactions.
    fn bound(self, sql: &str) -> Query<'_, Postgres, PgArguments> {
        self.args
            .into_iter()
            .fold(sqlx::query(sql), |query, arg| arg.bind(query))
    }

    /// Runs `sql` in tenant `gym_id` as a transaction of its own, and commits it.
    pub async fn write(
        self,
        pool: &PgPool,
        gym_id: Uuid,
        sql: &str,
    ) -> Result<Vec<PgRow>, sqlx::Error> {
        if Lease::current().is_some() || !self.is_literal_safe() {
            let mut tx = begin_tenant(pool, gym_id).await?;
            let rows = self.bound(sql).fetch_all(&mut *tx).await?;
            tx.commit().await?;
            return Ok(rows);
        }
        let opening = scoped_begin("begin", "app.gym_id", gym_id);
        self.run(pool, opening, sql).await
    }

    /// In a task of its own, so that a request dropped meanwhile cannot leave the connection
    /// inside the transaction (see [`super::begin_with`]).
    async fn run(
        self,
        pool: &PgPool,
        opening: String,
        sql: &str,
    ) -> Result<Vec<PgRow>, sqlx::Error> {
        let name = statement_name(sql, &self.args);
        // `execute name` and `prepare name as`: no parentheses without arguments.
        let mut call = format!("{opening}; execute {name}");
        let mut types = String::new();
        for (i, arg) in self.args.iter().enumerate() {
            let separator = if i == 0 { "(" } else { ", " };
            call.push_str(separator);
            arg.write_literal(&mut call);
            types.push_str(separator);
            types.push_str(arg.sql_type());
        }
        if !self.args.is_empty() {
            call.push(')');
            types.push(')');
        }
        call.push_str("; commit");
        let prepare = format!("rollback; {opening}; prepare {name}{types} as {sql}; commit");
        let pool = pool.clone();
        #[allow(clippy::disallowed_methods)] // run to completion, like `begin_with`
        let running = tokio::spawn(async move {
            let mut conn = pool.acquire().await?;
            let outcome = match Executor::fetch_all(&mut *conn, call.as_str()).await {
                Err(err) if is_not_prepared(&err) => {
                    match Executor::execute(&mut *conn, prepare.as_str()).await {
                        Ok(_) => Executor::fetch_all(&mut *conn, call.as_str()).await,
                        Err(err) => Err(err),
                    }
                }
                outcome => outcome,
            };
            if outcome.is_err() && Executor::execute(&mut *conn, "rollback").await.is_err() {
                // Its state is unknown: never hand it to another request.
                conn.close_on_drop();
            }
            outcome
        });
        running.await.map_err(|_| sqlx::Error::WorkerCrashed)?
    }
}

/// A dollar-quote tag that first occurs in `text` followed by the tag at its end, so the
/// quoted text ends exactly where it should (`x$a` quoted with `$a$` would end early).
fn dollar_tag(text: &str) -> String {
    let mut tag = String::from("$a$");
    loop {
        let quoted = format!("{text}{tag}");
        if quoted.find(&tag) == Some(text.len()) {
            return tag;
        }
        tag.insert(tag.len() - 1, 'a');
    }
}

/// An array of values whose text needs no quoting inside it (ids, numbers): `'{a,b}'`.
fn array_literal<T: std::fmt::Display>(values: &[T]) -> String {
    let items: Vec<String> = values.iter().map(ToString::to_string).collect();
    format!("'{{{}}}'", items.join(","))
}

/// The name a connection prepares `sql` under: the same text and argument types give the same
/// name, in every connection of this process.
fn statement_name(sql: &str, args: &[Arg]) -> String {
    let mut hasher = std::hash::DefaultHasher::new();
    sql.hash(&mut hasher);
    for arg in args {
        arg.sql_type().hash(&mut hasher);
    }
    format!("one_shot_{:016x}", hasher.finish())
}

fn is_not_prepared(err: &sqlx::Error) -> bool {
    matches!(err, sqlx::Error::Database(db) if db.code().as_deref() == Some(NOT_PREPARED))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn literal(arg: Arg) -> String {
        let mut out = String::new();
        arg.write_literal(&mut out);
        out
    }

    #[test]
    fn text_is_dollar_quoted_with_a_tag_it_does_not_contain() {
        assert_eq!(literal("o'brien".into()), "$a$o'brien$a$");
        assert_eq!(literal("x$a$y".into()), "$aa$x$a$y$aa$");
        assert_eq!(literal("$a$$aa$".into()), "$aaa$$a$$aa$$aaa$");
        // Ending in the start of the tag would close the quote early.
        assert_eq!(literal("x$a".into()), "$aa$x$a$aa$");
        assert_eq!(literal("x$".into()), "$a$x$$a$");
    }

    #[test]
    fn times_keep_their_microseconds_in_utc() {
        let time = DateTime::parse_from_rfc3339("2026-12-03T10:20:30.123456-03:00")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(literal(time.into()), "'2026-12-03T13:20:30.123456Z'");
    }

    #[test]
    fn arrays_of_ids_and_numbers_are_brace_lists() {
        let id = Uuid::from_u128(1);
        assert_eq!(literal(vec![id, id].into()), format!("'{{{id},{id}}}'"));
        assert_eq!(literal(vec![3_i64, -4].into()), "'{3,-4}'");
        assert_eq!(literal(Vec::<i64>::new().into()), "'{}'");
    }

    #[test]
    fn the_same_text_and_types_get_the_same_name() {
        let sql = "select $1";
        assert_eq!(
            statement_name(sql, &[Arg::Int(1)]),
            statement_name(sql, &[Arg::Int(2)])
        );
        assert_ne!(
            statement_name(sql, &[Arg::Int(1)]),
            statement_name(sql, &[Arg::Text("1".into())])
        );
    }
}
