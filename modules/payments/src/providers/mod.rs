//! Payment providers: one trait, one file per provider, plus a file for its wire format
//! (hyperswitch's connector + transformers split).
//!
//! # Using a provider
//!
//! - Build one from settings and, when the tenant brings its own, its [`Credentials`]:
//!   [`build`] returns an `Arc<dyn PaymentProvider>`; keep it per `(tenant, ProviderKind)`.
//!   Deployment-wide defaults are `[payments.providers]` ([`settings::ProviderSettings`]).
//! - Tenant credentials are stored sealed with the kernel's keys: [`Credentials::seal`] /
//!   [`Credentials::open`] bind them to `payments.credentials:<gym_id>:<provider>`.
//! - **Idempotency.** Every mutating call takes an idempotency key the caller derives from its
//!   own row ids (`checkout:<payment uuid>`, `refund:<refund uuid>`,
//!   `connect-account:<tenant uuid>`), so a retry after a crash sends the same key and the
//!   provider replays its first answer instead of charging or refunding twice. Stripe gets it
//!   as `Idempotency-Key`, MercadoPago as `X-Idempotency-Key`. (Account links are the one
//!   exception: each is single-use, so a replayed one would be dead on arrival.)
//! - **Errors.** [`ProviderError::is_retryable`] says whether a job should try again
//!   (network, timeout, 5xx, 429, an unreadable answer); [`ProviderError::Rejected`] carries
//!   the provider's status, code and message (MercadoPago `3024` partial refund unsupported,
//!   `2024` payment too old, Stripe `charge_already_refunded`, ...) and should be shown or
//!   recorded, not retried.
//! - **Webhooks.** [`PaymentProvider::verify_webhook`] is pure: it checks the signature on the
//!   raw bytes against every secret given (rotation), with the clock passed in, and classifies
//!   the event into [`NormalizedEvent`]s. It trusts nothing in the body beyond ids: store the
//!   event once (unique on provider + `event_key`), answer 2xx, and let a job re-fetch the
//!   object with [`PaymentProvider::fetch_payment`] and move the payment forward only.
//!   A signature failure is [`ProviderError::InvalidSignature`] (answer 400).
//! - **References.** [`Checkout::provider_ref`] names the checkout (a Stripe Checkout Session
//!   `cs_…`, a MercadoPago preference). [`ProviderPayment::provider_ref`] names the payment
//!   (Stripe accepts the session or its PaymentIntent `pi_…`; MercadoPago a payment id). The
//!   link between them, and back to our row, is `external_reference`: our payment id, sent
//!   with every checkout and returned by every fetch. [`PaymentProvider::find_by_external_reference`]
//!   finds a payment from it (reconciliation of payments still pending).
//! - **Amounts** are always `i64` minor units plus an ISO 4217 code here; each provider
//!   converts to its own format ([`amounts`]).
//! - **Connect** (Stripe only): [`PaymentProvider::create_connected_account`],
//!   [`PaymentProvider::onboarding_link`], [`PaymentProvider::account_status`]; other
//!   providers answer [`ProviderError::Unsupported`]. A checkout with a [`ConnectSplit`] is a
//!   destination charge with an application fee; refunds of those set
//!   [`RefundRequest::destination_charge`].
//! - **Subscriptions** (Stripe only; MercadoPago's Checkout Pro has none):
//!   [`PaymentProvider::fetch_invoice`] and [`PaymentProvider::fetch_subscription`] re-fetch
//!   what invoice and subscription webhooks name; [`PaymentProvider::cancel_at_period_end`]
//!   stops the renewals of a membership cancelled here. Both objects carry our checkout's
//!   payment id in their metadata, which leads back to the member and the plan.

pub mod amounts;
mod credentials;
mod hmac_match;
pub mod mercadopago;
pub mod settings;
pub mod stripe;

pub use credentials::Credentials;

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use kernel::config::Secret;
use poem::http::HeaderMap;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use self::settings::ProviderSettings;

