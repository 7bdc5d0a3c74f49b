//! The rules of the module, a file per area. Payments move only through
//! [`payments::advance`], which every flow (manual payments, refunds, and the provider
//! integration to come) uses; what a succeeded, failed or refunded payment causes lives in
//! [`effects`].

pub mod connect;
pub mod credits;
pub mod effects;
pub mod payments;
pub mod products;
pub mod refunds;
pub mod subscriptions;
