//! Tenancy: gyms and trainer workspaces, who belongs to them with which role, and which
//! modules each tenant has switched on.
//!
//! - Modules registered: `tenancy` (core: gyms/workspace, members, module switches) and
//!   `dashboard` (per-mode figures for staff; on by default, can be switched off).
//! - Routes, gym build: `POST/GET /api/v1/gyms`, `GET/PATCH /api/v1/gyms/{gym_id}`.
//!   Trainer build: `POST /api/v1/auth/register-trainer`, `GET/PATCH /api/v1/workspace`.
//!   Both: `GET/POST /api/v1/members`, `PATCH/DELETE /api/v1/members/{user_id}`,
//!   `GET /api/v1/modules`, `PUT /api/v1/modules/{code}`, `GET /api/v1/dashboard`,
//!   `GET/POST /api/v1/api-keys`, `DELETE /api/v1/api-keys/{id}`.
//! - Tables: `gyms` (the tenant registry), `gym_members`, `gym_modules` and `api_keys`
//!   (row-level security on `gym_id`). `gym_members` is also the member directory: names and
//!   e-mails copied from the accounts port when someone joins, searched with trigrams
//!   (`GET /api/v1/members?q=`).
//! - Jobs: `tenancy.refresh_person` (subscribed to identity's `user_profile_changed`) copies
//!   a person's new names into their memberships.
//! - Port: the kernel's tenants port ([`kernel::TenantDirectory`]): memberships, tenant info
//!   (kind, time zone, currency, module switches), API keys and the tenant iterator, cached in
//!   the kernel cache and invalidated by every change to them.
//! - Route policy: `POST /api/v1/auth/register-trainer` is a sign-in route (strict rate limit,
//!   no `Idempotency-Key`: its answer carries tokens).
//! - API keys offer the scopes `members:*` and `modules:*` (tenancy), `dashboard:*`.
//! - Events: `gym_created` (gym build) and `workspace_created` (trainer sign-up), for modules
//!   that provision per-tenant data (the payments module starts a payment account);
//!   `member_added`, `member_role_changed` and `member_removed` (offered to integrators'
//!   webhooks).

mod api;
mod directory;
mod errors;
mod jobs;
mod repo;
mod service;

pub use service::provisioning;

use api::{ApiKeysApi, DashboardApi, GymsApi, MembersApi, ModulesApi, WorkspaceApi};
use std::sync::Arc;

use kernel::http::document::{ApiLink, FieldRule};
use kernel::jobs::{JobHandler, Subscription};
use kernel::{
    AppContext, Build, GymBuild, Mode, Module, ModuleApi, ModuleCode, Port, PublicEvent, Routes,
    TrainerBuild,
};
use poem::http::Method;

pub struct Tenancy;

impl Module for Tenancy {
    fn code(&self) -> &'static str {
        Self::CODE
    }
    fn name(&self) -> &'static str {
        "Gyms, workspaces and members"
    }
    fn depends_on(&self) -> &'static [&'static str] {
        &["identity"]
    }
    fn is_core(&self) -> bool {
        true
    }
    fn api_resources(&self) -> &'static [&'static str] {
        &["members", "modules"]
    }
    fn routes(&self, ctx: &AppContext) -> Routes {
        match ctx.mode() {
            Mode::Gym => Routes::new(),
            Mode::Trainer => Routes::new()
                .sign_in(Method::POST, "/api/v1/auth/register-trainer")
                .without_idempotency(Method::POST, "/api/v1/auth/register-trainer"),
        }
    }
    fn ports(&self) -> Vec<Port> {
        vec![Port::Tenants(&directory::TenancyDirectory)]
    }
    fn job_handlers(&self, ctx: &AppContext) -> Vec<Arc<dyn JobHandler>> {
        vec![Arc::new(jobs::RefreshPerson { ctx: ctx.clone() })]
    }
    fn subscriptions(&self) -> Vec<Subscription> {
        vec![Subscription {
            event_type: "user_profile_changed",
            job_kind: jobs::REFRESH_PERSON,
        }]
    }
    fn public_events(&self) -> &'static [PublicEvent] {
        &[
            PublicEvent {
                event_type: "member_added",
                description: "Someone joined the tenant: `user_id`, `role`, `added_by`.",
            },
            PublicEvent {
                event_type: "member_role_changed",
                description: "A member's role changed: `user_id`, `previous_role`, `role`, `changed_by`.",
            },
            PublicEvent {
                event_type: "member_removed",
                description: "Someone left or was removed: `user_id`, `role`, `removed_by`.",
            },
        ]
    }
    fn field_rules(&self) -> &'static [FieldRule] {
        api::FIELD_RULES
    }
    fn links(&self) -> &'static [ApiLink] {
        api::LINKS
    }
}

impl ModuleCode for Tenancy {
    const CODE: &'static str = "tenancy";
}

fn shared_apis(ctx: &AppContext) -> (MembersApi, ModulesApi, ApiKeysApi) {
    (
        MembersApi { ctx: ctx.clone() },
        ModulesApi { ctx: ctx.clone() },
        ApiKeysApi { ctx: ctx.clone() },
    )
}

/// The gym build manages gyms.
impl ModuleApi<GymBuild> for Tenancy {
    type Api = ((MembersApi, ModulesApi, ApiKeysApi), GymsApi);
    fn api(&self, ctx: &AppContext) -> Self::Api {
        (shared_apis(ctx), GymsApi { ctx: ctx.clone() })
    }
}

/// The trainer build signs trainers up and manages their own workspace.
impl ModuleApi<TrainerBuild> for Tenancy {
    type Api = ((MembersApi, ModulesApi, ApiKeysApi), WorkspaceApi);
    fn api(&self, ctx: &AppContext) -> Self::Api {
        (shared_apis(ctx), WorkspaceApi { ctx: ctx.clone() })
    }
}

pub struct Dashboard;

impl Module for Dashboard {
    fn code(&self) -> &'static str {
        Self::CODE
    }
    fn name(&self) -> &'static str {
        "Dashboard"
    }
    fn depends_on(&self) -> &'static [&'static str] {
        &["tenancy"]
    }
    fn enabled_by_default(&self, _mode: Mode) -> bool {
        true
    }
    fn api_resources(&self) -> &'static [&'static str] {
        &["dashboard"]
    }
}

impl ModuleCode for Dashboard {
    const CODE: &'static str = "dashboard";
}

impl<B: Build> ModuleApi<B> for Dashboard {
    type Api = DashboardApi;
    fn api(&self, ctx: &AppContext) -> DashboardApi {
        DashboardApi { ctx: ctx.clone() }
    }
}