/// The providers this build can talk to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ProviderKind {
    Stripe,
    #[serde(rename = "mercadopago")]
    MercadoPago,
}

impl ProviderKind {
    pub const ALL: [ProviderKind; 2] = [ProviderKind::Stripe, ProviderKind::MercadoPago];

    /// As in URLs, config and stored rows: `stripe`, `mercadopago`.
    pub fn as_str(self) -> &'static str {
        match self {
            ProviderKind::Stripe => "stripe",
            ProviderKind::MercadoPago => "mercadopago",
        }
    }
}

impl fmt::Display for ProviderKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for ProviderKind {
    type Err = ProviderError;
    fn from_str(text: &str) -> Result<Self, ProviderError> {
        ProviderKind::ALL
            .into_iter()
            .find(|kind| kind.as_str() == text)
            .ok_or_else(|| ProviderError::UnknownProvider(text.to_string()))
    }
}

/// What a provider call ended with when it did not succeed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProviderError {
    /// Worth retrying with the same idempotency key: no answer (network, timeout), 5xx, 429, or
    /// a conflict with a concurrent request using the same key.
    #[error("{provider} is unavailable ({reason}); retry later")]
    Retryable {
        provider: ProviderKind,
        status: Option<u16>,
        reason: String,
    },
    /// The provider refused the request (4xx): retrying the same request fails the same way.
    #[error("{provider} refused the request (HTTP {status}, code {code:?}): {message}")]
    Rejected {
        provider: ProviderKind,
        status: u16,
        /// The provider's own code: MercadoPago's numeric cause (`"3024"`), Stripe's error code
        /// (`"charge_already_refunded"`) or type.
        code: Option<String>,
        message: String,
    },
    /// The provider answered something we cannot read (another API version, a proxy's page):
    /// the call's effect is unknown, so it counts as retryable (idempotency keys make that safe).
    #[error("{provider} answered something unreadable: {reason}")]
    Unexpected {
        provider: ProviderKind,
        reason: String,
    },
    /// A webhook whose signature is missing, malformed, stale, or made with none of the secrets.
    #[error("webhook signature: {0}")]
    InvalidSignature(String),
    /// A webhook that verified but whose body is not the provider's JSON.
    #[error("webhook body: {0}")]
    MalformedWebhook(String),
    /// The provider does not offer this (Connect outside Stripe, subscriptions on Checkout Pro).
    #[error("{provider} does not support {operation}")]
    Unsupported {
        provider: ProviderKind,
        operation: &'static str,
    },
    /// An amount this provider cannot carry (see [`amounts`]).
    #[error("{0}")]
    Amount(#[from] amounts::AmountError),
    /// No credentials, or settings that cannot work.
    #[error("{0}")]
    NotConfigured(String),
    #[error("`{0}` is not a payment provider (stripe, mercadopago)")]
    UnknownProvider(String),
}

impl ProviderError {
    /// Whether a job should run the call again later (with the same idempotency key).
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            ProviderError::Retryable { .. } | ProviderError::Unexpected { .. }
        )
    }

    /// The provider's own error code of a rejection.
    pub fn provider_code(&self) -> Option<&str> {
        match self {
            ProviderError::Rejected { code, .. } => code.as_deref(),
            _ => None,
        }
    }
}

pub type ProviderResult<T> = Result<T, ProviderError>;

/// One-off or recurring.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CheckoutMode {
    OneOff,
    Subscription {
        interval: Interval,
        /// Every `interval_count` intervals (1: monthly for `Month`).
        interval_count: u32,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Interval {
    Day,
    Week,
    Month,
    Year,
}

/// A Stripe Connect destination charge: the money settles on `account`, the platform keeps
/// `application_fee_minor`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectSplit {
    /// The connected account (`acct_…`).
    pub account: String,
    /// In the checkout's currency; at most the amount.
    pub application_fee_minor: i64,
}

/// Who pays, when known: pre-fills the provider's page.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Payer {
    pub email: Option<String>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
}

