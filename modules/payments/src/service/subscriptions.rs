//! Memberships: created or extended by a paid plan, past due after a failed renewal (for
//! `[payments] grace_days`), cancelled by the member or an admin, ended when grace or the
//! paid period is over ([`end_lapsed`], a schedule). A membership a provider bills (a Stripe
//! subscription) also follows what the provider says of it ([`provider_says`]), and its
//! cancellation here is sent there ([`CANCEL_AT_PROVIDER`]). Every change publishes
//! `subscription.changed`.

use kernel::jobs::{self, NewJob};
use kernel::pagination::{Page, PageRequest};
use kernel::{ApiError, ApiResult, AppContext, Role, Tenant, db, events};
use sqlx::PgConnection;
use uuid::Uuid;

use crate::errors;
use crate::repo::payments::{PaymentRow, Provider};
use crate::repo::products::{Interval, ProductRow};
use crate::repo::subscriptions::{self as repo, SubscriptionRow, SubscriptionStatus};
use crate::settings::PaymentSettings;

pub const SUBSCRIPTION_CHANGED: &str = "subscription.changed";
/// The job that tells the provider a membership cancelled here renews no more.
pub const CANCEL_AT_PROVIDER: &str = "payments.cancel_subscription_at_provider";

fn no_subscription() -> ApiError {
    ApiError::not_found("no membership with this id in this tenant")
}

/// A paid plan: the member's membership of it starts, or runs one period longer.
pub async fn paid(
    conn: &mut PgConnection,
    gym_id: Uuid,
    payment: &PaymentRow,
    plan: &ProductRow,
) -> ApiResult<SubscriptionRow> {
    let period = (
        plan.interval_unit.unwrap_or(Interval::Month),
        plan.interval_count.unwrap_or(1),
    );
    let row = repo::extend(
        conn,
        gym_id,
        payment.user_id,
        plan.id,
        period,
        payment.provider,
    )
    .await?;
    publish(conn, gym_id, &row, Some(payment.id)).await?;
    Ok(row)
}

/// A renewal of the plan failed: the active membership stays usable, past due, for the
/// configured grace.
pub async fn renewal_failed(
    ctx: &AppContext,
    conn: &mut PgConnection,
    gym_id: Uuid,
    user_id: Uuid,
    plan_id: Uuid,
) -> ApiResult<Option<SubscriptionRow>> {
    let grace_days = PaymentSettings::of(&ctx.settings).grace_days;
    let row = repo::past_due(
        conn,
        gym_id,
        user_id,
        plan_id,
        i32::try_from(grace_days).unwrap_or(i32::MAX),
    )
    .await?;
    if let Some(row) = &row {
        publish(conn, gym_id, row, None).await?;
    }
    Ok(row)
}

/// The member themself, or an admin, cancels a live membership; it stays usable until the
/// end of the paid period.
pub async fn cancel<M>(
    ctx: &AppContext,
    tenant: &Tenant<M>,
    id: Uuid,
) -> ApiResult<SubscriptionRow> {
    let mut tx = tenant.begin(&ctx.db).await?;
    let current = repo::get(&mut tx, tenant.gym_id, id)
        .await?
        .ok_or_else(no_subscription)?;
    if current.user_id != tenant.user_id {
        tenant.require(Role::Admin)?;
    }
    let row = repo::cancel(&mut tx, tenant.gym_id, id)
        .await?
        .ok_or_else(|| {
            ApiError::conflict(
                errors::SUBSCRIPTION_NOT_LIVE,
                "this membership is cancelled or ended already",
            )
        })?;
    publish(&mut tx, tenant.gym_id, &row, None).await?;
    if row.provider == Some(Provider::Stripe) && row.provider_ref.is_some() {
        // Stripe would charge the next period otherwise; told after commit, by a job that
        // retries while Stripe is unreachable.
        let job = NewJob::new(
            CANCEL_AT_PROVIDER,
            serde_json::json!({ "gym_id": tenant.gym_id, "subscription_id": row.id }),
        )
        .for_tenant(tenant.gym_id);
        jobs::enqueue(&mut tx, job).await?;
    }
    tx.commit().await?;
    Ok(row)
}

