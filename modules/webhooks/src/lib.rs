//! Outgoing webhooks: integrators register endpoints per tenant and receive the tenant's
//! public domain events, signed, retried, logged and replayable.
//!
//! - Routes: `/api/v1/webhook-endpoints` (CRUD, owners and admins, or API keys with
//!   `webhook-endpoints:read` / `webhook-endpoints:write`), `.../{id}/rotate-secret`, `.../{id}/ping`,
//!   `.../{id}/deliveries`, `.../{id}/deliveries/{delivery_id}/replay`,
//!   `GET /api/v1/webhook-endpoints/event-types` ([`api`]).
//! - Tables: `webhook_endpoints`, `webhook_deliveries` (row-level security on `gym_id`;
//!   all SQL in [`repo`]).
//! - Events: emits none. Receives every public event (the ones modules list for integrators)
//!   through the `webhooks.fan_out` job.
//! - Jobs ([`jobs`]): `webhooks.fan_out` makes one delivery per subscribed endpoint;
//!   `webhooks.send` makes one attempt and schedules the next ([`service::attempts`]);
//!   `webhooks.seal_secrets` (hourly, first right after the upgrade) seals secrets stored
//!   readable before sealing existed and re-seals those under a retired key
//!   ([`service::secrets`]).
//! - Secrets: stored sealed with the kernel's `[secrets]` keys, bound to their endpoint;
//!   opened only to sign a delivery.
//! - Signature: `X-GymAPI-Signature: t=<unix>,v1=<hex HMAC-SHA256 of "t.body">` ([`signature`]).
//! - Targets: see [`targets`] (no private addresses unless `webhooks.allow_private_targets`).
//! - Problems: `too_many_endpoints` (409) ([`errors`]).
//! - Config: `[webhooks]` ([`settings::WebhookSettings`]): `allow_private_targets`,
//!   `retry_schedule_seconds`, `retry_window_seconds`, `timeout_seconds`,
//!   `rotation_overlap_seconds`, with their defaults in `config/default.toml`.
//! - On by default in both builds.

mod api;
mod errors;
mod jobs;
mod repo;
mod sender;
mod service;
pub mod settings;
pub mod signature;
pub mod targets;

pub use api::WebhooksApi;

use std::sync::Arc;

use kernel::http::document::{ApiLink, FieldRule};
use kernel::jobs::{JobHandler, PUBLIC_EVENTS, Schedule, Subscription};
use kernel::{AppContext, Build, Module, ModuleApi, ModuleCode, Settings};

use crate::settings::WebhookSettings;

pub struct Webhooks;

impl Module for Webhooks {
    fn code(&self) -> &'static str {
        Self::CODE
    }
    fn name(&self) -> &'static str {
        "Outgoing webhooks"
    }
    fn depends_on(&self) -> &'static [&'static str] {
        &["tenancy"]
    }
    fn job_handlers(&self, ctx: &AppContext) -> Vec<Arc<dyn JobHandler>> {
        vec![
            Arc::new(jobs::FanOut { ctx: ctx.clone() }),
            Arc::new(jobs::Send {
                ctx: ctx.clone(),
                sender: sender::Sender::new(WebhookSettings::of(&ctx.settings)),
            }),
            Arc::new(jobs::SealSecrets { ctx: ctx.clone() }),
        ]
    }
    fn schedules(&self) -> Vec<Schedule> {
        vec![service::secrets::seal_schedule()]
    }
    fn subscriptions(&self) -> Vec<Subscription> {
        vec![Subscription {
            event_type: PUBLIC_EVENTS,
            job_kind: jobs::FAN_OUT,
        }]
    }
    fn api_resources(&self) -> &'static [&'static str] {
        &["webhook-endpoints"]
    }
    fn check_settings(&self, settings: &Settings) -> Result<(), String> {
        WebhookSettings::read(settings).map(drop)
    }
    fn field_rules(&self) -> &'static [FieldRule] {
        api::FIELD_RULES
    }
    fn links(&self) -> &'static [ApiLink] {
        api::LINKS
    }
}

impl ModuleCode for Webhooks {
    const CODE: &'static str = "webhooks";
}

impl<B: Build> ModuleApi<B> for Webhooks {
    type Api = WebhooksApi;
    fn api(&self, ctx: &AppContext) -> WebhooksApi {
        WebhooksApi {
            ctx: ctx.clone(),
            settings: WebhookSettings::of(&ctx.settings),
        }
    }
}
