//! Inbound webhooks of the payment providers (inbound-webhook routes: no bearer token, the
//! raw bytes, checked against the provider's signature). See [`crate::service::inbox`].

use kernel::http::InboundBody;
use kernel::{ApiError, ApiResult, AppContext};
use poem::Request;
use poem_openapi::param::Path;
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Object, OpenApi};
use uuid::Uuid;

use super::PaymentsTags;
use crate::providers::{ProviderKind, WebhookRequest};
use crate::service::inbox::{self, Endpoint};
use crate::service::providers::kind_of;

/// What became of a provider's event.
#[derive(Debug, Object)]
pub struct WebhookReceived {
    /// Events of this delivery stored for processing; 0 for a duplicate, or for an event
    /// this API does not act on.
    pub stored: u32,
}

#[derive(ApiResponse)]
enum Received {
    /// Verified and stored (or a duplicate of an event stored before).
    #[oai(status = 200)]
    Ok(Json<WebhookReceived>),
}

pub struct WebhooksApi {
    pub ctx: AppContext,
}

fn webhook_request<'a>(req: &'a Request, body: &'a InboundBody) -> WebhookRequest<'a> {
    WebhookRequest {
        headers: req.headers(),
        query: req.uri().query(),
        body,
    }
}

fn received(stored: usize) -> Received {
    Received::Ok(Json(WebhookReceived {
        stored: u32::try_from(stored).unwrap_or(u32::MAX),
    }))
}

#[OpenApi(prefix_path = "/api/v1", tag = "PaymentsTags::Payments")]
impl WebhooksApi {
    /// Stripe's events for the platform's account and its Connect accounts
    ///
    /// For Stripe to call (register this URL, and the same one for Connect events): checked
    /// against `Stripe-Signature` with the deployment's endpoint secrets, stored once per
    /// event id and answered at once; the payment is then re-fetched from Stripe. A bad
    /// signature is 401 `invalid_webhook_signature`, a body that is not Stripe's JSON 400
    /// `malformed_webhook`.
    #[oai(
        path = "/webhooks/stripe",
        method = "post",
        operation_id = "payments_webhooks_stripe"
    )]
    async fn stripe(&self, req: &Request, body: InboundBody) -> ApiResult<Received> {
        let request = webhook_request(req, &body);
        let stored = inbox::receive(
            &self.ctx,
            ProviderKind::Stripe,
            Endpoint::Platform,
            &request,
        )
        .await?;
        Ok(received(stored))
    }

    /// A provider's events for one tenant's own account
    ///
    /// For the provider to call: register `/api/v1/webhooks/{provider}/{gym_id}` in the
    /// tenant's Stripe or MercadoPago account (checkouts with MercadoPago name it
    /// themselves). Checked with the tenant's webhook secrets (the deployment's when it has
    /// none of its own). An unknown tenant or provider is 404.
    #[oai(
        path = "/webhooks/:provider/:gym_id",
        method = "post",
        operation_id = "payments_webhooks_tenant"
    )]
    async fn tenant(
        &self,
        req: &Request,
        /// `stripe` or `mercadopago`.
        provider: Path<String>,
        /// The tenant whose account sends the events.
        gym_id: Path<String>,
        body: InboundBody,
    ) -> ApiResult<Received> {
        let kind = kind_of(&provider.0)?;
        let gym_id: Uuid = gym_id
            .0
            .parse()
            .map_err(|_| ApiError::not_found("no tenant with this id"))?;
        let request = webhook_request(req, &body);
        let stored = inbox::receive(&self.ctx, kind, Endpoint::Tenant(gym_id), &request).await?;
        Ok(received(stored))
    }
}
