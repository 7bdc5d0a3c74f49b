//! The problem codes this module answers with, each declared once.

/// The balance does not cover a spend or a negative adjustment (409): nothing was written, and
/// the same request succeeds once the balance is topped up.
pub const INSUFFICIENT_CREDITS: &str = "insufficient_credits";
/// A price or payment in another currency than the tenant's (422): prices are in the tenant's
/// currency only.
pub const CURRENCY_MISMATCH: &str = "currency_mismatch";
/// A refund of more than what is left of the payment (422); the detail says what is left.
pub const REFUND_EXCEEDS_REMAINING: &str = "refund_exceeds_remaining";
/// Only paid payments can be refunded (409): this one is pending, failed, cancelled or
/// refunded in full already.
pub const PAYMENT_NOT_REFUNDABLE: &str = "payment_not_refundable";
/// The payment was taken by a provider this deployment cannot reach yet (409); nothing was
/// written.
pub const PROVIDER_UNAVAILABLE: &str = "provider_unavailable";
/// The membership is cancelled or ended already (409).
pub const SUBSCRIPTION_NOT_LIVE: &str = "subscription_not_live";
/// Stripe Connect: this deployment has no Stripe platform key
/// (`payments.providers.stripe.secret_key`), so no connected account can be made or read
/// (409); it works once the operator sets one.
pub const CONNECT_NOT_CONFIGURED: &str = "connect_not_configured";
/// Stripe Connect: the workspace has no connected account yet (409); the owner's
/// `GET /api/v1/payments/connect/onboarding-link` creates it.
pub const CONNECT_ACCOUNT_MISSING: &str = "connect_account_missing";
/// The provider refused the request (409); the detail carries its message. Retrying the same
/// request fails the same way until the cause (often the platform's own set-up) is fixed.
pub const PROVIDER_REJECTED: &str = "provider_rejected";
