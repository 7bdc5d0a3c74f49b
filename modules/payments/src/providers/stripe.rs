//! Stripe through async-stripe 1.0 (rc pinned exactly): Checkout Sessions for one-off and
//! subscription products, the invoices and subscriptions those start (read, and cancelled at
//! the period's end), Connect Express accounts and destination charges, refunds, and webhook
//! classification after our own verifier ([`signature`]).
//!
//! The client's base URL comes from `payments.providers.stripe.base_url` (tests point it at a
//! local fake), each attempt has `timeout_seconds`, and every mutating call goes out once with
//! the caller's idempotency key (`RequestStrategy::Idempotent`): retries are the job queue's,
//! with the same key, so they survive a crash.

pub mod signature;
pub mod transformers;

use std::time::Duration;

use ::stripe::{Client, ClientBuilder, IdempotencyKey, RequestStrategy, StripeRequest};
use chrono::{DateTime, Utc};
use kernel::config::Secret;
use serde::de::DeserializeOwned;
use stripe_checkout::checkout_session::RetrieveCheckoutSession;
use stripe_client_core::{RequestBuilder, StripeMethod};
use stripe_connect::account::{
    CreateAccount, CreateAccountCapabilities, CreateAccountCapabilitiesCardPayments,
    CreateAccountCapabilitiesTransfers, CreateAccountType, RetrieveAccount,
};
use stripe_connect::account_link::{CreateAccountLink, CreateAccountLinkType};
use stripe_core::payment_intent::{RetrievePaymentIntent, SearchPaymentIntent};
use stripe_core::refund::{CreateRefund, CreateRefundReason};

use super::settings::StripeSettings;
use super::{
    AccountStatus, Checkout, CheckoutRequest, ConnectedAccountRequest, NormalizedEvent,
    OnboardingLink, PaymentProvider, ProviderError, ProviderInvoice, ProviderKind, ProviderPayment,
    ProviderResult, ProviderSubscription, Refund, RefundRequest, WebhookRequest, amounts,
    from_unix, header,
};
use transformers::RefundTarget;

pub struct StripeProvider {
    client: Client,
}

fn key(idempotency_key: &str) -> ProviderResult<RequestStrategy> {
    IdempotencyKey::new(idempotency_key)
        .map(RequestStrategy::Idempotent)
        .map_err(|err| ProviderError::NotConfigured(format!("idempotency key: {err}")))
}

/// A Stripe id as a URL path segment: it has the object's prefix and nothing but letters,
/// digits and `_` (ids reach us from webhook bodies).
fn path_segment<'a>(id: &'a str, prefix: &str) -> ProviderResult<&'a str> {
    let plain = id.len() <= 255 && id.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if id.starts_with(prefix) && plain {
        Ok(id)
    } else {
        Err(ProviderError::Rejected {
            provider: ProviderKind::Stripe,
            status: 400,
            code: Some("invalid_id".into()),
            message: format!("`{id}` is not a Stripe id starting `{prefix}`"),
        })
    }
}

impl StripeProvider {
    pub fn new(settings: &StripeSettings, secret_key: &Secret<String>) -> ProviderResult<Self> {
        let client = ClientBuilder::new(secret_key.expose().clone())
            .url(settings.base_url.clone())
            .timeout(Duration::from_secs(settings.timeout_seconds))
            // Retries belong to the job queue, which keeps the idempotency key across crashes.
            .request_strategy(RequestStrategy::Once)
            .app_info("GymAPI", Some(env!("CARGO_PKG_VERSION").to_string()), None)
            .build()
            .map_err(transformers::error)?;
        Ok(Self { client })
    }

    /// A call async-stripe's crates we build do not type (invoices and subscriptions live in
    /// async-stripe-billing, a large build for two reads and an update): the same client,
    /// strategy and errors, its answer read into our own minimal type.
    async fn call<T: DeserializeOwned>(
        &self,
        request: RequestBuilder,
        strategy: Option<RequestStrategy>,
    ) -> ProviderResult<T> {
        let mut request = request.customize::<miniserde::json::Value>();
        if let Some(strategy) = strategy {
            request = request.request_strategy(strategy);
        }
        let answer = request
            .send(&self.client)
            .await
            .map_err(transformers::error)?;
        serde_json::from_str(&miniserde::json::to_string(&answer)).map_err(|err| {
            ProviderError::Unexpected {
                provider: ProviderKind::Stripe,
                reason: err.to_string(),
            }
        })
    }

