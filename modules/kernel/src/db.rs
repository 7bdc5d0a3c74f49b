//! PostgreSQL: pool set-up, migrations, and the two kinds of scoped transaction that
//! row-level security relies on.
//!
//! Tenant tables have `FORCE ROW LEVEL SECURITY` with policies on `app.gym_id` (and, for a
//! user's own membership rows, `app.user_id`). Scoped transactions set those settings and
//! switch to the non-owner role `gymapi_app`, all transaction-local, in the same round trip as
//! `BEGIN`, so a pooled connection never carries a tenant into the next request.
//!
//! Reads take a [`ReadOnly`] transaction, which is never committed: dropping it queues the
//! `ROLLBACK`, and the pool's check of every returned connection sends it, after the response
//! has gone. A read therefore costs the request two round trips: the `BEGIN` line and the query.
//!
//! A request that holds an `Idempotency-Key` lease ([`Lease`], taken by
//! [`crate::http::idempotency`]) has every scoped transaction fenced: the transaction starts
//! only while the lease is still the request's, keeps a retry from taking the lease over until
//! it ends, and leaves a marker behind if it committed a write (the `idempotency_fence`
//! function of the `kernel__idempotency_lease` migration).
//!
//! The hottest single statements skip those round trips: a [`OneShot`] sends the `BEGIN`
//! line, the statement and `COMMIT` as one.

use std::future::Future;
use std::net::IpAddr;
use std::str::FromStr;
use std::time::Duration;

use sqlx::migrate::{MigrateDatabase, Migrator};
use sqlx::postgres::{PgConnectOptions, PgConnection, PgPoolOptions, PgSslMode};
use sqlx::{Connection, PgPool, Postgres, Transaction};
use uuid::Uuid;

use crate::config::DatabaseSettings;

mod one_shot;
pub use one_shot::{Arg, OneShot};

/// The role tenant work runs as: no login, not superuser, no BYPASSRLS (created by migration).
pub const APP_ROLE: &str = "gymapi_app";

/// SQLSTATE of the fence's refusal: the request no longer holds its `Idempotency-Key` lease
/// (a retry took it over, or it expired), so it must not start another transaction.
pub const LEASE_LOST: &str = "GYL01";

/// The `Idempotency-Key` lease a request holds while its handler runs. Scoped transactions
/// begun in the task running under [`Lease::hold`] are fenced (see the module docs); other
/// tasks, such as background jobs, are not.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lease {
    pub scope: String,
    pub key: String,
    pub token: Uuid,
}

tokio::task_local! {
    static LEASE: Lease;
}

impl Lease {
    /// Runs `work` with this lease fencing its scoped transactions.
    pub async fn hold<F: Future>(self, work: F) -> F::Output {
        LEASE.scope(self, work).await
    }

    /// The lease the current task runs under, if any.
    pub fn current() -> Option<Lease> {
        LEASE.try_with(Lease::clone).ok()
    }
}

pub fn connect_options(settings: &DatabaseSettings) -> Result<PgConnectOptions, sqlx::Error> {
    let statement_timeout = settings.statement_timeout_ms.to_string();
    let options = PgConnectOptions::from_str(settings.url.expose())?
        .application_name("gymapi")
        .options([("statement_timeout", statement_timeout.as_str())]);
    Ok(without_tls_on_loopback(options))
}

/// `sslmode=prefer`, the default, takes TLS whenever the server offers it, and accepts a plain
/// connection when it does not. Over loopback TLS protects nothing, and it cost a tenth of the
/// database's CPU for a page of members (perf), so a loopback connection that merely prefers
/// TLS goes without. `require` and stricter modes are kept wherever the server is.
fn without_tls_on_loopback(options: PgConnectOptions) -> PgConnectOptions {
    let host = options
        .get_host()
        .trim_start_matches('[')
        .trim_end_matches(']');
    let loopback = host == "localhost" || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback());
    if loopback && matches!(options.get_ssl_mode(), PgSslMode::Prefer) {
        options.ssl_mode(PgSslMode::Disable)
    } else {
        options
    }
}

/// A pooled connection idle for longer than this is pinged before it is handed out.
///
/// sqlx already pings every connection as it returns to the pool (in the background, after the
/// response), and drops the ones that fail. Pinging again on every acquire, sqlx's default,
/// would add a round trip to every request for connections that were checked moments ago;
/// only one that sat idle (and may have been cut by a database restart meanwhile) needs it.
const PING_IDLE_AFTER: Duration = Duration::from_secs(1);

