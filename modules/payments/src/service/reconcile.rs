//! Reconciliation: provider payments still `pending` after `[payments]
//! reconcile_after_minutes` (their webhooks lost, or never sent: MercadoPago sends none for
//! test credentials) are asked about at the provider, and the answer is applied like a
//! webhook's ([`sync::apply`]). A checkout past its expiry of which the provider knows no
//! payment is cancelled. Runs from a schedule, which the job queue runs once per period
//! across instances; each payment is applied in a transaction of its own through
//! [`advance`](super::payments::advance), so a run that overlaps another, or a webhook, only
//! finds the work done.

use chrono::{Duration, Utc};
use kernel::{ApiResult, AppContext, db};
use uuid::Uuid;

use super::payments::advance;
use super::providers;
use super::sync::{self, Applied};
use crate::providers::{PaymentStatus, ProviderKind, ProviderPayment, ProviderResult};
use crate::repo::payments::{self as repo, PaymentRow, Provider};
use crate::settings::PaymentSettings;
use crate::state::{Observed, Status};

/// Payments asked about per tenant and run.
const BATCH: i64 = 100;

/// Reconciles every tenant's stale pending provider payments; how many moved.
pub async fn run(ctx: &AppContext) -> anyhow::Result<usize> {
    let settings = PaymentSettings::of(&ctx.settings);
    let before = Utc::now() - Duration::minutes(i64::from(settings.reconcile_after_minutes));
    let mut moved = 0;
    let mut tenants = ctx.every_tenant();
    while let Some(batch) = tenants.next_batch().await? {
        for gym_id in batch {
            let stale = {
                let mut read = db::read_tenant(&ctx.db, gym_id).await?;
                repo::pending_since(&mut read, gym_id, before, BATCH).await?
            };
            for payment in stale {
                match reconcile(ctx, gym_id, &payment).await {
                    Ok(Applied::Moved(status)) => {
                        tracing::info!(%gym_id, payment_id = %payment.id, status = status.as_str(), "reconciled a pending payment");
                        moved += 1;
                    }
                    Ok(_) => {}
                    // One provider down must not stop the others; the next run asks again.
                    Err(err) => {
                        tracing::warn!(%gym_id, payment_id = %payment.id, error = %err, "could not reconcile a pending payment")
                    }
                }
            }
        }
    }
    Ok(moved)
}

/// Asks the provider about one pending payment and applies the answer.
async fn reconcile(
    ctx: &AppContext,
    gym_id: Uuid,
    payment: &PaymentRow,
) -> anyhow::Result<Applied> {
    let kind = match payment.provider {
        Provider::Stripe => ProviderKind::Stripe,
        Provider::Mercadopago => ProviderKind::MercadoPago,
        Provider::Manual => return Ok(Applied::NotOurs),
    };
    let resolved = {
        let mut read = db::read_tenant(&ctx.db, gym_id).await?;
        providers::for_tenant(ctx, &mut read, gym_id, kind).await?
    };
    let found = ask(resolved.provider.as_ref(), kind, payment).await?;
    let expired = payment
        .checkout_expires_at
        .is_some_and(|expires_at| expires_at < Utc::now());
    match found {
        Some(fetched) if fetched.status != PaymentStatus::Pending || !expired => {
            Ok(sync::apply(ctx, gym_id, payment.id, kind, &fetched).await?)
        }
        // Nothing paid, and the checkout no longer takes payment.
        _ if expired => Ok(cancel(ctx, gym_id, payment.id).await?),
        _ => Ok(Applied::Unchanged(Status::Pending)),
    }
}

/// The payment as the provider has it: Stripe by its checkout session (which says when it
/// expired), MercadoPago by our external reference (its checkout preference is no payment).
async fn ask(
    provider: &dyn crate::providers::PaymentProvider,
    kind: ProviderKind,
    payment: &PaymentRow,
) -> ProviderResult<Option<ProviderPayment>> {
    match (kind, payment.provider_ref.as_deref()) {
        (ProviderKind::Stripe, Some(reference)) => {
            provider.fetch_payment(reference).await.map(Some)
        }
        _ => {
            provider
                .find_by_external_reference(&payment.id.to_string())
                .await
        }
    }
}

async fn cancel(ctx: &AppContext, gym_id: Uuid, payment_id: Uuid) -> ApiResult<Applied> {
    let mut tx = db::begin_tenant(&ctx.db, gym_id).await?;
    let advanced = advance(
        ctx,
        &mut tx,
        gym_id,
        payment_id,
        Observed::status(Status::Cancelled),
    )
    .await?;
    tx.commit().await?;
    Ok(match advanced {
        super::payments::Advanced::Moved(row) => Applied::Moved(row.status),
        super::payments::Advanced::Unchanged(row) => Applied::Unchanged(row.status),
        super::payments::Advanced::Refused(row) => Applied::Refused(row.status.as_str().into()),
    })
}
