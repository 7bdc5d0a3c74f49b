//! Payments: what a tenant sells (products), the payments for it and their refunds,
//! memberships, and the class-credit ledger credit packages fill. Providers (Stripe,
//! MercadoPago) plug in through [`advance`]: a checkout writes a `pending` payment
//! ([`create_pending`], external reference = its id) and everything a provider later reports
//! is applied through [`advance`], as manual payments and refunds already are.
//!
//! - Routes: credits — `GET /api/v1/credits/balance`, `GET /api/v1/credits/transactions`,
//!   `POST /api/v1/credits/spend`, `POST /api/v1/credits/adjustments` (owners and admins).
//!   Products — `GET/POST /api/v1/payments/products`, `PATCH /api/v1/payments/products/{id}`
//!   (writes: owners and admins). Payments — `GET /api/v1/payments` (own; staff all, by
//!   `member_id` and `status`), `GET /api/v1/payments/{id}`, `POST /api/v1/payments/manual`
//!   (trainer and up), `POST /api/v1/payments/{id}/refunds` (owners and admins; provider
//!   payments are refunded at the provider). Checkout — `POST /api/v1/payments/checkout`
//!   (the caller pays for a product at Stripe or MercadoPago). Providers (owners) —
//!   `GET /api/v1/payments/providers`, `PUT/DELETE /api/v1/payments/providers/{provider}`.
//!   Memberships — `GET /api/v1/payments/subscriptions/me`, `GET /api/v1/payments/subscriptions`
//!   (staff), `POST /api/v1/payments/subscriptions/{id}/cancel`. Provider webhooks (inbound
//!   routes, no bearer) — `POST /api/v1/webhooks/stripe` (the platform's account and Connect),
//!   `POST /api/v1/webhooks/{provider}/{gym_id}` (a tenant's own account). API keys:
//!   `credits:read`, `credits:write`, `payments:read`, `payments:write`.
//!   Trainer build only (Stripe Connect, [`service::connect`]):
//!   `GET /api/v1/payments/connect/onboarding-link` (owner, no API keys: a fresh single-use
//!   link, creating the workspace's account first if needed),
//!   `GET /api/v1/payments/connect/status` (owners and admins: read from Stripe and stored; the
//!   stored one flagged `stale` when Stripe is down). The gym build's API does not have them.
//! - Tables (row-level security on `gym_id`; SQL in `repo/`): `credit_balances`,
//!   `credit_transactions` (append-only; a purchase's grant and a refund's reversal are unique
//!   by `source`), `products`, `payments` (with `connect_account` and `checkout_expires_at`;
//!   a Stripe renewal's `provider_ref` is its invoice, unique per tenant),
//!   `refunds`, `subscriptions` (`provider_ref`: the Stripe subscription billing it), `provider_credentials` (a tenant's own keys, sealed),
//!   `connected_accounts` (a trainer workspace's Stripe account and its last known status;
//!   readable across tenants only by account id, for `account.updated`). Without row-level
//!   security, holding ids only: `payment_tenants` (which tenant a provider payment belongs
//!   to, for platform webhooks) and `provider_events` (the webhook inbox, unique on provider +
//!   event key).
//! - Payment states: [`state`]; moves are conditional updates, so duplicates converge.
//! - Providers: [`providers`] (the trait, Stripe, MercadoPago); which one serves a tenant, and
//!   the cache of built clients: `service::providers::for_tenant`.
//! - Jobs: `payments.seed_default_products` (on `gym_created` and `workspace_created`: the
//!   four default credit packages), `payments.end_lapsed_subscriptions` (hourly: ends
//!   memberships whose grace or cancelled period is over), `payments.provider_event` (one per
//!   new webhook event: re-fetches the payment, or the Stripe invoice or subscription, from the
//!   provider and applies it; renewals: [`service::renewals`]),
//!   `payments.cancel_subscription_at_provider` (a Stripe-billed membership cancelled through
//!   the API: Stripe stops renewing it at the period's end, idempotency key
//!   `subscription-cancel:<subscription id>`),
//!   `payments.reconcile` (every 5 minutes: provider payments pending for longer than
//!   `reconcile_after_minutes` are asked about; expired checkouts are cancelled),
//!   `payments.create_connected_account` (on `workspace_created`, trainer build: the
//!   workspace's Stripe Express account, made with the deployment's key and the idempotency
//!   key `connect-account:<gym_id>`; retried with backoff while Stripe is unreachable; without
//!   a key it logs why and ends).
//! - Connect in the checkout and webhook flows: [`service::connect::destination`] (the
//!   `ConnectSplit` of a trainer's checkout on the platform's key, with the application fee
//!   rounded down) and [`service::connect::account_updated`] (refreshes a stored account
//!   status on Stripe's `account.updated`).
//! - Events: `credits.changed`, `payment.succeeded`, `payment.failed`, `payment.refunded`,
//!   `subscription.changed`, all public (webhooks; notifications tells members and staff).
//! - Ports: dashboard figures (revenue this month, pending payments).
//! - Config: `[payments]` ([`settings::PaymentSettings`]: `grace_days`, `public_base_url`,
//!   `checkout_success_url`, `checkout_cancel_url`, `checkout_expires_minutes`,
//!   `reconcile_after_minutes`), `[payments.providers]`
//!   ([`providers::settings::ProviderSettings`]) and `[payments.connect]` `refresh_url` and
//!   `return_url` (the trainer app's onboarding pages).
//! - Problems: in `errors.rs`. Both builds; on by default for a tenant.