pub fn pool_options(settings: &DatabaseSettings) -> PgPoolOptions {
    PgPoolOptions::new()
        .max_connections(settings.max_connections)
        .min_connections(settings.min_connections)
        .acquire_timeout(Duration::from_secs(settings.acquire_timeout_seconds))
        .test_before_acquire(false)
        .before_acquire(|conn, meta| {
            Box::pin(async move {
                if meta.idle_for >= PING_IDLE_AFTER {
                    // An error discards this connection and the pool tries another.
                    conn.ping().await?;
                }
                Ok(true)
            })
        })
}

/// Connects, creating the database first when configured to and it is missing.
pub async fn connect(settings: &DatabaseSettings) -> Result<PgPool, sqlx::Error> {
    let url = settings.url.expose();
    if settings.create_if_missing && !Postgres::database_exists(url).await? {
        tracing::info!("database does not exist; creating it");
        if let Err(err) = Postgres::create_database(url).await {
            // Another instance may have created it at the same moment.
            if !Postgres::database_exists(url).await? {
                return Err(err);
            }
        }
    }
    pool_options(settings)
        .connect_with(connect_options(settings)?)
        .await
}

pub async fn migrate(
    pool: &PgPool,
    migrator: &Migrator,
) -> Result<(), sqlx::migrate::MigrateError> {
    migrator.run(pool).await
}

fn scoped_begin(begin: &str, setting: &str, id: Uuid) -> String {
    // `id` is a parsed UUID, so formatting it into SQL cannot inject anything; a single simple
    // query keeps BEGIN, the setting and the role switch in one round trip. `set local` rather
    // than `select set_config(..., true)`: the same transaction-local settings, without a
    // SELECT for PostgreSQL to plan and run and a row to send back on every transaction.
    format!("{begin}; set local {setting} = '{id}'; set local role {APP_ROLE}")
}

/// BEGIN with `setting` and the role switch, then the fence when the task holds a lease.
/// Starts a transaction, unscoped (for tables without row-level security). Use it, not
/// `Pool::begin`, for the reason [`begin_with`] gives.
pub async fn begin(pool: &PgPool) -> Result<Transaction<'static, Postgres>, sqlx::Error> {
    begin_with(pool, "begin".to_string()).await
}

/// Opens a transaction with `statement` in a task of its own, so that the opening always
/// finishes even when the request that asked for it is dropped (a client that hung up).
///
/// sqlx 0.8 counts a transaction as open only once the server has confirmed `BEGIN`. A caller
/// dropped in between leaves the transaction open on the connection, and the pool hands that
/// connection to its next user still inside it, with this request's role and tenant settings
/// (seen under load as "current transaction is aborted" on every later statement of that
/// connection). Run to completion, the transaction is returned, or dropped properly: its
/// rollback is queued and sent as the pool takes the connection back.
async fn begin_with(
    pool: &PgPool,
    statement: String,
) -> Result<Transaction<'static, Postgres>, sqlx::Error> {
    let pool = pool.clone();
    #[allow(clippy::disallowed_methods)] // the one place that may: it runs to completion
    let opening = tokio::spawn(async move { pool.begin_with(statement).await });
    opening.await.map_err(|_| sqlx::Error::WorkerCrashed)?
}

async fn begin_scoped(
    pool: &PgPool,
    setting: &str,
    id: Uuid,
) -> Result<Transaction<'static, Postgres>, sqlx::Error> {
    let mut tx = begin_with(pool, scoped_begin("begin", setting, id)).await?;
    if let Some(lease) = Lease::current() {
        // Fails with LEASE_LOST unless the lease is still ours; the transaction then rolls
        // back when dropped.
        sqlx::query("select idempotency_fence($1, $2, $3)")
            .bind(&lease.scope)
            .bind(&lease.key)
            .bind(lease.token)
            .execute(&mut *tx)
            .await?;
    }
    Ok(tx)
}

/// A transaction that sees only `gym_id`'s rows of tenant tables.
pub async fn begin_tenant(
    pool: &PgPool,
    gym_id: Uuid,
) -> Result<Transaction<'static, Postgres>, sqlx::Error> {
    begin_scoped(pool, "app.gym_id", gym_id).await
}

/// A transaction that sees, across tenants, only `user_id`'s own membership rows (used to
/// resolve which tenants a caller belongs to).
pub async fn begin_user(
    pool: &PgPool,
    user_id: Uuid,
) -> Result<Transaction<'static, Postgres>, sqlx::Error> {
    begin_scoped(pool, "app.user_id", user_id).await
}

