//! The kernel: contracts every GymAPI module builds on.
//!
//! - [`Module`], [`ModuleApi`] and [`Registry`]: what a module registers and the start-up
//!   checks of a build; [`modules!`] lists a build's modules, one line each.
//! - [`routes`]: the policies modules declare for their routes (body limits, sign-in rate
//!   limits, idempotency exemptions, inbound webhooks, routes outside the API document).
//! - Ports between modules: [`TenantDirectory`] (tenant info, memberships, the tenant
//!   iterator), [`Accounts`] (accounts and user summaries), [`attachments`] (uploads claimed
//!   by records) and [`dashboard`] (figures modules add to the dashboard).
//! - [`AppContext`]: the shared services handed to every module's API.
//! - [`Tenant`] / [`OptionalTenant`]: authentication plus tenant resolution plus the
//!   per-tenant module check, as one extractor; [`BearerAuth`] for user-only routes.
//! - [`ApiError`]: RFC 9457 problems with stable codes.
//! - [`db`]: pool, migrations and row-level-security scoped transactions.
//! - [`Cache`]: Redis or in-process; [`breaker`]: the timeout and circuit breaker every Redis
//!   call goes through, so a Redis outage degrades to in-process fallbacks. [`events`]: the domain-event outbox, delivered by
//!   [`jobs`], the durable job queue.
//! - [`http`]: request ids, body limit, problem rendering, metrics, health endpoints.
//! - [`ratelimit`]: GCRA limits per IP and per user, in Redis or in process.
//! - [`secrets`]: values stored sealed (AES-256-GCM, rotating keys from `[secrets]`), opened
//!   with [`AppContext::secrets`].

pub mod accounts;
pub mod attachments;
pub mod auth;
pub mod breaker;
pub mod cache;
mod compose;
pub mod config;
mod context;
pub mod dashboard;
pub mod db;
pub mod error;
pub mod events;
pub mod http;
pub mod jobs;
pub mod metrics;
mod mode;
pub mod module;
pub mod money;
pub mod pagination;
pub mod pubsub;
pub mod ratelimit;
pub mod routes;
mod secret;
pub mod secrets;
pub mod shutdown;
pub mod telemetry;
pub mod tenant;
pub mod tokens;

pub use accounts::{Accounts, PreparedAccount, TokenPair, UserSummary};
pub use auth::{BearerAuth, JwtKeys, Principal};
pub use cache::Cache;
pub use config::Settings;
pub use context::{AppContext, ModuleState};
pub use error::{ApiError, ApiResult, FieldError, OnConstraint, Problem};
pub use mode::{Build, GymBuild, Mode, TrainerBuild};
pub use module::{Module, ModuleApi, Port, PublicEvent, Registry};
pub use pubsub::PubSub;
pub use routes::Routes;
pub use secrets::{Sealed, Secrets};
pub use tenant::{
    ApiKeyAccess, ModuleCode, OptionalTenant, Role, Tenant, TenantAccess, TenantDirectory,
    TenantInfo, TenantKind,
};

#[doc(hidden)]
pub mod __private {
    pub use poem_openapi::OpenApi;
}
