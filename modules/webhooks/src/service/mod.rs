//! The rules of outgoing webhooks, as free functions over the shared context and the caller's
//! tenant (or, for background work, the tenant's id). HTTP lives in [`crate::api`], SQL in
//! [`crate::repo`], the HTTP client side of sending in [`crate::sender`].

pub mod attempts;
pub mod deliveries;
pub mod endpoints;
pub mod secrets;