    /// What refunds a payment reference: a one-off checkout's PaymentIntent; for a
    /// subscription checkout (which has none) or a renewal (an invoice id), the payment that
    /// paid the invoice; anything else is the intent itself.
    async fn refund_target(&self, provider_ref: &str) -> ProviderResult<RefundTarget> {
        if provider_ref.starts_with("cs_") {
            let session = RetrieveCheckoutSession::new(provider_ref)
                .send(&self.client)
                .await
                .map_err(transformers::error)?;
            if let Some(intent) = session.payment_intent {
                return Ok(RefundTarget::PaymentIntent(intent.id().to_string()));
            }
            // An expanded invoice's id is optional in async-stripe (previews have none).
            let invoice = session
                .invoice
                .as_ref()
                .and_then(|invoice| invoice.id().as_ref().map(|id| id.to_string()));
            return match invoice {
                Some(invoice) => self.invoice_refund_target(&invoice).await,
                None => Err(ProviderError::Rejected {
                    provider: ProviderKind::Stripe,
                    status: 400,
                    code: Some("no_payment_intent".into()),
                    message: "this checkout session has no payment to refund".into(),
                }),
            };
        }
        if provider_ref.starts_with("in_") {
            return self.invoice_refund_target(provider_ref).await;
        }
        Ok(RefundTarget::PaymentIntent(provider_ref.to_string()))
    }

    async fn invoice_refund_target(&self, invoice_ref: &str) -> ProviderResult<RefundTarget> {
        #[derive(serde::Serialize)]
        struct ByInvoice<'a> {
            invoice: &'a str,
            status: &'static str,
        }
        let request =
            RequestBuilder::new(StripeMethod::Get, "/invoice_payments").query(&ByInvoice {
                invoice: path_segment(invoice_ref, "in_")?,
                status: "paid",
            });
        let payments = self.call(request, None).await?;
        transformers::refund_target(invoice_ref, &payments)
    }
}

#[async_trait::async_trait]
impl PaymentProvider for StripeProvider {
    fn kind(&self) -> ProviderKind {
        ProviderKind::Stripe
    }

    async fn create_checkout(&self, request: &CheckoutRequest) -> ProviderResult<Checkout> {
        let session = transformers::checkout_session(request)?
            .customize()
            .request_strategy(key(&request.idempotency_key)?)
            .send(&self.client)
            .await
            .map_err(transformers::error)?;
        let checkout_url = session
            .url
            .clone()
            .ok_or_else(|| ProviderError::Unexpected {
                provider: ProviderKind::Stripe,
                reason: "the checkout session has no url".into(),
            })?;
        Ok(Checkout {
            provider_ref: session.id.to_string(),
            checkout_url,
            expires_at: transformers::expires_at(&session),
        })
    }

    async fn fetch_payment(&self, provider_ref: &str) -> ProviderResult<ProviderPayment> {
        if provider_ref.starts_with("cs_") {
            let session = RetrieveCheckoutSession::new(provider_ref)
                .expand(vec!["payment_intent.latest_charge".to_string()])
                .send(&self.client)
                .await
                .map_err(transformers::error)?;
            return transformers::payment_from_session(&session);
        }
        let intent = RetrievePaymentIntent::new(provider_ref)
            .expand(vec!["latest_charge".to_string()])
            .send(&self.client)
            .await
            .map_err(transformers::error)?;
        transformers::payment_from_intent(&intent)
    }

    async fn find_by_external_reference(
        &self,
        external_reference: &str,
    ) -> ProviderResult<Option<ProviderPayment>> {
        // Our ids are UUIDs; anything else cannot be ours and must not reach the query.
        if uuid::Uuid::parse_str(external_reference).is_err() {
            return Ok(None);
        }
        let query = format!(
            "metadata['{}']:'{external_reference}'",
            transformers::PAYMENT_ID
        );
        let found = SearchPaymentIntent::new(query)
            .expand(vec!["data.latest_charge".to_string()])
            .send(&self.client)
            .await
            .map_err(transformers::error)?;
        let payments = found
            .data
            .iter()
            .map(transformers::payment_from_intent)
            .collect::<ProviderResult<Vec<_>>>()?;
        // A payer may have tried more than once: the one that went through wins.
        let best = payments
            .iter()
            .find(|p| {
                p.status != super::PaymentStatus::Pending
                    && p.status != super::PaymentStatus::Failed
            })
            .or(payments.first())
            .cloned();
        Ok(best)
    }

