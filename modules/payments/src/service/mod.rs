//! The rules of the module, a file per area. Payments move only through
//! [`payments::advance`], which every flow (manual payments, refunds, checkouts' webhooks and
//! reconciliation through [`sync`]) uses; what a succeeded, failed or refunded payment causes
//! lives in [`effects`]. Which provider serves a tenant: [`providers`]. Provider
//! subscriptions after their checkout (renewals, failures, cancellation): [`renewals`].

pub mod checkout;
pub mod connect;
pub mod credits;
pub mod effects;
pub mod inbox;
pub mod payments;
pub mod products;
pub mod providers;
pub mod reconcile;
pub mod refunds;
pub mod renewals;
pub mod subscriptions;
pub mod sync;
