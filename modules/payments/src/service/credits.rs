//! The rules of the credit ledger: whose balance a caller may see or change, what a change
//! may be, and the never-negative balance (which PostgreSQL enforces, see [`repo::apply`]).
//! Every change appends a ledger row and publishes `credits.changed` in one transaction.

use kernel::pagination::{Page, PageRequest};
use kernel::{ApiError, ApiResult, AppContext, FieldError, Role, Tenant, events};
use poem::http::StatusCode;
use uuid::Uuid;

use sqlx::PgConnection;

use crate::errors;
use crate::repo::credits::{self as repo, Kind, NewTransaction, TransactionRow};

/// Largest number of credits one spend or adjustment moves.
pub const MAX_AMOUNT: i64 = 1_000_000;
/// Longest reason, in characters.
pub const MAX_REASON_CHARS: usize = 200;

/// The public event of every balance change.
pub const CREDITS_CHANGED: &str = "credits.changed";

fn not_a_member() -> ApiError {
    ApiError::not_found("no member with this user id in this tenant")
}

/// Whose credits a request is about: the caller's own, or, for staff (trainer and up),
/// `requested`'s when they belong to the tenant. Someone outside the tenant answers 404, as
/// an unknown id does, so ids of other tenants reveal nothing.
pub(crate) async fn subject<M>(
    ctx: &AppContext,
    tenant: &Tenant<M>,
    requested: Option<Uuid>,
    minimum: Role,
) -> ApiResult<Uuid> {
    let user_id = match requested {
        Some(user_id) if user_id != tenant.user_id => user_id,
        _ => return Ok(tenant.user_id),
    };
    tenant.require(minimum)?;
    match ctx.tenants.resolve(ctx, user_id, Some(tenant.gym_id)).await {
        Ok(Some(_)) => Ok(user_id),
        Ok(None) => Err(not_a_member()),
        Err(err) if err.status() == StatusCode::FORBIDDEN => Err(not_a_member()),
        Err(err) => Err(err),
    }
}

/// `user_id`'s balance (the caller's when `None`) and whose it is.
pub async fn balance<M>(
    ctx: &AppContext,
    tenant: &Tenant<M>,
    user_id: Option<Uuid>,
) -> ApiResult<(Uuid, i64)> {
    let user_id = subject(ctx, tenant, user_id, Role::Trainer).await?;
    let mut tx = tenant.read(&ctx.db).await?;
    let balance = repo::balance(&mut tx, tenant.gym_id, user_id).await?;
    Ok((user_id, balance))
}

/// `user_id`'s ledger (the caller's when `None`), newest first.
pub async fn transactions<M>(
    ctx: &AppContext,
    tenant: &Tenant<M>,
    user_id: Option<Uuid>,
    page: &PageRequest,
) -> ApiResult<Page<TransactionRow>> {
    let user_id = subject(ctx, tenant, user_id, Role::Trainer).await?;
    let before: Option<Uuid> = page.after()?;
    let mut tx = tenant.read(&ctx.db).await?;
    let rows =
        repo::transactions(&mut tx, tenant.gym_id, user_id, before, page.fetch_limit()).await?;
    Ok(page.finish(rows, |row| row.id))
}

/// The caller uses `amount` of their own credits.
pub async fn spend<M>(
    ctx: &AppContext,
    tenant: &Tenant<M>,
    amount: i64,
    reason: &str,
) -> ApiResult<TransactionRow> {
    let mut errors = Vec::new();
    if !(1..=MAX_AMOUNT).contains(&amount) {
        errors.push(FieldError::new(
            "amount",
            format!("must be from 1 to {MAX_AMOUNT}"),
        ));
    }
    let reason = valid_reason(reason, &mut errors);
    if !errors.is_empty() {
        return Err(ApiError::validation(errors));
    }
    let user_id = tenant.user_id;
    change(ctx, tenant, user_id, Kind::Spend, -amount, &reason).await
}

/// An admin's manual change of `user_id`'s balance, either way; it cannot take the balance
/// below zero.
pub async fn adjust<M>(
    ctx: &AppContext,
    tenant: &Tenant<M>,
    user_id: Uuid,
    amount: i64,
    reason: &str,
) -> ApiResult<TransactionRow> {
    tenant.require(Role::Admin)?;
    let mut errors = Vec::new();
    if amount == 0 || amount.abs() > MAX_AMOUNT {
        errors.push(FieldError::new(
            "amount",
            format!("must be from -{MAX_AMOUNT} to {MAX_AMOUNT} and not 0"),
        ));
    }
    let reason = valid_reason(reason, &mut errors);
    if !errors.is_empty() {
        return Err(ApiError::validation(errors));
    }
    let user_id = subject(ctx, tenant, Some(user_id), Role::Admin).await?;
    change(ctx, tenant, user_id, Kind::Adjustment, amount, &reason).await
}

pub(crate) fn valid_reason(reason: &str, errors: &mut Vec<FieldError>) -> String {
    kernel::error::trimmed_name("reason", reason, MAX_REASON_CHARS, errors)
}

/// Moves `amount` (signed) on `user_id`'s balance, appends the ledger row and publishes
/// `credits.changed`, all or nothing.
async fn change<M>(
    ctx: &AppContext,
    tenant: &Tenant<M>,
    user_id: Uuid,
    kind: Kind,
    amount: i64,
    reason: &str,
) -> ApiResult<TransactionRow> {
    let mut tx = tenant.begin(&ctx.db).await?;
    let new = NewTransaction {
        gym_id: tenant.gym_id,
        id: Uuid::now_v7(),
        user_id,
        kind,
        amount,
        reason,
        created_by: tenant.user_id,
        source: None,
    };
    let row = record(&mut tx, &new).await?.ok_or_else(|| {
        ApiError::conflict(
            errors::INSUFFICIENT_CREDITS,
            format!("the balance does not cover {} credits", -amount),
        )
    })?;
    tx.commit().await?;
    Ok(row)
}

/// Applies `new` and publishes `credits.changed` in the caller's transaction; `None` (and
/// nothing written) when a decrease is more than the balance. Purchases and refunds of the
/// payments flows write their ledger rows through here, in the payment's transaction.
pub(crate) async fn record(
    conn: &mut PgConnection,
    new: &NewTransaction<'_>,
) -> ApiResult<Option<TransactionRow>> {
    let Some(row) = repo::apply(conn, new).await? else {
        return Ok(None);
    };
    events::record(
        conn,
        Some(new.gym_id),
        CREDITS_CHANGED,
        serde_json::json!({
            "gym_id": new.gym_id,
            "user_id": new.user_id,
            "transaction_id": row.id,
            "kind": new.kind,
            "delta": row.amount,
            "balance": row.balance_after,
            "changed_by": new.created_by,
        }),
    )
    .await?;
    Ok(Some(row))
}
