//! Provider webhooks: verified on their raw bytes, each event stored once in the inbox
//! (`provider_events`, unique on provider and event key) with a job enqueued in the same
//! transaction for new events only, and answered at once. The job ([`process`]) treats the
//! event as a hint: it re-fetches the object from the provider and applies that answer
//! ([`sync::apply`]; invoices and subscriptions: [`renewals`]), so duplicates, reordered and
//! forged-but-replayed events all converge on what the provider says now.

use chrono::Utc;
use kernel::jobs::{self, NewJob};
use kernel::{ApiError, ApiResult, AppContext, db};
use poem::http::StatusCode;
use uuid::Uuid;

use super::connect;
use super::providers::{self, Resolved};
use super::renewals;
use super::sync::{self, Applied};
use crate::errors;
use crate::providers::{EventKind, ProviderError, ProviderKind, WebhookRequest};
use crate::repo::events as repo;

/// The job that handles one stored event.
pub const PROVIDER_EVENT: &str = "payments.provider_event";

/// Where a webhook arrived: the platform's endpoint, or a tenant's own.
#[derive(Debug, Clone, Copy)]
pub enum Endpoint {
    Platform,
    Tenant(Uuid),
}

/// Verifies and stores a webhook; how many of its events were new.
pub async fn receive(
    ctx: &AppContext,
    kind: ProviderKind,
    endpoint: Endpoint,
    request: &WebhookRequest<'_>,
) -> ApiResult<usize> {
    let (resolved, gym_id) = match endpoint {
        Endpoint::Platform => (
            providers::for_platform(ctx, kind).map_err(providers::problem)?,
            None,
        ),
        Endpoint::Tenant(gym_id) => (tenant_provider(ctx, gym_id, kind).await?, Some(gym_id)),
    };
    let events = resolved
        .provider
        .verify_webhook(request, Utc::now(), &resolved.webhook_secrets)
        .map_err(|err| match err {
            ProviderError::InvalidSignature(detail) => ApiError::new(
                StatusCode::UNAUTHORIZED,
                errors::INVALID_WEBHOOK_SIGNATURE,
                detail,
            ),
            ProviderError::MalformedWebhook(detail) => {
                ApiError::bad_request(errors::MALFORMED_WEBHOOK, detail)
            }
            other => providers::problem(other),
        })?;
    if events.is_empty() {
        return Ok(0);
    }
    let mut tx = db::begin(&ctx.db).await?;
    let mut stored = 0;
    for event in &events {
        if let Some(id) = repo::insert_new(&mut tx, kind, gym_id, event).await? {
            let mut job = NewJob::new(PROVIDER_EVENT, serde_json::json!({ "event_id": id }));
            if let Some(gym_id) = gym_id {
                job = job.for_tenant(gym_id);
            }
            jobs::enqueue(&mut tx, job).await?;
            stored += 1;
        }
    }
    tx.commit().await?;
    Ok(stored)
}

/// A tenant's provider, for its own endpoint: 404 for a tenant that does not exist.
async fn tenant_provider(
    ctx: &AppContext,
    gym_id: Uuid,
    kind: ProviderKind,
) -> ApiResult<Resolved> {
    ctx.tenants.tenant(ctx, gym_id).await?;
    let mut read = db::read_tenant(&ctx.db, gym_id).await?;
    providers::for_tenant(ctx, &mut read, gym_id, kind).await
}

/// Handles the stored event `event_id` once: re-fetches what it names and applies it.
/// Errors worth retrying (the provider or the database unavailable) fail the job, which
/// the queue retries; everything else is recorded on the event as its outcome.
pub async fn process(ctx: &AppContext, event_id: Uuid) -> anyhow::Result<()> {
    let event = {
        let mut conn = ctx.db.acquire().await?;
        repo::get(&mut conn, event_id).await?
    };
    let Some(event) = event else {
        return Ok(());
    };
    if event.processed_at.is_some() {
        return Ok(());
    }
    let kind: ProviderKind = event.provider.parse()?;
    let event_kind: EventKind =
        serde_json::from_value(serde_json::Value::String(event.kind.clone()))?;
    let (gym_id, outcome) = match event_kind {
        EventKind::CheckoutCompleted
        | EventKind::CheckoutExpired
        | EventKind::PaymentSucceeded
        | EventKind::PaymentFailed
        | EventKind::PaymentUpdated
        | EventKind::Refunded => payment_event(ctx, kind, event.gym_id, &event.object_ref).await?,
        // Stripe Connect onboarding: the account's state is read from Stripe, never taken
        // from the event.
        EventKind::AccountUpdated => {
            connect::account_updated(ctx, &event.object_ref).await?;
            (event.gym_id, "applied".to_string())
        }
        EventKind::InvoicePaid | EventKind::InvoicePaymentFailed => {
            let reported_failed = event_kind == EventKind::InvoicePaymentFailed;
            invoice_event(ctx, kind, event.gym_id, &event.object_ref, reported_failed).await?
        }
        EventKind::SubscriptionUpdated | EventKind::SubscriptionDeleted => {
            subscription_event(ctx, kind, event.gym_id, &event.object_ref).await?
        }
    };
    let mut conn = ctx.db.acquire().await?;
    repo::processed(&mut conn, event.id, gym_id, &outcome).await?;
    Ok(())
}