/// A hosted checkout for one product.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckoutRequest {
    /// Our payment row; sent as the external reference and in metadata.
    pub payment_id: Uuid,
    /// Derived from our row id: `checkout:<payment_id>`.
    pub idempotency_key: String,
    pub mode: CheckoutMode,
    /// The product's name as the payer sees it.
    pub title: String,
    pub description: Option<String>,
    /// The price, in minor units of `currency`.
    pub amount_minor: i64,
    /// ISO 4217, any case.
    pub currency: String,
    pub payer: Payer,
    /// Where the provider sends the payer after paying (Stripe may use `{CHECKOUT_SESSION_ID}`).
    pub success_url: String,
    /// Where the payer goes when they give up.
    pub cancel_url: String,
    /// Where MercadoPago sends a payer whose payment is still pending (else `success_url`).
    pub pending_url: Option<String>,
    /// MercadoPago: where notifications go (`…/api/v1/webhooks/mercadopago/<gym_id>`); Stripe
    /// ignores it (its endpoints are configured in the dashboard).
    pub notification_url: Option<String>,
    /// A Stripe Connect destination charge.
    pub connect: Option<ConnectSplit>,
    /// When the checkout stops accepting payment (Stripe: 30 min to 24 h ahead).
    pub expires_at: Option<DateTime<Utc>>,
}

/// A created checkout: send the payer to `checkout_url`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkout {
    pub provider_ref: String,
    pub checkout_url: String,
    pub expires_at: Option<DateTime<Utc>>,
}

/// Where a payment stands, the same words for every provider.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PaymentStatus {
    Pending,
    Succeeded,
    Failed,
    Cancelled,
    Refunded,
    PartiallyRefunded,
}

impl PaymentStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            PaymentStatus::Pending => "pending",
            PaymentStatus::Succeeded => "succeeded",
            PaymentStatus::Failed => "failed",
            PaymentStatus::Cancelled => "cancelled",
            PaymentStatus::Refunded => "refunded",
            PaymentStatus::PartiallyRefunded => "partially_refunded",
        }
    }

    /// The status of a paid payment after `refunded_minor` of `amount_minor` went back.
    pub fn after_refunds(amount_minor: i64, refunded_minor: i64) -> Self {
        if refunded_minor <= 0 {
            PaymentStatus::Succeeded
        } else if refunded_minor >= amount_minor {
            PaymentStatus::Refunded
        } else {
            PaymentStatus::PartiallyRefunded
        }
    }
}

/// A payment as the provider reports it now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderPayment {
    pub provider_ref: String,
    pub status: PaymentStatus,
    pub amount_minor: i64,
    /// ISO 4217, upper case.
    pub currency: String,
    pub refunded_minor: i64,
    /// Our payment id, as sent with the checkout.
    pub external_reference: Option<String>,
    /// The provider's subscription, for recurring checkouts.
    pub subscription_ref: Option<String>,
}

/// Where a provider's invoice stands (Stripe's words).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InvoiceStatus {
    Draft,
    Open,
    Paid,
    Void,
    Uncollectible,
}

/// An invoice of a provider subscription as the provider reports it now: one period's bill.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderInvoice {
    pub invoice_ref: String,
    pub status: InvoiceStatus,
    /// The subscription's first invoice: the period its checkout paid (Stripe's
    /// `billing_reason = subscription_create`), not a renewal.
    pub first: bool,
    /// Paid (or, unpaid, due), in minor units of `currency`.
    pub amount_minor: i64,
    /// ISO 4217, upper case.
    pub currency: String,
    pub subscription_ref: Option<String>,
    /// Our payment id of the checkout that started the subscription (its metadata).
    pub external_reference: Option<String>,
}

/// Where a provider subscription stands (Stripe's words; the rest is `Other`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SubscriptionState {
    Active,
    Trialing,
    PastDue,
    Unpaid,
    Canceled,
    IncompleteExpired,
    Other,
}

