//! Provider subscriptions after their checkout (Stripe): what its invoices and the
//! subscription itself say, re-fetched by the webhook job, moves the membership forward.
//!
//! - Both objects carry, in their metadata, the payment id of the checkout that started the
//!   subscription; that payment names the member and the plan.
//! - A paid renewal invoice becomes a succeeded payment of ours, unique on the invoice id
//!   (the provider reference), so it extends the membership once however often and in
//!   whatever order its events come ([`payments::advance`] runs the effects on the one move
//!   to `succeeded`).
//! - The first invoice is the period the checkout paid: it never makes a payment of its own,
//!   it only has the checkout's payment fetched and applied, which then extends once whichever
//!   of its events arrives first.
//! - An unpaid renewal makes the membership past due; the subscription's own state ends,
//!   cancels or revives it ([`subscriptions::provider_says`]).
//! - A membership cancelled through our API is cancelled at the provider at the period's end
//!   ([`cancel_at_provider`], a job with the idempotency key `subscription-cancel:<row id>`).

use kernel::{AppContext, db};
use uuid::Uuid;

use super::payments::{Advanced, advance};
use super::subscriptions::{self, ProviderSays};
use super::sync::{self, Applied};
use super::{checkout, providers};
use crate::providers::{
    InvoiceStatus, PaymentProvider, ProviderInvoice, ProviderKind, ProviderSubscription,
    SubscriptionState,
};
use crate::repo::payments::{self as payments_repo, NewPayment, PaymentRow};
use crate::repo::products::{self as products_repo, ProductKind, ProductRow};
use crate::repo::subscriptions as subscriptions_repo;
use crate::state::{Observed, Status};

/// The payment that started a subscription, and its plan, in the tenant's transaction.
async fn started(
    conn: &mut sqlx::PgConnection,
    gym_id: Uuid,
    payment_id: Uuid,
    kind: ProviderKind,
) -> Result<Option<(PaymentRow, ProductRow)>, sqlx::Error> {
    let Some(payment) = payments_repo::get(conn, gym_id, payment_id).await? else {
        return Ok(None);
    };
    if payment.provider != checkout::provider_of(kind) {
        return Ok(None);
    }
    let Some(product_id) = payment.product_id else {
        return Ok(None);
    };
    let plan = products_repo::get(conn, gym_id, product_id)
        .await?
        .filter(|product| product.kind == ProductKind::Plan);
    Ok(plan.map(|plan| (payment, plan)))
}

/// Applies a re-fetched invoice of the subscription started by our payment `started_by` of
/// `gym_id`; what it did, for the inbox. `reported_failed`: the webhook was a failed payment
/// (an open invoice is a failure only then; a fresh one is merely not paid yet).
pub async fn invoice(
    ctx: &AppContext,
    provider: &dyn PaymentProvider,
    gym_id: Uuid,
    started_by: Uuid,
    invoice: &ProviderInvoice,
    reported_failed: bool,
) -> anyhow::Result<String> {
    let kind = provider.kind();
    match invoice.status {
        InvoiceStatus::Paid if invoice.first => {
            first_paid(ctx, provider, gym_id, started_by, kind).await
        }
        InvoiceStatus::Paid => renewed(ctx, gym_id, started_by, kind, invoice).await,
        InvoiceStatus::Open | InvoiceStatus::Uncollectible if reported_failed && !invoice.first => {
            renewal_failed(ctx, gym_id, started_by, kind, invoice).await
        }
        _ if invoice.first => Ok("skipped: the first invoice is its checkout's".into()),
        // Open but not reported failed (not charged yet), a draft, or voided: nothing is owed
        // or lost yet.
        status => Ok(format!("skipped: nothing to do for a {status:?} invoice")),
    }
}

/// The first invoice is paid: so is the checkout's payment, which is fetched and applied
/// like its own webhook would have it (the membership starts once, whichever comes first).
async fn first_paid(
    ctx: &AppContext,
    provider: &dyn PaymentProvider,
    gym_id: Uuid,
    started_by: Uuid,
    kind: ProviderKind,
) -> anyhow::Result<String> {
    let payment = {
        let mut read = db::read_tenant(&ctx.db, gym_id).await?;
        started(&mut read, gym_id, started_by, kind).await?
    };
    let Some((payment, _plan)) = payment else {
        return Ok(Applied::NotOurs.describe());
    };
    if payment.status != Status::Pending {
        return Ok(format!(
            "unchanged: its checkout's payment is {} already",
            payment.status.as_str()
        ));
    }
    let Some(checkout_ref) = payment.provider_ref.as_deref() else {
        return Ok("skipped: its checkout has no provider reference yet".into());
    };
    let fetched = provider.fetch_payment(checkout_ref).await?;
    let applied = sync::apply(ctx, gym_id, payment.id, kind, &fetched).await?;
    Ok(format!("its checkout's payment: {}", applied.describe()))
}