mod api;
mod dashboard;
mod errors;
mod jobs;
pub mod providers;
mod repo;
mod service;
pub mod settings;
pub mod state;

pub use repo::payments::{Method, NewPayment, PaymentRow, Provider};
pub use service::connect::{account_updated, application_fee_minor, destination};
pub use service::payments::{Advanced, advance, create_pending};
pub use state::{Observed, Status};

use std::sync::Arc;

use kernel::http::document::{ApiLink, FieldRule};
use kernel::jobs::{JobHandler, Schedule, Subscription};
use kernel::{
    AppContext, GymBuild, Module, ModuleApi, ModuleCode, Port, PublicEvent, Routes, Settings,
    TrainerBuild,
};

use service::{credits, effects, subscriptions};

pub struct Payments;

static FIGURES: dashboard::PaymentFigures = dashboard::PaymentFigures;

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
        &["credits", "payments"]
    }
    fn public_events(&self) -> &'static [PublicEvent] {
        &[
            PublicEvent {
                event_type: credits::CREDITS_CHANGED,
                description: "A credit balance changed: `user_id`, `transaction_id`, `kind`, \
                    `delta` (signed), `balance` (after the change), `changed_by`.",
            },
            PublicEvent {
                event_type: effects::PAYMENT_SUCCEEDED,
                description: "A payment was paid: `payment_id`, `user_id`, `product_id`, \
                    `amount_minor`, `currency`, `provider`, `status`.",
            },
            PublicEvent {
                event_type: effects::PAYMENT_FAILED,
                description: "A payment failed: the payment's fields as in `payment.succeeded`.",
            },
            PublicEvent {
                event_type: effects::PAYMENT_REFUNDED,
                description: "Money was given back: the payment's fields (with \
                    `refunded_minor`, the total so far), `refund_id`, `refund_amount_minor`, \
                    `credits_reversed`, `reason`.",
            },
            PublicEvent {
                event_type: subscriptions::SUBSCRIPTION_CHANGED,
                description: "A membership started, was extended, fell past due, was \
                    cancelled or ended: `subscription_id`, `user_id`, `product_id`, `status`, \
                    `current_period_end`, `grace_until`, `payment_id` (when a payment caused it).",
            },
        ]
    }
    fn job_handlers(&self, ctx: &AppContext) -> Vec<Arc<dyn JobHandler>> {
        vec![
            Arc::new(jobs::SeedDefaultProducts { ctx: ctx.clone() }),
            Arc::new(jobs::EndLapsed { ctx: ctx.clone() }),
            Arc::new(jobs::ProviderEvent { ctx: ctx.clone() }),
            Arc::new(jobs::Reconcile { ctx: ctx.clone() }),
            Arc::new(jobs::CancelAtProvider { ctx: ctx.clone() }),
            Arc::new(jobs::connect::CreateConnectedAccount { ctx: ctx.clone() }),
        ]
    }
    fn schedules(&self) -> Vec<Schedule> {
        vec![jobs::end_lapsed_schedule(), jobs::reconcile_schedule()]
    }
    fn subscriptions(&self) -> Vec<Subscription> {
        let mut subscriptions: Vec<Subscription> = ["gym_created", "workspace_created"]
            .into_iter()
            .map(|event_type| Subscription {
                event_type,
                job_kind: jobs::SEED_DEFAULT_PRODUCTS,
            })
            .collect();
        // Only trainer sign-ups publish it; the job does nothing outside the trainer build.
        subscriptions.push(Subscription {
            event_type: "workspace_created",
            job_kind: jobs::connect::CREATE_CONNECTED_ACCOUNT,
        });
        subscriptions
    }
    fn routes(&self, _ctx: &AppContext) -> Routes {
        api::routes()
    }
    fn ports(&self) -> Vec<Port> {
        vec![Port::Dashboard(&FIGURES)]
    }
    fn check_settings(&self, settings: &Settings) -> Result<(), String> {
        settings::PaymentSettings::read(settings).map(drop)
    }
    fn field_rules(&self) -> &'static [FieldRule] {
        api::FIELD_RULES
    }
    fn links(&self) -> &'static [ApiLink] {
        api::LINKS
    }
}

impl ModuleCode for Payments {
    const CODE: &'static str = "payments";
}

impl ModuleApi<GymBuild> for Payments {
    type Api = api::Apis;
    fn api(&self, ctx: &AppContext) -> api::Apis {
        api::apis(ctx)
    }
}

/// The trainer build also onboards each workspace to Stripe Connect.
impl ModuleApi<TrainerBuild> for Payments {
    type Api = (api::Apis, api::ConnectApi);
    fn api(&self, ctx: &AppContext) -> Self::Api {
        (api::apis(ctx), api::ConnectApi { ctx: ctx.clone() })
    }
}
