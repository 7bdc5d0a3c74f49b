use chrono::{DateTime, Utc};
use kernel::dashboard::{DashboardPeriod, Figure};
use kernel::{ApiResult, AppContext, Mode, Role, Tenant, TenantInfo};
use poem_openapi::payload::Json;
use poem_openapi::{Object, OpenApi};

use super::{Gym, TenancyTags};
use crate::Dashboard;
use crate::service::{modules, tenants};

#[derive(Debug, Object)]
pub struct RoleCount {
    pub role: Role,
    pub count: i64,
}

/// Gym build figures.
#[derive(Debug, Object)]
pub struct GymFigures {
    pub members_by_role: Vec<RoleCount>,
    /// People who joined since the start of this month (in the gym's time zone).
    pub new_members_this_month: i64,
}

/// Trainer build figures.
#[derive(Debug, Object)]
pub struct TrainerFigures {
    /// People with the `member` role.
    pub clients: i64,
    /// Clients who joined since the start of this month (in the workspace's time zone).
    pub new_clients_this_month: i64,
}

#[derive(Debug, Object)]
pub struct DashboardView {
    pub mode: Mode,
    pub tenant: Gym,
    /// Start of "this month" in the tenant's time zone, as an instant.
    pub month_start: DateTime<Utc>,
    /// Present in the gym build.
    #[oai(skip_serializing_if_is_none)]
    pub gym: Option<GymFigures>,
    /// Present in the trainer build.
    #[oai(skip_serializing_if_is_none)]
    pub trainer: Option<TrainerFigures>,
    /// Codes of the modules switched on.
    pub enabled_modules: Vec<String>,
    /// Figures of the other modules switched on, one section each.
    pub sections: Vec<DashboardSection>,
}

/// One module's figures.
#[derive(Debug, Object)]
pub struct DashboardSection {
    /// The module's code, e.g. `media`.
    pub module: String,
    /// The module's name, for people.
    pub name: String,
    pub figures: Vec<Figure>,
}

/// The figures every module switched on for the tenant contributes, in registry order, but
/// those meant for roles above the caller's (`role`).
async fn sections(
    ctx: &AppContext,
    tenant: &TenantInfo,
    role: Role,
    period: &DashboardPeriod,
) -> ApiResult<Vec<DashboardSection>> {
    let mut sections = Vec::new();
    for (code, contribution) in &ctx.registry.ports().dashboard {
        if !ctx.registry.is_enabled(code, &tenant.modules) || role < contribution.minimum_role() {
            continue;
        }
        let Some(module) = ctx.registry.get(code) else {
            continue;
        };
        sections.push(DashboardSection {
            module: module.code().into(),
            name: module.name().into(),
            figures: contribution.figures(ctx, tenant, period).await?,
        });
    }
    Ok(sections)
}

pub struct DashboardApi {
    pub ctx: AppContext,
}

#[OpenApi(prefix_path = "/api/v1", tag = "TenancyTags::Dashboard")]
impl DashboardApi {
    /// Figures for staff
    ///
    /// Trainer role and up. Gym build: people by role and this month's newcomers; trainer
    /// build: clients. Both: the modules switched on, and a section of figures from each of
    /// them that has some (a module may keep its figures for admins and owners). Days and
    /// months follow the tenant's time zone.
    #[oai(path = "/dashboard", method = "get", operation_id = "dashboard_get")]
    async fn get(
        &self,
        #[oai(name = "X-Gym-ID")] tenant: Tenant<Dashboard>,
    ) -> ApiResult<Json<DashboardView>> {
        tenant.require(Role::Trainer)?;
        let figures = tenants::figures(&self.ctx, &tenant.info).await?;
        let enabled_modules = modules::enabled_codes(&self.ctx, &tenant.info);
        let sections = sections(&self.ctx, &tenant.info, tenant.role, &figures.period).await?;
        let mode = self.ctx.mode();
        let (gym, trainer) = match mode {
            Mode::Gym => {
                let mut members_by_role: Vec<RoleCount> = figures
                    .by_role
                    .iter()
                    .map(|(role, count, _)| RoleCount {
                        role: *role,
                        count: *count,
                    })
                    .collect();
                members_by_role.sort_by_key(|entry| std::cmp::Reverse(entry.role));
                let new_members_this_month = figures.by_role.iter().map(|(_, _, new)| new).sum();
                (
                    Some(GymFigures {
                        members_by_role,
                        new_members_this_month,
                    }),
                    None,
                )
            }
            Mode::Trainer => {
                let (clients, new_clients_this_month) = figures
                    .by_role
                    .iter()
                    .find(|(role, ..)| *role == Role::Member)
                    .map(|(_, count, new)| (*count, *new))
                    .unwrap_or_default();
                (
                    None,
                    Some(TrainerFigures {
                        clients,
                        new_clients_this_month,
                    }),
                )
            }
        };
        Ok(Json(DashboardView {
            mode,
            tenant: Gym::new(figures.gym, tenant.role),
            month_start: figures.period.month_start,
            gym,
            trainer,
            enabled_modules,
            sections,
        }))
    }
}