/// A provider subscription as the provider reports it now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderSubscription {
    pub subscription_ref: String,
    pub state: SubscriptionState,
    /// It ends with its current period, renewing no more.
    pub cancel_at_period_end: bool,
    /// Our payment id of the checkout that started it (its metadata).
    pub external_reference: Option<String>,
}

/// A refund of a payment: all of what remains (`amount_minor: None`) or part of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefundRequest {
    /// The payment ([`ProviderPayment::provider_ref`], or a Stripe Checkout Session).
    pub provider_ref: String,
    pub amount_minor: Option<i64>,
    /// The payment's currency (to convert a partial amount).
    pub currency: String,
    /// Free text, kept with the refund at the provider.
    pub reason: Option<String>,
    /// Derived from our row id: `refund:<refund uuid>`.
    pub idempotency_key: String,
    /// A Stripe Connect destination charge: the application fee goes back and the transfer
    /// is reversed, both prorated.
    pub destination_charge: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefundStatus {
    Pending,
    Succeeded,
    Failed,
}

/// A refund the provider accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refund {
    pub refund_ref: String,
    pub status: RefundStatus,
    pub amount_minor: i64,
}

/// What a verified webhook says happened, for a job to re-fetch and act on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    /// A checkout was paid (Stripe: `checkout.session.completed` with `payment_status=paid`,
    /// or `checkout.session.async_payment_succeeded`).
    CheckoutCompleted,
    /// A checkout expired or its delayed payment failed.
    CheckoutExpired,
    PaymentSucceeded,
    PaymentFailed,
    /// Something about a payment changed; the fetch tells what (MercadoPago's `payment`).
    PaymentUpdated,
    /// All or part of a payment went back.
    Refunded,
    /// A subscription's invoice was paid: the membership goes on.
    InvoicePaid,
    /// A renewal failed: the membership enters its grace period.
    InvoicePaymentFailed,
    SubscriptionUpdated,
    SubscriptionDeleted,
    /// A connected account's onboarding or capabilities changed.
    AccountUpdated,
}

impl EventKind {
    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::CheckoutCompleted => "checkout_completed",
            EventKind::CheckoutExpired => "checkout_expired",
            EventKind::PaymentSucceeded => "payment_succeeded",
            EventKind::PaymentFailed => "payment_failed",
            EventKind::PaymentUpdated => "payment_updated",
            EventKind::Refunded => "refunded",
            EventKind::InvoicePaid => "invoice_paid",
            EventKind::InvoicePaymentFailed => "invoice_payment_failed",
            EventKind::SubscriptionUpdated => "subscription_updated",
            EventKind::SubscriptionDeleted => "subscription_deleted",
            EventKind::AccountUpdated => "account_updated",
        }
    }
}

/// One event from a verified webhook.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NormalizedEvent {
    /// Unique per event at the provider (Stripe's `evt_…`, MercadoPago's notification id):
    /// store events unique on (provider, event_key) so duplicates collapse.
    pub event_key: String,
    pub kind: EventKind,
    /// What to re-fetch: a checkout session, payment intent, payment, invoice, subscription or
    /// account id.
    pub object_ref: String,
    /// The subscription concerned, for invoice and subscription events.
    pub subscription_ref: Option<String>,
    /// Stripe Connect: the connected account the event happened on.
    pub account: Option<String>,
    pub occurred_at: DateTime<Utc>,
}

/// An inbound webhook as received: verify it on these exact bytes.
#[derive(Debug, Clone, Copy)]
pub struct WebhookRequest<'a> {
    pub headers: &'a HeaderMap,
    /// The raw query string (MercadoPago signs `data.id` from it).
    pub query: Option<&'a str>,
    pub body: &'a [u8],
}

/// Stripe Connect: an Express account for a trainer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectedAccountRequest {
    /// Derived from our row id: `connect-account:<gym_id>`.
    pub idempotency_key: String,
    /// Our tenant, kept in the account's metadata.
    pub gym_id: Uuid,
    pub email: Option<String>,
    /// ISO 3166-1 alpha-2; Stripe asks during onboarding when absent.
    pub country: Option<String>,
}