/// A renewal is paid: a succeeded payment of ours for the invoice (created once), which
/// extends the membership one period.
async fn renewed(
    ctx: &AppContext,
    gym_id: Uuid,
    started_by: Uuid,
    kind: ProviderKind,
    invoice: &ProviderInvoice,
) -> anyhow::Result<String> {
    if invoice.amount_minor <= 0 {
        // A free period (a coupon, a trial) takes no payment; the membership stays as it is.
        return Ok("skipped: nothing was paid for this period".into());
    }
    let mut tx = db::begin_tenant(&ctx.db, gym_id).await?;
    let Some((started, plan)) = started(&mut tx, gym_id, started_by, kind).await? else {
        return Ok(Applied::NotOurs.describe());
    };
    let new = NewPayment {
        id: Uuid::now_v7(),
        user_id: started.user_id,
        product_id: Some(plan.id),
        amount_minor: invoice.amount_minor,
        currency: &invoice.currency,
        provider: started.provider,
        method: None,
        recorded_by: None,
        note: None,
    };
    let payment_id =
        match payments_repo::insert_pending_with_ref(&mut tx, gym_id, &new, &invoice.invoice_ref)
            .await?
        {
            Some(created) => created.id,
            None => {
                payments_repo::by_provider_ref(&mut tx, gym_id, new.provider, &invoice.invoice_ref)
                    .await?
                    .ok_or_else(|| anyhow::anyhow!("the renewal's payment vanished"))?
                    .id
            }
        };
    let outcome = match advance(ctx, &mut tx, gym_id, payment_id, paid()).await? {
        Advanced::Moved(row) => format!("renewal payment {} succeeded", row.id),
        Advanced::Unchanged(row) => format!(
            "unchanged: renewal payment {} is {}",
            row.id,
            row.status.as_str()
        ),
        Advanced::Refused(row) => format!(
            "refused: renewal payment {} is {}",
            row.id,
            row.status.as_str()
        ),
    };
    link(
        &mut tx,
        gym_id,
        &started,
        invoice.subscription_ref.as_deref(),
    )
    .await?;
    tx.commit().await?;
    Ok(outcome)
}

fn paid() -> Observed {
    Observed::status(Status::Succeeded)
}

/// A renewal's payment failed: the membership is past due for the configured grace.
async fn renewal_failed(
    ctx: &AppContext,
    gym_id: Uuid,
    started_by: Uuid,
    kind: ProviderKind,
    invoice: &ProviderInvoice,
) -> anyhow::Result<String> {
    let mut tx = db::begin_tenant(&ctx.db, gym_id).await?;
    let Some((started, plan)) = started(&mut tx, gym_id, started_by, kind).await? else {
        return Ok(Applied::NotOurs.describe());
    };
    let row = subscriptions::provider_says(
        ctx,
        &mut tx,
        gym_id,
        (started.user_id, plan.id),
        ProviderSays::Unpaid,
    )
    .await?;
    link(
        &mut tx,
        gym_id,
        &started,
        invoice.subscription_ref.as_deref(),
    )
    .await?;
    tx.commit().await?;
    Ok(match row {
        Some(row) => format!("membership {} past due", row.id),
        None => "unchanged: no active membership".into(),
    })
}

/// Applies a re-fetched subscription started by our payment `started_by` of `gym_id`.
pub async fn subscription(
    ctx: &AppContext,
    kind: ProviderKind,
    gym_id: Uuid,
    started_by: Uuid,
    subscription: &ProviderSubscription,
) -> anyhow::Result<String> {
    let says = match subscription.state {
        SubscriptionState::Canceled | SubscriptionState::IncompleteExpired => ProviderSays::Ended,
        _ if subscription.cancel_at_period_end => ProviderSays::EndsWithPeriod,
        SubscriptionState::Active | SubscriptionState::Trialing => ProviderSays::PaidUp,
        SubscriptionState::PastDue | SubscriptionState::Unpaid => ProviderSays::Unpaid,
        SubscriptionState::Other => {
            return Ok("skipped: the subscription is neither live nor over".into());
        }
    };
    let mut tx = db::begin_tenant(&ctx.db, gym_id).await?;
    let Some((started, plan)) = started(&mut tx, gym_id, started_by, kind).await? else {
        return Ok(Applied::NotOurs.describe());
    };
    let row = subscriptions::provider_says(ctx, &mut tx, gym_id, (started.user_id, plan.id), says)
        .await?;
    link(
        &mut tx,
        gym_id,
        &started,
        Some(&subscription.subscription_ref),
    )
    .await?;
    tx.commit().await?;
    Ok(match row {
        Some(row) => format!("membership {} {}", row.id, row.status.as_str()),
        None => format!("unchanged ({says:?})"),
    })
}

/// Remembers which provider subscription bills the member's membership of the plan.
async fn link(
    conn: &mut sqlx::PgConnection,
    gym_id: Uuid,
    started: &PaymentRow,
    subscription_ref: Option<&str>,
) -> Result<(), sqlx::Error> {
    match (subscription_ref, started.product_id) {
        (Some(subscription_ref), Some(plan_id)) => {
            subscriptions_repo::link_provider(
                conn,
                gym_id,
                (started.user_id, plan_id),
                started.provider,
                subscription_ref,
            )
            .await
        }
        _ => Ok(()),
    }
}

/// Tells the provider that membership `subscription_id` of `gym_id`, cancelled here, renews no
/// more. Retryable failures fail the job (the queue retries with the same key); a refusal is
/// logged: the membership is cancelled here whatever the provider says.
pub async fn cancel_at_provider(
    ctx: &AppContext,
    gym_id: Uuid,
    subscription_id: Uuid,
) -> anyhow::Result<()> {
    let mut read = db::read_tenant(&ctx.db, gym_id).await?;
    let Some(row) = subscriptions_repo::get(&mut read, gym_id, subscription_id).await? else {
        return Ok(());
    };
    let Some(subscription_ref) = row.provider_ref.as_deref() else {
        return Ok(());
    };
    let resolved = providers::for_tenant(ctx, &mut read, gym_id, ProviderKind::Stripe).await?;
    drop(read);
    let key = format!("subscription-cancel:{subscription_id}");
    match resolved
        .provider
        .cancel_at_period_end(subscription_ref, &key)
        .await
    {
        Ok(_) => Ok(()),
        Err(err) if err.is_retryable() => Err(err.into()),
        Err(err) => {
            tracing::warn!(
                %gym_id,
                %subscription_id,
                error = %err,
                "the provider refused to stop a cancelled membership's renewals"
            );
            Ok(())
        }
    }
}
