//! Identity: users, credentials and sessions. A core module in both builds: always on.
//!
//! - Routes: `POST /api/v1/auth/{register,login,refresh,logout}`, `GET/PATCH /api/v1/users/me`.
//!   Route policies: sign-up, sign-in and refresh are in the strict sign-in rate-limit class;
//!   none of `/auth/*` honours `Idempotency-Key` (their answers carry tokens).
//! - Tables: `users` (e-mail unique case-insensitively), `refresh_tokens` (SHA-256 hashes,
//!   rotated per use, a reused token revokes its family). Both global, not tenant-owned.
//! - Jobs: `identity.purge_expired_tokens` (daily schedule).
//! - Events: publishes `user_profile_changed` (`{user_id}`, internal) when someone changes
//!   their names, so modules that show people (tenancy's member directory) catch up.
//! - Port: the kernel's accounts port ([`kernel::Accounts`]), so tenancy can create a trainer's
//!   user and workspace in one transaction, and show people's names, without depending on
//!   this crate.
//! - Config: no section of its own; reads the kernel's `[auth]` (`refresh_token_ttl_days`, and
//!   the JWT keys through the context). Passwords are hashed with argon2id on the blocking
//!   pool, so async workers never stall.
//! - Problem codes: declared once, in `errors.rs`.

mod accounts;
mod api;
mod errors;
mod jobs;
mod password;
mod repo;
mod service;

pub use api::IdentityApi;

use std::sync::Arc;

use kernel::http::document::{ApiLink, FieldRule};
use kernel::jobs::{JobHandler, Schedule};
use kernel::{AppContext, Build, Module, ModuleApi, ModuleCode, Port, Routes};
use poem::http::Method;

pub struct Identity;

impl Module for Identity {
    fn code(&self) -> &'static str {
        Self::CODE
    }
    fn name(&self) -> &'static str {
        "Identity and sign-in"
    }
    fn is_core(&self) -> bool {
        true
    }
    fn job_handlers(&self, ctx: &AppContext) -> Vec<Arc<dyn JobHandler>> {
        vec![Arc::new(jobs::PurgeExpiredTokens { ctx: ctx.clone() })]
    }
    fn schedules(&self) -> Vec<Schedule> {
        vec![jobs::purge_schedule()]
    }
    fn routes(&self, _ctx: &AppContext) -> Routes {
        Routes::new()
            .sign_in(Method::POST, "/api/v1/auth/register")
            .sign_in(Method::POST, "/api/v1/auth/login")
            .sign_in(Method::POST, "/api/v1/auth/refresh")
            .without_idempotency(Method::POST, "/api/v1/auth/register")
            .without_idempotency(Method::POST, "/api/v1/auth/login")
            .without_idempotency(Method::POST, "/api/v1/auth/refresh")
            .without_idempotency(Method::POST, "/api/v1/auth/logout")
    }
    fn ports(&self) -> Vec<Port> {
        vec![Port::Accounts(&accounts::IdentityAccounts)]
    }
    fn field_rules(&self) -> &'static [FieldRule] {
        api::FIELD_RULES
    }
    fn links(&self) -> &'static [ApiLink] {
        api::LINKS
    }
}

impl<B: Build> ModuleApi<B> for Identity {
    type Api = IdentityApi;
    fn api(&self, ctx: &AppContext) -> IdentityApi {
        IdentityApi { ctx: ctx.clone() }
    }
}

impl ModuleCode for Identity {
    const CODE: &'static str = "identity";
}
