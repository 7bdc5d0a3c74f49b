//! The SQL of the module, a file per table group. Every statement filters by the tenant, and
//! runs in a transaction row-level security scopes to it as well.

pub mod credits;
pub mod payments;
pub mod products;
pub mod refunds;
pub mod subscriptions;
