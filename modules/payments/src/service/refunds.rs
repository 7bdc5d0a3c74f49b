//! Refunds: admins give back some or all of a paid payment. The refund row is written first
//! (`pending`), then completed through [`payments::advance`], which takes back the unspent
//! credits. Cash goes back over the counter, so a manual payment's refund completes in the
//! transaction that writes it. A provider payment's refund is asked of the provider between
//! the two, with the idempotency key `refund:<refund id>`: when the provider cannot be
//! reached the refund stays `pending` and the request answers 503; asking again (same amount,
//! or none) resumes that same row with the same key, so the provider replays or completes its
//! refund and nothing is given back, or taken back in credits, twice. One provider refund of
//! a payment is in flight at a time.

use kernel::{ApiError, ApiResult, AppContext, FieldError, Role, Tenant};
use poem::http::StatusCode;
use uuid::Uuid;

use super::payments::{self, no_payment};
use super::providers::{self, problem};
use crate::errors;
use crate::providers::{ProviderKind, RefundRequest, RefundStatus as ProviderRefundStatus};
use crate::repo::payments::{self as payment_repo, PaymentRow, Provider};
use crate::repo::refunds::{self as repo, RefundRow, RefundStatus};
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
    let in_flight = repo::pending(&mut tx, tenant.gym_id, payment_id).await?;
    if payment.provider != Provider::Manual
        && let Some(resumed) = in_flight.first()
    {
        if amount_minor.is_some_and(|amount| amount != resumed.amount_minor) {
            return Err(ApiError::conflict(
                errors::REFUND_IN_PROGRESS,
                format!(
                    "a refund of {} {} is still being made at the provider: ask for that amount (or none) to complete it",
                    resumed.amount_minor, payment.currency
                ),
            ));
        }
        let resumed = resumed.clone();
        tx.commit().await?;
        return at_provider(ctx, tenant, payment, resumed).await;
    }
    if !payment.status.was_paid() || payment.refunded_minor == payment.amount_minor {
        return Err(not_refundable(&payment));
    }
    if payment.provider != Provider::Manual && payment.provider_ref.is_none() {
        return Err(not_refundable(&payment));
    }
    let in_flight: i64 = in_flight.iter().map(|refund| refund.amount_minor).sum();
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
    if payment.provider != Provider::Manual {
        // Committed before the provider is asked: a crash or an outage from here on leaves
        // this pending row, which the next request resumes with the same idempotency key.
        tx.commit().await?;
        return at_provider(ctx, tenant, payment, refund).await;
    }
    // Cash goes back over the counter: the refund is done as it is recorded.
    let observed = Observed::refunded(payment.refunded_minor + in_flight + amount);
    let payment = payments::advance(ctx, &mut tx, tenant.gym_id, payment_id, observed)
        .await?
        .payment();
    let refund = reread(&mut tx, tenant.gym_id, refund.id).await?;
    tx.commit().await?;
    Ok((refund, payment))
}

fn not_refundable(payment: &PaymentRow) -> ApiError {
    ApiError::conflict(
        errors::PAYMENT_NOT_REFUNDABLE,
        format!("a {} payment cannot be refunded", payment.status.as_str()),
    )
}

async fn reread(conn: &mut sqlx::PgConnection, gym_id: Uuid, id: Uuid) -> ApiResult<RefundRow> {
    repo::get(conn, gym_id, id)
        .await?
        .ok_or_else(|| ApiError::internal("a refund written in this transaction is gone"))
}

fn kind_of(provider: Provider) -> ApiResult<ProviderKind> {
    match provider {
        Provider::Stripe => Ok(ProviderKind::Stripe),
        Provider::Mercadopago => Ok(ProviderKind::MercadoPago),
        Provider::Manual => Err(ApiError::internal("a manual payment has no provider")),
    }
}

/// Asks the provider for the pending `refund` and applies its answer.
async fn at_provider<M>(
    ctx: &AppContext,
    tenant: &Tenant<M>,
    payment: PaymentRow,
    refund: RefundRow,
) -> ApiResult<(RefundRow, PaymentRow)> {
    let kind = kind_of(payment.provider)?;
    let resolved = {
        let mut read = tenant.read(&ctx.db).await?;
        providers::for_tenant(ctx, &mut read, tenant.gym_id, kind).await?
    };
    let request = RefundRequest {
        provider_ref: payment.provider_ref.clone().unwrap_or_default(),
        amount_minor: Some(refund.amount_minor),
        currency: payment.currency.clone(),
        reason: Some(refund.reason.clone()),
        idempotency_key: format!("refund:{}", refund.id),
        destination_charge: payment.connect_account.is_some(),
    };
    let answer = resolved.provider.refund(&request).await;
    let mut tx = tenant.begin(&ctx.db).await?;
    let done = match answer {
        Ok(done) => done,
        Err(err) if err.is_retryable() => {
            return Err(ApiError::unavailable(
                errors::PROVIDER_UNAVAILABLE,
                format!(
                    "{err}; the refund is recorded as pending: ask again (same amount, or none) to complete it"
                ),
            )
            .with_retry_after(5));
        }
        Err(err) => {
            repo::fail(&mut tx, tenant.gym_id, refund.id).await?;
            tx.commit().await?;
            return Err(problem(err));
        }
    };
    repo::set_provider_ref(&mut tx, tenant.gym_id, refund.id, &done.refund_ref).await?;
    let current = payment_repo::lock(&mut tx, tenant.gym_id, payment.id)
        .await?
        .ok_or_else(no_payment)?;
    let still_pending =
        reread(&mut tx, tenant.gym_id, refund.id).await?.status == RefundStatus::Pending;
    let payment = match done.status {
        // A webhook about this refund may have completed it already: then nothing is left to do.
        ProviderRefundStatus::Succeeded if still_pending => {
            let observed = Observed::refunded(current.refunded_minor + refund.amount_minor);
            payments::advance(ctx, &mut tx, tenant.gym_id, payment.id, observed)
                .await?
                .payment()
        }
        ProviderRefundStatus::Failed => {
            repo::fail(&mut tx, tenant.gym_id, refund.id).await?;
            current
        }
        // Still being made at the provider: its webhook (or a retry) completes it.
        ProviderRefundStatus::Succeeded | ProviderRefundStatus::Pending => current,
    };
    let refund = reread(&mut tx, tenant.gym_id, refund.id).await?;
    tx.commit().await?;
    Ok((refund, payment))
}
