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
//! - Tables: `gyms` (the tenant registry), `gym_members` and `gym_modules` (row-level
//!   security on `gym_id`), and `api_keys`. Reads `users` (identity's table) only to show members' names.
//! - Implements the kernel's [`kernel::TenantDirectory`]: membership and API-key resolution,
//!   cached in the kernel cache and invalidated by every membership, module or key change.
//! - API keys offer the scopes `members:*` and `modules:*` (tenancy), `dashboard:*`.
//! - Events: `gym_created` (gym build) and `workspace_created` (trainer sign-up), for modules
//!   that provision per-tenant data (the payments module starts a payment account);
//!   `member_added`, `member_role_changed` and `member_removed` (offered to integrators'
//!   webhooks).

mod api;
mod api_keys;
mod directory;
mod members;
mod modules;
pub mod provisioning;
mod repo;
mod rules;
mod tenants;
mod validate;

pub use api::{ApiKeysApi, DashboardApi, GymsApi, MembersApi, ModulesApi, WorkspaceApi};
pub use directory::TenancyDirectory;

use kernel::{Mode, Module, ModuleCode, PublicEvent};

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
}

impl ModuleCode for Tenancy {
    const CODE: &'static str = "tenancy";
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