/// A single-use onboarding link (it expires within minutes).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OnboardingLink {
    pub url: String,
    pub expires_at: DateTime<Utc>,
}

/// Where a connected account's onboarding stands. Reaching the return URL proves nothing:
/// trust this (and `account.updated`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountStatus {
    pub account: String,
    pub charges_enabled: bool,
    pub payouts_enabled: bool,
    pub details_submitted: bool,
    /// What Stripe still needs (`currently_due` and `past_due`), e.g. `individual.dob.day`.
    pub requirements: Vec<String>,
}

/// A payment provider. Object safe: hold it as `Arc<dyn PaymentProvider>`.
#[async_trait::async_trait]
pub trait PaymentProvider: Send + Sync {
    fn kind(&self) -> ProviderKind;

    /// Creates a hosted checkout.
    async fn create_checkout(&self, request: &CheckoutRequest) -> ProviderResult<Checkout>;

    /// The payment as the provider has it now.
    async fn fetch_payment(&self, provider_ref: &str) -> ProviderResult<ProviderPayment>;

    /// The payment made for our payment `external_reference`, if any (reconciliation).
    async fn find_by_external_reference(
        &self,
        external_reference: &str,
    ) -> ProviderResult<Option<ProviderPayment>>;

    /// Refunds all that remains of a payment, or `amount_minor` of it.
    async fn refund(&self, request: &RefundRequest) -> ProviderResult<Refund>;

    /// Verifies a webhook with any of `secrets` at `now` and classifies it. Pure: no calls
    /// out. An empty list: verified, but nothing this module acts on.
    fn verify_webhook(
        &self,
        request: &WebhookRequest<'_>,
        now: DateTime<Utc>,
        secrets: &[Secret<String>],
    ) -> ProviderResult<Vec<NormalizedEvent>>;

    /// A subscription's invoice as the provider has it now (Stripe).
    async fn fetch_invoice(&self, _invoice_ref: &str) -> ProviderResult<ProviderInvoice> {
        Err(ProviderError::Unsupported {
            provider: self.kind(),
            operation: "subscription invoices",
        })
    }

    /// A subscription as the provider has it now (Stripe).
    async fn fetch_subscription(
        &self,
        _subscription_ref: &str,
    ) -> ProviderResult<ProviderSubscription> {
        Err(ProviderError::Unsupported {
            provider: self.kind(),
            operation: "subscriptions",
        })
    }

    /// Stops a subscription renewing: it ends with its current period (Stripe's
    /// `cancel_at_period_end`).
    async fn cancel_at_period_end(
        &self,
        _subscription_ref: &str,
        _idempotency_key: &str,
    ) -> ProviderResult<ProviderSubscription> {
        Err(ProviderError::Unsupported {
            provider: self.kind(),
            operation: "subscriptions",
        })
    }

    /// Stripe Connect: creates an Express account; its id (`acct_…`).
    async fn create_connected_account(
        &self,
        _request: &ConnectedAccountRequest,
    ) -> ProviderResult<String> {
        Err(ProviderError::Unsupported {
            provider: self.kind(),
            operation: "connected accounts",
        })
    }

    /// Stripe Connect: a fresh onboarding link (mint one per visit: each is single-use).
    async fn onboarding_link(
        &self,
        _account: &str,
        _refresh_url: &str,
        _return_url: &str,
    ) -> ProviderResult<OnboardingLink> {
        Err(ProviderError::Unsupported {
            provider: self.kind(),
            operation: "connected accounts",
        })
    }

    /// Stripe Connect: the account's onboarding state.
    async fn account_status(&self, _account: &str) -> ProviderResult<AccountStatus> {
        Err(ProviderError::Unsupported {
            provider: self.kind(),
            operation: "connected accounts",
        })
    }
}

