//! The rules of tenancy, as free functions over the shared context and the caller's tenant.
//! HTTP lives in [`crate::api`], SQL in [`crate::repo`].

pub mod api_keys;
pub mod members;
pub mod modules;
pub mod provisioning;
mod rules;
pub mod tenants;
mod validate;
