//! The SQL of Stripe Connect: a workspace's connected account and its last known status.

use chrono::{DateTime, Utc};
use sqlx::PgConnection;
use uuid::Uuid;

use crate::providers::AccountStatus;

#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct ConnectedAccountRow {
    pub gym_id: Uuid,
    pub account_id: String,
    pub charges_enabled: bool,
    pub payouts_enabled: bool,
    pub details_submitted: bool,
    pub requirements: Vec<String>,
    pub created_at: DateTime<Utc>,
    /// When the status was last read from Stripe; `None` until it first is.
    pub updated_at: Option<DateTime<Utc>>,
}

const COLUMNS: &str = "gym_id, account_id, charges_enabled, payouts_enabled, \
    details_submitted, requirements, created_at, updated_at";

/// The tenant's connected account, if it has one.
pub async fn find(
    conn: &mut PgConnection,
    gym_id: Uuid,
) -> Result<Option<ConnectedAccountRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "select {COLUMNS} from connected_accounts where gym_id = $1"
    ))
    .bind(gym_id)
    .fetch_optional(conn)
    .await
}

/// Stores the tenant's new account; the one stored already wins (two creators racing asked
/// Stripe with the same idempotency key, so both hold the same id anyway).
pub async fn insert(
    conn: &mut PgConnection,
    gym_id: Uuid,
    account_id: &str,
) -> Result<ConnectedAccountRow, sqlx::Error> {
    let inserted: Option<ConnectedAccountRow> = sqlx::query_as(&format!(
        "insert into connected_accounts (gym_id, account_id) values ($1, $2) \
         on conflict (gym_id) do nothing returning {COLUMNS}"
    ))
    .bind(gym_id)
    .bind(account_id)
    .fetch_optional(&mut *conn)
    .await?;
    match inserted {
        Some(row) => Ok(row),
        None => find(conn, gym_id).await?.ok_or(sqlx::Error::RowNotFound),
    }
}

/// Records what Stripe says about the tenant's account now; `None` when the tenant holds
/// another account (or none).
pub async fn store_status(
    conn: &mut PgConnection,
    gym_id: Uuid,
    status: &AccountStatus,
) -> Result<Option<ConnectedAccountRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "update connected_accounts set charges_enabled = $3, payouts_enabled = $4, \
             details_submitted = $5, requirements = $6, updated_at = now() \
         where gym_id = $1 and account_id = $2 returning {COLUMNS}"
    ))
    .bind(gym_id)
    .bind(&status.account)
    .bind(status.charges_enabled)
    .bind(status.payouts_enabled)
    .bind(status.details_submitted)
    .bind(&status.requirements)
    .fetch_optional(conn)
    .await
}

/// The tenant whose account `account_id` is. Runs in a transaction of its own that
/// row-level security limits to that one account (policy `account_lookup`): Stripe's
/// `account.updated` names the account, not our tenant.
pub async fn tenant_of(pool: &sqlx::PgPool, account_id: &str) -> Result<Option<Uuid>, sqlx::Error> {
    let mut tx = kernel::db::begin(pool).await?;
    sqlx::query("select set_config('app.stripe_account', $1, true), set_config('role', $2, true)")
        .bind(account_id)
        .bind(kernel::db::APP_ROLE)
        .execute(&mut *tx)
        .await?;
    let gym_id = sqlx::query_scalar("select gym_id from connected_accounts where account_id = $1")
        .bind(account_id)
        .fetch_optional(&mut *tx)
        .await?;
    tx.rollback().await?;
    Ok(gym_id)
}
