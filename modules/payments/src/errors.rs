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
