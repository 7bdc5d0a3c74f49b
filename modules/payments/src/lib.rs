//! Payments. This first slice is the credit ledger: class credits a tenant's people hold and
//! spend. Purchases (Stripe, MercadoPago) come next and will grant credits through the same
//! ledger.
//!
//! - Routes: `GET /api/v1/credits/balance`, `GET /api/v1/credits/transactions` (the caller's,
//!   or with `user_id` a member's for staff), `POST /api/v1/credits/spend` (the caller's own
//!   credits; honours `Idempotency-Key` like every POST), `POST /api/v1/credits/adjustments`
//!   (owners and admins). API keys: `credits:read`, `credits:write`.
//! - Tables: `credit_balances` (one row per person, `check (balance >= 0)`) and the
//!   append-only `credit_transactions` (no update or delete for the app role), both with
//!   row-level security on `gym_id`; all SQL in `repo.rs`.
//! - Never negative, under any concurrency: a decrease is one conditional update of the
//!   balance row in the transaction that appends the ledger row (`repo::apply`).
//! - Events: `credits.changed` on every balance change (offered to integrators' webhooks).
//! - Problems: `insufficient_credits` (409), in `errors.rs`.
//! - Config: none yet. Jobs: none.
//! - Both builds; on by default for a tenant, switched off like any optional module.

mod api;
mod errors;
pub mod providers;
mod repo;
mod service;

pub use api::CreditsApi;

use kernel::http::document::FieldRule;
use kernel::{AppContext, Build, Module, ModuleApi, ModuleCode, PublicEvent};

pub struct Payments;

impl Module for Payments {
    fn code(&self) -> &'static str {
        Self::CODE
    }
    fn name(&self) -> &'static str {
        "Payments and credits"
    }
    fn depends_on(&self) -> &'static [&'static str] {
        &["tenancy"]
    }
    fn api_resources(&self) -> &'static [&'static str] {
        &["credits"]
    }
    fn public_events(&self) -> &'static [PublicEvent] {
        &[PublicEvent {
            event_type: service::CREDITS_CHANGED,
            description: "A credit balance changed: `user_id`, `transaction_id`, `kind`, \
                `delta` (signed), `balance` (after the change), `changed_by`.",
        }]
    }
    fn field_rules(&self) -> &'static [FieldRule] {
        api::FIELD_RULES
    }
}

impl ModuleCode for Payments {
    const CODE: &'static str = "payments";
}

impl<B: Build> ModuleApi<B> for Payments {
    type Api = CreditsApi;
    fn api(&self, ctx: &AppContext) -> CreditsApi {
        CreditsApi { ctx: ctx.clone() }
    }
}