/// A read-only transaction scoped like [`begin_tenant`] or [`begin_user`], for reads: it is
/// never committed (see the module docs), and PostgreSQL refuses any write made through it.
/// Reads are not fenced by an `Idempotency-Key` lease: they change nothing a retry could repeat.
///
/// Its statements run on generic plans, made once per connection and statement. Left to
/// choose, PostgreSQL plans every `... limit $n` read afresh (a generic plan cannot know the
/// limit, so it looks costlier), and under row-level security planning a page of members took
/// 0.07–0.2 ms against 0.03 ms to run it. Reads must therefore not use `($n is null or ...)`
/// catch-alls, which a generic plan cannot simplify: build one statement per shape of filters
/// (`sqlx::QueryBuilder`).
pub struct ReadOnly(Transaction<'static, Postgres>);

impl std::ops::Deref for ReadOnly {
    type Target = PgConnection;

    fn deref(&self) -> &PgConnection {
        &self.0
    }
}

impl std::ops::DerefMut for ReadOnly {
    fn deref_mut(&mut self) -> &mut PgConnection {
        &mut self.0
    }
}

async fn read_scoped(pool: &PgPool, setting: &str, id: Uuid) -> Result<ReadOnly, sqlx::Error> {
    let opening = format!(
        "{}; set local plan_cache_mode = force_generic_plan",
        scoped_begin("begin read only", setting, id)
    );
    let tx = begin_with(pool, opening).await?;
    Ok(ReadOnly(tx))
}

/// [`begin_tenant`] for reads.
pub async fn read_tenant(pool: &PgPool, gym_id: Uuid) -> Result<ReadOnly, sqlx::Error> {
    read_scoped(pool, "app.gym_id", gym_id).await
}

/// [`begin_user`] for reads.
pub async fn read_user(pool: &PgPool, user_id: Uuid) -> Result<ReadOnly, sqlx::Error> {
    read_scoped(pool, "app.user_id", user_id).await
}

/// `select 1`, answered within `within` or not at all: for readiness, which must answer
/// promptly while the database is down (acquiring a connection alone would wait up to
/// `database.acquire_timeout_seconds` for it).
pub async fn ping(pool: &PgPool, within: Duration) -> Result<(), String> {
    let query = sqlx::query_scalar::<_, i32>("select 1").fetch_one(pool);
    match tokio::time::timeout(within, query).await {
        Ok(Ok(_)) => Ok(()),
        Ok(Err(err)) => Err(format!("failed: {err}")),
        Err(_) => Err(format!("no answer within {} ms", within.as_millis())),
    }
}

/// Refuses to run when the tenant role could bypass row-level security.
pub async fn check_app_role(pool: &PgPool) -> anyhow::Result<()> {
    let row: Option<(bool, bool)> =
        sqlx::query_as("select rolsuper, rolbypassrls from pg_roles where rolname = $1")
            .bind(APP_ROLE)
            .fetch_optional(pool)
            .await?;
    match row {
        None => anyhow::bail!("role {APP_ROLE} is missing; run `gymapi migrate`"),
        Some((true, _)) | Some((_, true)) => {
            anyhow::bail!(
                "role {APP_ROLE} must be neither superuser nor BYPASSRLS, or tenant isolation is void"
            )
        }
        Some(_) => {
            // Proves the login role may switch to it.
            let tx = begin_tenant(pool, Uuid::nil()).await?;
            tx.rollback().await?;
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ssl_mode_for(url: &str) -> PgSslMode {
        let options = PgConnectOptions::from_str(url).expect("a valid URL");
        without_tls_on_loopback(options).get_ssl_mode()
    }

    #[test]
    fn a_loopback_database_that_merely_prefers_tls_is_reached_without_it() {
        for url in [
            "postgres://app@127.0.0.1:5432/gymapi",
            "postgres://app@localhost/gymapi?sslmode=prefer",
            "postgres://app@[::1]:5432/gymapi",
        ] {
            assert!(matches!(ssl_mode_for(url), PgSslMode::Disable), "{url}");
        }
    }

    #[test]
    fn required_tls_and_other_hosts_keep_their_mode() {
        assert!(matches!(
            ssl_mode_for("postgres://app@127.0.0.1/gymapi?sslmode=require"),
            PgSslMode::Require
        ));
        assert!(matches!(
            ssl_mode_for("postgres://app@db.internal.example/gymapi"),
            PgSslMode::Prefer
        ));
    }
}
