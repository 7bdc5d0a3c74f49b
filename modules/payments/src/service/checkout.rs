//! Hosted checkouts: a member pays for one of the tenant's products at a provider.
//!
//! The provider is asked first and the payment written after, in one short transaction
//! with the provider's reference: a provider that is down leaves nothing behind (no pending
//! payment without a checkout), so the request answers 503 having written nothing and a
//! retry, with the same `Idempotency-Key` or none, simply runs again (a key whose first
//! attempt committed a write would answer `idempotency_outcome_unknown` instead). The
//! payment id is minted before the call, so the checkout's idempotency key
//! (`checkout:<payment id>`) and external reference name the row written after it. A
//! checkout created at the provider whose row then failed to commit is never shown to
//! anyone and expires there; a webhook about it finds no payment and is recorded as such.

use chrono::{DateTime, Duration, Utc};
use kernel::{ApiError, ApiResult, AppContext, Tenant};
use sqlx::PgConnection;
use uuid::Uuid;

use super::connect;
use super::payments::create_pending;
use super::products;
use super::providers::{self, problem};
use crate::errors;
use crate::providers::{
    CheckoutMode, CheckoutRequest, ConnectSplit, Interval, Payer, ProviderKind,
};
use crate::repo::payments::{self as repo, NewPayment, PaymentRow, Provider};
use crate::repo::products::{Interval as PlanInterval, ProductKind, ProductRow};
use crate::settings::PaymentSettings;

/// A checkout to send the payer to, and the payment it will pay.
pub struct Started {
    pub payment: PaymentRow,
    pub checkout_url: String,
}

/// Our name of a provider's payments.
pub fn provider_of(kind: ProviderKind) -> Provider {
    match kind {
        ProviderKind::Stripe => Provider::Stripe,
        ProviderKind::MercadoPago => Provider::Mercadopago,
    }
}

/// The caller pays for `product_id` at `kind`.
pub async fn start<M>(
    ctx: &AppContext,
    tenant: &Tenant<M>,
    product_id: Uuid,
    kind: ProviderKind,
) -> ApiResult<Started> {
    let settings = PaymentSettings::of(&ctx.settings);
    let (product, resolved, payer, connect) = {
        let mut read = tenant.read(&ctx.db).await?;
        let product = products::get(&mut read, tenant.gym_id, product_id).await?;
        if !product.active {
            return Err(ApiError::conflict(
                errors::PRODUCT_ARCHIVED,
                "this product is archived and no longer sold",
            ));
        }
        let resolved = providers::for_tenant(ctx, &mut read, tenant.gym_id, kind).await?;
        let payer = payer_of(ctx, &mut read, tenant.user_id).await?;
        // A trainer's client paying through the platform's Stripe account: a destination
        // charge to the trainer's connected account. A tenant's own account is paid directly.
        let connect = if kind == ProviderKind::Stripe && !resolved.own_credentials {
            connect::destination(ctx, &mut read, tenant.gym_id, product.price_minor).await?
        } else {
            None
        };
        (product, resolved, payer, connect)
    };
    let payment_id = Uuid::now_v7();
    let request = checkout_request(
        &settings,
        tenant.gym_id,
        payment_id,
        &product,
        payer,
        kind,
        connect,
        Utc::now(),
    );
    let checkout = resolved
        .provider
        .create_checkout(&request)
        .await
        .map_err(problem)?;
    let provider = provider_of(kind);
    let new = NewPayment {
        id: payment_id,
        user_id: tenant.user_id,
        product_id: Some(product.id),
        amount_minor: product.price_minor,
        currency: &product.currency,
        provider,
        method: None,
        recorded_by: None,
        note: None,
    };
    let mut tx = tenant.begin(&ctx.db).await?;
    create_pending(&mut tx, tenant.gym_id, &new).await?;
    let payment = repo::set_checkout(
        &mut tx,
        tenant.gym_id,
        payment_id,
        &checkout.provider_ref,
        checkout.expires_at.or(request.expires_at),
        request.connect.as_ref().map(|split| split.account.as_str()),
    )
    .await?;
    repo::insert_tenant(&mut tx, payment_id, tenant.gym_id, provider).await?;
    tx.commit().await?;
    Ok(Started {
        payment,
        checkout_url: checkout.checkout_url,
    })
}

/// The payer's e-mail and name, to pre-fill the provider's page.
async fn payer_of(ctx: &AppContext, conn: &mut PgConnection, user_id: Uuid) -> ApiResult<Payer> {
    let mut people = ctx.accounts.summaries(conn, &[user_id]).await?;
    Ok(people
        .remove(&user_id)
        .map(|person| Payer {
            email: Some(person.email),
            first_name: Some(person.first_name),
            last_name: Some(person.last_name),
        })
        .unwrap_or_default())
}

/// The one place a checkout request is built. `connect` makes it a Stripe Connect
/// destination charge (`service::connect::destination` decides it for a trainer's client);
/// the payment row keeps its account so refunds reverse the transfer.
#[allow(clippy::too_many_arguments)] // each is one fact of the checkout; a struct would only rename them
pub fn checkout_request(
    settings: &PaymentSettings,
    gym_id: Uuid,
    payment_id: Uuid,
    product: &ProductRow,
    payer: Payer,
    kind: ProviderKind,
    connect: Option<ConnectSplit>,
    now: DateTime<Utc>,
) -> CheckoutRequest {
    let (mode, description) = match product.kind {
        ProductKind::CreditPackage => (
            CheckoutMode::OneOff,
            product
                .credits
                .map(|credits| format!("{credits} class credits")),
        ),
        ProductKind::Plan => (
            CheckoutMode::Subscription {
                interval: match product.interval_unit {
                    Some(PlanInterval::Year) => Interval::Year,
                    Some(PlanInterval::Month) | None => Interval::Month,
                },
                interval_count: product
                    .interval_count
                    .and_then(|count| u32::try_from(count).ok())
                    .unwrap_or(1),
            },
            None,
        ),
    };
    let notification_url = match kind {
        // Stripe's endpoints are configured in its dashboard, not per checkout.
        ProviderKind::Stripe => None,
        // Webhooks only, not the legacy IPN notifications MercadoPago also sends otherwise.
        ProviderKind::MercadoPago => Some(format!(
            "{}?source_news=webhooks",
            settings.notification_url(kind.as_str(), gym_id)
        )),
    };
    CheckoutRequest {
        payment_id,
        idempotency_key: format!("checkout:{payment_id}"),
        mode,
        title: product.name.clone(),
        description,
        amount_minor: product.price_minor,
        currency: product.currency.clone(),
        payer,
        success_url: settings.success_url(payment_id),
        cancel_url: settings.cancel_url(payment_id),
        pending_url: None,
        notification_url,
        connect,
        expires_at: Some(now + Duration::minutes(i64::from(settings.checkout_expires_minutes))),
    }
}
