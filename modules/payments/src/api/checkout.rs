//! HTTP of hosted checkouts: a member pays for a product at a provider.

use chrono::{DateTime, Utc};
use kernel::http::JsonBody;
use kernel::{ApiResult, AppContext, Tenant};
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Enum, Object, OpenApi};
use uuid::Uuid;

use super::PaymentsTags;
use crate::Payments;
use crate::providers::ProviderKind;
use crate::service::checkout as service;

/// A provider that takes payments online.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
#[oai(rename_all = "lowercase")]
pub enum OnlineProvider {
    Stripe,
    Mercadopago,
}

impl From<OnlineProvider> for ProviderKind {
    fn from(provider: OnlineProvider) -> Self {
        match provider {
            OnlineProvider::Stripe => ProviderKind::Stripe,
            OnlineProvider::Mercadopago => ProviderKind::MercadoPago,
        }
    }
}

#[derive(Debug, Object)]
#[oai(deny_unknown_fields)]
pub struct CheckoutRequest {
    /// The product to buy: a credit package is paid once, a plan becomes a recurring
    /// subscription (Stripe only).
    pub product_id: Uuid,
    pub provider: OnlineProvider,
}

/// A checkout to send the payer to. The payment stays `pending` until the provider reports
/// it paid (`payment.succeeded`); read it at `GET /api/v1/payments/{payment_id}`.
#[derive(Debug, Object)]
pub struct Checkout {
    pub payment_id: Uuid,
    /// The provider's hosted payment page.
    pub checkout_url: String,
    /// When the page stops taking payment; the payment is then cancelled.
    #[oai(skip_serializing_if_is_none)]
    pub expires_at: Option<DateTime<Utc>>,
}

#[derive(ApiResponse)]
enum Started {
    /// The checkout, and the pending payment it pays.
    #[oai(status = 201)]
    Created(Json<Checkout>),
}

pub struct CheckoutApi {
    pub ctx: AppContext,
}

#[OpenApi(prefix_path = "/api/v1", tag = "PaymentsTags::Payments")]
impl CheckoutApi {
    /// Pay for a product at a provider: start a hosted checkout
    ///
    /// Writes a `pending` payment and answers the provider's page to send the payer to. An
    /// archived product is 409 `product_archived`; a provider without credentials 409
    /// `provider_not_configured`; a provider that cannot be reached 503 `provider_unavailable`
    /// (nothing written: retry as is). Send an `Idempotency-Key` so a retried request opens
    /// one checkout.
    #[oai(
        path = "/payments/checkout",
        method = "post",
        operation_id = "payments_checkout"
    )]
    async fn checkout(
        &self,
        #[oai(name = "X-Gym-ID")] tenant: Tenant<Payments>,
        body: JsonBody<CheckoutRequest>,
    ) -> ApiResult<Started> {
        let started =
            service::start(&self.ctx, &tenant, body.product_id, body.provider.into()).await?;
        Ok(Started::Created(Json(Checkout {
            payment_id: started.payment.id,
            checkout_url: started.checkout_url,
            expires_at: started.payment.checkout_expires_at,
        })))
    }
}
