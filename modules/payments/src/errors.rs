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
/// The provider did not answer, or answered with a server error (503, with `Retry-After`):
/// a checkout wrote nothing and may be retried as is; a refund stays `pending` and a retry
/// with the same amount completes it.
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
/// A provider name this build does not know (paths: 404; bodies: 422).
pub const UNKNOWN_PROVIDER: &str = "unknown_provider";
/// Neither the tenant nor the deployment has credentials for this provider (409).
pub const PROVIDER_NOT_CONFIGURED: &str = "provider_not_configured";
/// The provider cannot do this (MercadoPago memberships through Checkout Pro) (422).
pub const PROVIDER_UNSUPPORTED: &str = "provider_unsupported";
/// An archived product cannot be bought (409).
pub const PRODUCT_ARCHIVED: &str = "product_archived";
/// A refund of this payment is still being made at the provider: retry with the same amount
/// to complete it, or wait (409).
pub const REFUND_IN_PROGRESS: &str = "refund_in_progress";
/// A webhook whose signature is missing, stale or made with none of the secrets (401).
pub const INVALID_WEBHOOK_SIGNATURE: &str = "invalid_webhook_signature";
/// A webhook that verified but is not the provider's JSON (400).
pub const MALFORMED_WEBHOOK: &str = "malformed_webhook";
