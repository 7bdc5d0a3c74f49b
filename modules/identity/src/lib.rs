//! Identity: users, credentials and sessions.
//!
//! - Routes: `POST /api/v1/auth/{register,login,refresh,logout}`, `GET/PATCH /api/v1/users/me`.
//! - Tables: `users` (e-mail unique case-insensitively), `refresh_tokens` (SHA-256 hashes,
//!   rotated per use, a reused token revokes its family).
//! - Passwords: argon2id, hashed on the blocking pool so async workers never stall.
//! - Implements the kernel's [`kernel::Accounts`] so tenancy can create a trainer's user and
//!   workspace in one transaction without depending on this crate.
//! - Jobs: `identity.purge_expired_tokens`, daily.
//! - Core module in both builds: always on.

mod accounts;
mod api;
mod jobs;
mod password;
mod repo;
mod service;

pub use accounts::IdentityAccounts;
pub use api::IdentityApi;

use std::sync::Arc;

use kernel::jobs::{JobHandler, Schedule};
use kernel::{AppContext, Module, ModuleCode};

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
        vec![Arc::new(jobs::PurgeExpiredTokens {
            pool: ctx.db.clone(),
        })]
    }
    fn schedules(&self) -> Vec<Schedule> {
        vec![jobs::PurgeExpiredTokens::schedule()]
    }
}

impl ModuleCode for Identity {
    const CODE: &'static str = "identity";
}
