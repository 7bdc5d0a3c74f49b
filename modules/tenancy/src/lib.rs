//! Tenancy: gyms and trainer workspaces, who belongs to them with which role, and which
//! modules each tenant has switched on.
//!
//! - Modules registered: `tenancy` (core: gyms/workspace, members, module switches) and
//!   `dashboard` (per-mode figures for staff; on by default, can be switched off).
//! - Routes, gym build: `POST/GET /api/v1/gyms`, `GET/PATCH /api/v1/gyms/{gym_id}`.
//!   Trainer build: `POST /api/v1/auth/register-trainer`, `GET/PATCH /api/v1/workspace`.
//!   Both: `GET/POST /api/v1/members`, `PATCH/DELETE /api/v1/members/{user_id}`,
//!   `GET /api/v1/modules`, `PUT /api/v1/modules/{code}`, `GET /api/v1/dashboard`.
//! - Tables: `gyms` (the tenant registry), `gym_members` and `gym_modules` (row-level
//!   security on `gym_id`). Reads `users` (identity's table) only to show members' names.
//! - Implements the kernel's [`kernel::TenantDirectory`]: membership resolution, cached in the
//!   kernel cache and invalidated by every membership or module change.
//! - Events: `gym_created` (gym build) and `workspace_created` (trainer sign-up), for modules
//!   that provision per-tenant data (the payments module starts a payment account);
//!   `member_added` when someone joins a tenant.

mod api;
mod directory;
mod members;
mod modules;
pub mod provisioning;
mod repo;
mod rules;
mod tenants;
mod validate;

pub use api::{DashboardApi, GymsApi, MembersApi, ModulesApi, WorkspaceApi};
pub use directory::TenancyDirectory;

use kernel::{Mode, Module, ModuleCode};

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
}

impl ModuleCode for Dashboard {
    const CODE: &'static str = "dashboard";
}
