//! Refunds: admins give back some or all of a paid payment. The refund row is written first
//! (`pending`), then completed through [`payments::advance`], which takes back the unspent
//! credits; for provider payments the provider call will sit between the two, with the
//! idempotency key `refund:<refund id>`, so a retry completes a pending refund.

use kernel::{ApiError, ApiResult, AppContext, FieldError, Role, Tenant};
use poem::http::StatusCode;
use uuid::Uuid;

use super::payments::{self, no_payment};
use crate::errors;
use crate::repo::payments::{self as payment_repo, PaymentRow, Provider};
use crate::repo::refunds::{self as repo, RefundRow};
use crate::state::Observed;

pub async fn refund<M>(
    ctx: &AppContext,
    tenant: &Tenant<M>,
    payment_id: Uuid,
    amount_minor: Option<i64>,
    reason: &str,
) -> ApiResult<(RefundRow, PaymentRow)> {
    tenant.require(Role::Admin)?;
    let mut errors = Vec::new();
    if amount_minor.is_some_and(|amount| amount < 1) {
        errors.push(FieldError::new("amount_minor", "must be at least 1"));
    }
    let reason = super::credits::valid_reason(reason, &mut errors);
    if !errors.is_empty() {
        return Err(ApiError::validation(errors));
    }
    let mut tx = tenant.begin(&ctx.db).await?;
    // Locked: concurrent refunds of one payment take turns, so they cannot both take the
    // same remainder.
    let payment = payment_repo::lock(&mut tx, tenant.gym_id, payment_id)
        .await?
        .ok_or_else(no_payment)?;
    if !payment.status.was_paid() || payment.refunded_minor == payment.amount_minor {
        return Err(ApiError::conflict(
            errors::PAYMENT_NOT_REFUNDABLE,
            format!("a {} payment cannot be refunded", payment.status.as_str()),
        ));
    }
    if payment.provider != Provider::Manual {
        return Err(ApiError::conflict(
            errors::PROVIDER_UNAVAILABLE,
            "refunds of provider payments need the provider integration, not in this build yet",
        ));
    }
    let in_flight: i64 = repo::pending(&mut tx, tenant.gym_id, payment_id)
        .await?
        .iter()
        .map(|refund| refund.amount_minor)
        .sum();
    let remaining = payment.amount_minor - payment.refunded_minor - in_flight;
    let amount = amount_minor.unwrap_or(remaining);
    if amount > remaining || amount < 1 {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            errors::REFUND_EXCEEDS_REMAINING,
            format!(
                "{amount} is more than the {remaining} minor units of {} left to refund",
                payment.currency
            ),
        )
        .with_errors(vec![FieldError::new(
            "amount_minor",
            format!("at most {remaining}"),
        )]));
    }
    let refund = repo::insert_pending(
        &mut tx,
        tenant.gym_id,
        payment_id,
        amount,
        &reason,
        Some(tenant.user_id),
    )
    .await?;
    // Cash goes back over the counter: the refund is done as it is recorded.
    let observed = Observed::refunded(payment.refunded_minor + in_flight + amount);
    let payment = payments::advance(ctx, &mut tx, tenant.gym_id, payment_id, observed)
        .await?
        .payment();
    let refund = repo::get(&mut tx, tenant.gym_id, refund.id)
        .await?
        .ok_or_else(|| ApiError::internal("a refund written in this transaction is gone"))?;
    tx.commit().await?;
    Ok((refund, payment))
}
