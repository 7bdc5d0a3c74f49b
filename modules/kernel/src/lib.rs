//! The kernel: contracts every GymAPI module builds on.
//!
//! - [`Module`] and [`Registry`]: what a module registers and the start-up checks of a build.
//! - [`AppContext`]: the shared services handed to every module's API.
//! - [`Tenant`] / [`OptionalTenant`]: authentication plus tenant resolution plus the
//!   per-tenant module check, as one extractor; [`BearerAuth`] for user-only routes.
//! - [`ApiError`]: RFC 9457 problems with stable codes.
//! - [`db`]: pool, migrations and row-level-security scoped transactions.
//! - [`Cache`]: Redis or in-process. [`events`]: the domain-event outbox, delivered by
//!   [`jobs`], the durable job queue.
//! - [`http`]: request ids, body limit, problem rendering, metrics, health endpoints.
//! - [`ratelimit`]: GCRA limits per IP and per user, in Redis or in process.

pub mod accounts;
pub mod auth;
pub mod cache;
pub mod config;
mod context;
pub mod db;
pub mod error;
pub mod events;
pub mod http;
pub mod jobs;
pub mod metrics;
mod mode;
pub mod module;
pub mod pagination;
pub mod pubsub;
pub mod ratelimit;
pub mod telemetry;
pub mod tenant;
pub mod tokens;

pub use accounts::{Accounts, PreparedAccount, TokenPair};
pub use auth::{BearerAuth, JwtKeys, Principal};
pub use cache::Cache;
pub use config::Settings;
pub use context::AppContext;
pub use error::{ApiError, ApiResult, FieldError, Problem};
pub use mode::Mode;
pub use module::{Module, ModuleCode, PublicEvent, Registry};
pub use pubsub::PubSub;
pub use tenant::{
    ApiKeyAccess, OptionalTenant, Role, Tenant, TenantAccess, TenantDirectory, TenantKind,
};
