//! What a provider reports about a payment, applied to ours: the webhook job and the
//! reconciliation both re-fetch the payment from the provider and come here, so the provider's
//! current answer, never a webhook's body, moves a payment, and only forward
//! ([`advance`]).

use kernel::{ApiResult, AppContext, db};
use uuid::Uuid;

use super::payments::{Advanced, advance};
use crate::providers::{PaymentStatus, ProviderKind, ProviderPayment};
use crate::repo::payments as repo;
use crate::state::{Observed, Status};

/// What applying a provider's answer did, for the inbox's records and the logs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Applied {
    /// The payment moved to this status.
    Moved(Status),
    /// It was there already.
    Unchanged(Status),
    /// The answer contradicts the payment (or names another amount): logged, not applied.
    Refused(String),
    /// No payment of ours has this reference.
    NotOurs,
}

impl Applied {
    pub fn describe(&self) -> String {
        match self {
            Applied::Moved(status) => format!("moved to {}", status.as_str()),
            Applied::Unchanged(status) => format!("unchanged ({})", status.as_str()),
            Applied::Refused(why) => format!("refused: {why}"),
            Applied::NotOurs => "not a payment of ours".into(),
        }
    }
}

pub fn observed(payment: &ProviderPayment) -> Observed {
    let status = match payment.status {
        PaymentStatus::Pending => Status::Pending,
        PaymentStatus::Succeeded => Status::Succeeded,
        PaymentStatus::Failed => Status::Failed,
        PaymentStatus::Cancelled => Status::Cancelled,
        PaymentStatus::Refunded => Status::Refunded,
        PaymentStatus::PartiallyRefunded => Status::PartiallyRefunded,
    };
    Observed {
        status,
        refunded_minor: payment.refunded_minor,
    }
}

/// Our payment id in a provider's answer.
pub fn payment_id_of(payment: &ProviderPayment) -> Option<Uuid> {
    payment
        .external_reference
        .as_deref()
        .and_then(|reference| reference.parse().ok())
}

/// Applies `fetched` to our payment `payment_id` of `gym_id`, in a transaction of its own.
pub async fn apply(
    ctx: &AppContext,
    gym_id: Uuid,
    payment_id: Uuid,
    kind: ProviderKind,
    fetched: &ProviderPayment,
) -> ApiResult<Applied> {
    let mut tx = db::begin_tenant(&ctx.db, gym_id).await?;
    let Some(payment) = repo::get(&mut tx, gym_id, payment_id).await? else {
        return Ok(Applied::NotOurs);
    };
    if super::checkout::provider_of(kind) != payment.provider {
        return Ok(Applied::NotOurs);
    }
    if payment.amount_minor != fetched.amount_minor
        || !payment.currency.eq_ignore_ascii_case(&fetched.currency)
    {
        tracing::warn!(
            %gym_id,
            %payment_id,
            ours = payment.amount_minor,
            theirs = fetched.amount_minor,
            currency = %fetched.currency,
            "a provider reports another amount for a payment; not applied"
        );
        return Ok(Applied::Refused(format!(
            "the provider reports {} {}, the payment is {} {}",
            fetched.amount_minor, fetched.currency, payment.amount_minor, payment.currency
        )));
    }
    let applied = match advance(ctx, &mut tx, gym_id, payment_id, observed(fetched)).await? {
        Advanced::Moved(row) => Applied::Moved(row.status),
        Advanced::Unchanged(row) => Applied::Unchanged(row.status),
        Advanced::Refused(row) => Applied::Refused(format!(
            "{} cannot become {}",
            row.status.as_str(),
            fetched.status.as_str()
        )),
    };
    if let (Some(subscription_ref), Some(plan_id)) = (&fetched.subscription_ref, payment.product_id)
    {
        // A subscription checkout: its later invoices and changes find the membership by it.
        crate::repo::subscriptions::link_provider(
            &mut tx,
            gym_id,
            (payment.user_id, plan_id),
            payment.provider,
            subscription_ref,
        )
        .await?;
    }
    if fetched.status != PaymentStatus::Pending {
        // From now on the payment itself is what we fetch and refund (for MercadoPago, its
        // payment id rather than the checkout preference).
        repo::set_provider_ref(&mut tx, gym_id, payment_id, &fetched.provider_ref).await?;
    }
    tx.commit().await?;
    Ok(applied)
}