/// The provider to re-fetch from: the endpoint tenant's, or the platform's. `None` when the
/// tenant is gone.
async fn resolve(
    ctx: &AppContext,
    kind: ProviderKind,
    gym_id: Option<Uuid>,
) -> anyhow::Result<Option<Resolved>> {
    match gym_id {
        Some(gym_id) => match tenant_provider(ctx, gym_id, kind).await {
            Ok(resolved) => Ok(Some(resolved)),
            Err(err) if err.status() == StatusCode::NOT_FOUND => Ok(None),
            Err(err) => Err(err.into()),
        },
        None => Ok(Some(providers::for_platform(ctx, kind)?)),
    }
}

const TENANT_GONE: &str = "skipped: the tenant is gone";

/// A fetch's answer, or the outcome to record when the provider refused it. Unavailability
/// fails the job, which the queue retries.
fn fetched<T>(answer: Result<T, ProviderError>) -> anyhow::Result<Result<T, String>> {
    match answer {
        Ok(object) => Ok(Ok(object)),
        Err(err) if err.is_retryable() => Err(err.into()),
        Err(err) => Ok(Err(format!(
            "skipped: the provider refused the fetch: {err}"
        ))),
    }
}

/// The tenant of our payment `payment_id`: the endpoint's, or (platform endpoint) the one the
/// payment belongs to.
async fn owner_of(
    ctx: &AppContext,
    gym_id: Option<Uuid>,
    payment_id: Uuid,
) -> anyhow::Result<Option<Uuid>> {
    match gym_id {
        Some(gym_id) => Ok(Some(gym_id)),
        None => {
            let mut conn = ctx.db.acquire().await?;
            Ok(crate::repo::payments::tenant_of(&mut conn, payment_id).await?)
        }
    }
}

/// A payment event: the payment as the provider has it now, applied to ours.
async fn payment_event(
    ctx: &AppContext,
    kind: ProviderKind,
    gym_id: Option<Uuid>,
    object_ref: &str,
) -> anyhow::Result<(Option<Uuid>, String)> {
    let Some(resolved) = resolve(ctx, kind, gym_id).await? else {
        return Ok((None, TENANT_GONE.into()));
    };
    let fetched = match fetched(resolved.provider.fetch_payment(object_ref).await)? {
        Ok(fetched) => fetched,
        Err(outcome) => return Ok((gym_id, outcome)),
    };
    let Some(payment_id) = sync::payment_id_of(&fetched) else {
        return Ok((gym_id, Applied::NotOurs.describe()));
    };
    let Some(owner) = owner_of(ctx, gym_id, payment_id).await? else {
        return Ok((None, Applied::NotOurs.describe()));
    };
    let applied = sync::apply(ctx, owner, payment_id, kind, &fetched).await?;
    Ok((Some(owner), applied.describe()))
}

/// Our payment id in a provider subscription's metadata (the checkout that started it).
fn started_by(external_reference: Option<&str>) -> Option<Uuid> {
    external_reference.and_then(|reference| reference.parse().ok())
}

const NOT_OUR_SUBSCRIPTION: &str = "skipped: not a subscription of ours";

/// An invoice event: the invoice as the provider has it now, applied to the membership.
async fn invoice_event(
    ctx: &AppContext,
    kind: ProviderKind,
    gym_id: Option<Uuid>,
    object_ref: &str,
    reported_failed: bool,
) -> anyhow::Result<(Option<Uuid>, String)> {
    let Some(resolved) = resolve(ctx, kind, gym_id).await? else {
        return Ok((None, TENANT_GONE.into()));
    };
    let invoice = match fetched(resolved.provider.fetch_invoice(object_ref).await)? {
        Ok(invoice) => invoice,
        Err(outcome) => return Ok((gym_id, outcome)),
    };
    let Some(payment_id) = started_by(invoice.external_reference.as_deref()) else {
        return Ok((gym_id, NOT_OUR_SUBSCRIPTION.into()));
    };
    let Some(owner) = owner_of(ctx, gym_id, payment_id).await? else {
        return Ok((None, NOT_OUR_SUBSCRIPTION.into()));
    };
    let outcome = renewals::invoice(
        ctx,
        resolved.provider.as_ref(),
        owner,
        payment_id,
        &invoice,
        reported_failed,
    )
    .await?;
    Ok((Some(owner), outcome))
}

/// A subscription event: the subscription as the provider has it now, applied to the
/// membership.
async fn subscription_event(
    ctx: &AppContext,
    kind: ProviderKind,
    gym_id: Option<Uuid>,
    object_ref: &str,
) -> anyhow::Result<(Option<Uuid>, String)> {
    let Some(resolved) = resolve(ctx, kind, gym_id).await? else {
        return Ok((None, TENANT_GONE.into()));
    };
    let subscription = match fetched(resolved.provider.fetch_subscription(object_ref).await)? {
        Ok(subscription) => subscription,
        Err(outcome) => return Ok((gym_id, outcome)),
    };
    let Some(payment_id) = started_by(subscription.external_reference.as_deref()) else {
        return Ok((gym_id, NOT_OUR_SUBSCRIPTION.into()));
    };
    let Some(owner) = owner_of(ctx, gym_id, payment_id).await? else {
        return Ok((None, NOT_OUR_SUBSCRIPTION.into()));
    };
    let outcome = renewals::subscription(ctx, kind, owner, payment_id, &subscription).await?;
    Ok((Some(owner), outcome))
}