/// The provider of `kind`, with the tenant's `credentials` when it brings its own, else the
/// deployment's defaults from `settings`.
pub fn build(
    kind: ProviderKind,
    settings: &ProviderSettings,
    credentials: Option<&Credentials>,
) -> ProviderResult<Arc<dyn PaymentProvider>> {
    match kind {
        ProviderKind::Stripe => {
            let secret_key = match credentials {
                Some(Credentials::Stripe { secret_key, .. }) => secret_key.clone(),
                Some(_) => return Err(mismatched(kind)),
                None => settings.stripe.secret_key.clone().ok_or_else(|| {
                    ProviderError::NotConfigured(
                        "no Stripe secret key: set payments.providers.stripe.secret_key or the tenant's credentials".into(),
                    )
                })?,
            };
            Ok(Arc::new(stripe::StripeProvider::new(
                &settings.stripe,
                &secret_key,
            )?))
        }
        ProviderKind::MercadoPago => {
            let access_token = match credentials {
                Some(Credentials::MercadoPago { access_token, .. }) => access_token.clone(),
                Some(_) => return Err(mismatched(kind)),
                None => settings.mercadopago.access_token.clone().ok_or_else(|| {
                    ProviderError::NotConfigured(
                        "no MercadoPago access token: set payments.providers.mercadopago.access_token or the tenant's credentials".into(),
                    )
                })?,
            };
            Ok(Arc::new(mercadopago::MercadoPagoProvider::new(
                &settings.mercadopago,
                settings.test_mode(),
                &access_token,
            )?))
        }
    }
}

fn mismatched(kind: ProviderKind) -> ProviderError {
    ProviderError::NotConfigured(format!("the credentials given are not {kind}'s"))
}

/// The webhook secrets of `kind`: the tenant's own, else the deployment's.
pub fn webhook_secrets(
    kind: ProviderKind,
    settings: &ProviderSettings,
    credentials: Option<&Credentials>,
) -> Vec<Secret<String>> {
    match credentials {
        Some(credentials) => credentials.webhook_secrets().to_vec(),
        None => match kind {
            ProviderKind::Stripe => settings.stripe.webhook_secrets.clone(),
            ProviderKind::MercadoPago => settings.mercadopago.webhook_secrets.clone(),
        },
    }
}

/// A header's value as text, if present and readable.
fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|value| value.to_str().ok())
}

/// Seconds since the epoch as a UTC time (the epoch itself for nonsense).
fn from_unix(seconds: i64) -> DateTime<Utc> {
    DateTime::<Utc>::from_timestamp(seconds, 0).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn provider_kinds_read_as_they_print() {
        for kind in ProviderKind::ALL {
            assert_eq!(kind.as_str().parse::<ProviderKind>().unwrap(), kind);
        }
        assert!(matches!(
            "paypal".parse::<ProviderKind>(),
            Err(ProviderError::UnknownProvider(_))
        ));
    }

    #[test]
    fn refunds_decide_between_succeeded_partially_refunded_and_refunded() {
        assert_eq!(
            PaymentStatus::after_refunds(1000, 0),
            PaymentStatus::Succeeded
        );
        assert_eq!(
            PaymentStatus::after_refunds(1000, 1),
            PaymentStatus::PartiallyRefunded
        );
        assert_eq!(
            PaymentStatus::after_refunds(1000, 1000),
            PaymentStatus::Refunded
        );
    }

    #[test]
    fn only_unavailability_and_unreadable_answers_are_retried() {
        let retryable = ProviderError::Retryable {
            provider: ProviderKind::Stripe,
            status: Some(503),
            reason: "HTTP 503".into(),
        };
        let rejected = ProviderError::Rejected {
            provider: ProviderKind::MercadoPago,
            status: 400,
            code: Some("3024".into()),
            message: "partial refund unsupported".into(),
        };
        assert!(retryable.is_retryable());
        assert!(!rejected.is_retryable());
        assert_eq!(rejected.provider_code(), Some("3024"));
        assert!(!ProviderError::InvalidSignature("x".into()).is_retryable());
    }
}
