//! PostgreSQL: pool set-up, migrations, and the two kinds of scoped transaction that
//! row-level security relies on.
//!
//! Tenant tables have `FORCE ROW LEVEL SECURITY` with policies on `app.gym_id` (and, for a
//! user's own membership rows, `app.user_id`). Scoped transactions set those settings and
//! switch to the non-owner role `gymapi_app`, all transaction-local, in the same round trip as
//! `BEGIN`, so a pooled connection never carries a tenant into the next request.

use std::str::FromStr;
use std::time::Duration;

use sqlx::migrate::{MigrateDatabase, Migrator};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{PgPool, Postgres, Transaction};
use uuid::Uuid;

use crate::config::DatabaseSettings;

/// The role tenant work runs as: no login, not superuser, no BYPASSRLS (created by migration).
pub const APP_ROLE: &str = "gymapi_app";

pub fn connect_options(settings: &DatabaseSettings) -> Result<PgConnectOptions, sqlx::Error> {
    let statement_timeout = settings.statement_timeout_ms.to_string();
    Ok(PgConnectOptions::from_str(settings.url.expose())?
        .application_name("gymapi")
        .options([("statement_timeout", statement_timeout.as_str())]))
}

pub fn pool_options(settings: &DatabaseSettings) -> PgPoolOptions {
    PgPoolOptions::new()
        .max_connections(settings.max_connections)
        .min_connections(settings.min_connections)
        .acquire_timeout(Duration::from_secs(settings.acquire_timeout_seconds))
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

fn scoped_begin(setting: &str, id: Uuid) -> String {
    // `id` is a parsed UUID, so formatting it into SQL cannot inject anything; a single simple
    // query keeps BEGIN, the setting and the role switch in one round trip.
    format!(
        "begin; select set_config('{setting}', '{id}', true), set_config('role', '{APP_ROLE}', true)"
    )
}

/// A transaction that sees only `gym_id`'s rows of tenant tables.
pub async fn begin_tenant(
    pool: &PgPool,
    gym_id: Uuid,
) -> Result<Transaction<'static, Postgres>, sqlx::Error> {
    pool.begin_with(scoped_begin("app.gym_id", gym_id)).await
}

/// A transaction that sees, across tenants, only `user_id`'s own membership rows (used to
/// resolve which tenants a caller belongs to).
pub async fn begin_user(
    pool: &PgPool,
    user_id: Uuid,
) -> Result<Transaction<'static, Postgres>, sqlx::Error> {
    pool.begin_with(scoped_begin("app.user_id", user_id)).await
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