    async fn refund(&self, request: &RefundRequest) -> ProviderResult<Refund> {
        let mut refund = match self.refund_target(&request.provider_ref).await? {
            RefundTarget::PaymentIntent(intent) => CreateRefund::new().payment_intent(intent),
            RefundTarget::Charge(charge) => CreateRefund::new().charge(charge),
        }
        .reason(CreateRefundReason::RequestedByCustomer);
        if let Some(amount) = request.amount_minor {
            refund = refund.amount(amounts::to_stripe(amount, &request.currency)?);
        }
        if let Some(reason) = &request.reason {
            refund = refund.metadata(std::collections::HashMap::from([(
                "reason".to_string(),
                reason.chars().take(500).collect::<String>(),
            )]));
        }
        if request.destination_charge {
            // Both are prorated on a partial refund.
            refund = refund.refund_application_fee(true).reverse_transfer(true);
        }
        let refund = refund
            .customize()
            .request_strategy(key(&request.idempotency_key)?)
            .send(&self.client)
            .await
            .map_err(transformers::error)?;
        transformers::refund_from(&refund)
    }

    async fn fetch_invoice(&self, invoice_ref: &str) -> ProviderResult<ProviderInvoice> {
        let path = format!("/invoices/{}", path_segment(invoice_ref, "in_")?);
        let invoice = self
            .call(RequestBuilder::new(StripeMethod::Get, path), None)
            .await?;
        transformers::invoice_from(&invoice)
    }

    async fn fetch_subscription(
        &self,
        subscription_ref: &str,
    ) -> ProviderResult<ProviderSubscription> {
        let path = format!("/subscriptions/{}", path_segment(subscription_ref, "sub_")?);
        let subscription = self
            .call(RequestBuilder::new(StripeMethod::Get, path), None)
            .await?;
        Ok(transformers::subscription_from(&subscription))
    }

    async fn cancel_at_period_end(
        &self,
        subscription_ref: &str,
        idempotency_key: &str,
    ) -> ProviderResult<ProviderSubscription> {
        #[derive(serde::Serialize)]
        struct Update {
            cancel_at_period_end: bool,
        }
        let path = format!("/subscriptions/{}", path_segment(subscription_ref, "sub_")?);
        let request = RequestBuilder::new(StripeMethod::Post, path).form(&Update {
            cancel_at_period_end: true,
        });
        let subscription = self.call(request, Some(key(idempotency_key)?)).await?;
        Ok(transformers::subscription_from(&subscription))
    }

    fn verify_webhook(
        &self,
        request: &WebhookRequest<'_>,
        now: DateTime<Utc>,
        secrets: &[Secret<String>],
    ) -> ProviderResult<Vec<NormalizedEvent>> {
        signature::verify(
            header(request.headers, signature::HEADER),
            request.body,
            secrets,
            now.timestamp(),
        )
        .map_err(|err| ProviderError::InvalidSignature(err.to_string()))?;
        let event: transformers::Envelope = serde_json::from_slice(request.body)
            .map_err(|err| ProviderError::MalformedWebhook(err.to_string()))?;
        Ok(transformers::classify(&event).into_iter().collect())
    }

    async fn create_connected_account(
        &self,
        request: &ConnectedAccountRequest,
    ) -> ProviderResult<String> {
        let mut capabilities = CreateAccountCapabilities::new();
        capabilities.card_payments = Some(CreateAccountCapabilitiesCardPayments {
            requested: Some(true),
        });
        capabilities.transfers = Some(CreateAccountCapabilitiesTransfers {
            requested: Some(true),
        });
        let mut account = CreateAccount::new()
            .type_(CreateAccountType::Express)
            .capabilities(capabilities)
            .metadata(std::collections::HashMap::from([(
                "gym_id".to_string(),
                request.gym_id.to_string(),
            )]));
        if let Some(email) = &request.email {
            account = account.email(email.clone());
        }
        if let Some(country) = &request.country {
            account = account.country(country.clone());
        }
        let account = account
            .customize()
            .request_strategy(key(&request.idempotency_key)?)
            .send(&self.client)
            .await
            .map_err(transformers::error)?;
        Ok(account.id.to_string())
    }

    async fn onboarding_link(
        &self,
        account: &str,
        refresh_url: &str,
        return_url: &str,
    ) -> ProviderResult<OnboardingLink> {
        // No idempotency key: a link is single-use, and a replayed one could be spent already.
        let link = CreateAccountLink::new(account, CreateAccountLinkType::AccountOnboarding)
            .refresh_url(refresh_url)
            .return_url(return_url)
            .send(&self.client)
            .await
            .map_err(transformers::error)?;
        Ok(OnboardingLink {
            url: link.url,
            expires_at: from_unix(link.expires_at),
        })
    }

    async fn account_status(&self, account: &str) -> ProviderResult<AccountStatus> {
        let account = RetrieveAccount::new(account)
            .send(&self.client)
            .await
            .map_err(transformers::error)?;
        Ok(transformers::account_status(&account))
    }
}