/// What a provider says of a membership it bills.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProviderSays {
    /// Over (Stripe: `canceled`, `incomplete_expired`).
    Ended,
    /// Renews no more: usable until the period's end (`cancel_at_period_end`).
    EndsWithPeriod,
    /// Paid up (`active`, `trialing`): a past-due membership is active again.
    PaidUp,
    /// A renewal is unpaid (`past_due`, `unpaid`).
    Unpaid,
}

/// Applies what the provider says of `user_id`'s membership of `plan_id`, forward only: an
/// ended membership stays ended, a cancelled one is not revived. The changed row, if any.
pub async fn provider_says(
    ctx: &AppContext,
    conn: &mut PgConnection,
    gym_id: Uuid,
    (user_id, plan_id): (Uuid, Uuid),
    says: ProviderSays,
) -> ApiResult<Option<SubscriptionRow>> {
    use SubscriptionStatus::{Active, Cancelled, Ended, PastDue};
    let (from, to): (&[SubscriptionStatus], SubscriptionStatus) = match says {
        ProviderSays::Unpaid => {
            return renewal_failed(ctx, conn, gym_id, user_id, plan_id).await;
        }
        ProviderSays::Ended => (&[Active, PastDue, Cancelled], Ended),
        ProviderSays::EndsWithPeriod => (&[Active, PastDue], Cancelled),
        ProviderSays::PaidUp => (&[PastDue], Active),
    };
    let row = repo::move_live(conn, gym_id, (user_id, plan_id), from, to).await?;
    if let Some(row) = &row {
        publish(conn, gym_id, row, None).await?;
    }
    Ok(row)
}

/// Memberships newest first: the caller's own (`mine`), or for staff (trainer and up)
/// everyone's or one member's.
pub async fn list<M>(
    ctx: &AppContext,
    tenant: &Tenant<M>,
    mine: bool,
    member_id: Option<Uuid>,
    page: &PageRequest,
) -> ApiResult<Page<SubscriptionRow>> {
    let user_id = if mine {
        Some(tenant.user_id)
    } else {
        tenant.require(Role::Trainer)?;
        member_id
    };
    let before: Option<Uuid> = page.after()?;
    let mut tx = tenant.read(&ctx.db).await?;
    let rows = repo::page(&mut tx, tenant.gym_id, user_id, before, page.fetch_limit()).await?;
    Ok(page.finish(rows, |row| row.id))
}

/// Ends every tenant's memberships whose grace or paid period is over; how many.
pub async fn end_lapsed(ctx: &AppContext) -> anyhow::Result<usize> {
    let mut ended = 0;
    let mut tenants = ctx.every_tenant();
    while let Some(batch) = tenants.next_batch().await? {
        for gym_id in batch {
            let mut tx = db::begin_tenant(&ctx.db, gym_id).await?;
            let rows = repo::end_lapsed(&mut tx, gym_id).await?;
            for row in &rows {
                publish(&mut tx, gym_id, row, None).await?;
            }
            tx.commit().await?;
            ended += rows.len();
        }
    }
    Ok(ended)
}

async fn publish(
    conn: &mut PgConnection,
    gym_id: Uuid,
    row: &SubscriptionRow,
    payment_id: Option<Uuid>,
) -> ApiResult<()> {
    events::record(
        conn,
        Some(gym_id),
        SUBSCRIPTION_CHANGED,
        serde_json::json!({
            "gym_id": gym_id,
            "subscription_id": row.id,
            "user_id": row.user_id,
            "product_id": row.product_id,
            "status": row.status,
            "current_period_end": row.current_period_end,
            "grace_until": row.grace_until,
            "payment_id": payment_id,
        }),
    )
    .await?;
    Ok(())
}
