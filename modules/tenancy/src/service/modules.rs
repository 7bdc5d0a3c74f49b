//! Per-tenant module switches.

use kernel::{ApiError, ApiResult, AppContext, Module, Role, Tenant, TenantInfo};

use crate::{directory, errors, repo};

pub struct ModuleState {
    pub module: &'static dyn Module,
    pub enabled: bool,
}

/// Every compiled module and whether it is on for the tenant (the tenant's switches come with
/// the resolved tenant).
pub fn list(ctx: &AppContext, tenant: &TenantInfo) -> Vec<ModuleState> {
    ctx.registry
        .iter()
        .map(|module| ModuleState {
            module,
            enabled: ctx.registry.is_enabled(module.code(), &tenant.modules),
        })
        .collect()
}

/// Codes of the modules switched on for the tenant, in registry order.
pub fn enabled_codes(ctx: &AppContext, tenant: &TenantInfo) -> Vec<String> {
    list(ctx, tenant)
        .into_iter()
        .filter(|state| state.enabled)
        .map(|state| state.module.code().to_string())
        .collect()
}

/// Switches a module on or off for the tenant (owners and admins). Core modules stay on, a
/// module others rely on stays on while they are on, and a module goes on only when what it
/// needs is on.
pub async fn set<M>(
    ctx: &AppContext,
    tenant: &Tenant<M>,
    code: &str,
    enabled: bool,
) -> ApiResult<ModuleState> {
    tenant.require(Role::Admin)?;
    let module = ctx.registry.get(code).ok_or_else(|| {
        ApiError::new(
            poem::http::StatusCode::NOT_FOUND,
            errors::UNKNOWN_MODULE,
            format!("no module `{code}` in this build"),
        )
    })?;
    let mut tx = tenant.begin(&ctx.db).await?;
    let overrides = repo::module_overrides(&mut tx, tenant.gym_id).await?;
    if !enabled {
        if module.is_core() {
            return Err(ApiError::conflict(
                errors::MODULE_REQUIRED,
                format!("`{code}` is a core module and cannot be switched off"),
            ));
        }
        let dependents = ctx.registry.enabled_dependents(code, &overrides);
        if !dependents.is_empty() {
            return Err(ApiError::conflict(
                errors::MODULE_REQUIRED,
                format!(
                    "`{code}` is needed by enabled modules: {}; switch those off first",
                    dependents.join(", ")
                ),
            ));
        }
    } else if let Some(missing) = module
        .depends_on()
        .iter()
        .find(|dep| !ctx.registry.is_enabled(dep, &overrides))
    {
        return Err(ApiError::conflict(
            errors::DEPENDENCY_DISABLED,
            format!("`{code}` needs `{missing}`; switch it on first"),
        ));
    }
    if !module.is_core() {
        repo::set_module(&mut tx, tenant.gym_id, code, enabled, Some(tenant.user_id)).await?;
    }
    tx.commit().await?;
    directory::invalidate_tenant(&ctx.cache, tenant.gym_id).await;
    Ok(ModuleState {
        module,
        enabled: module.is_core() || enabled,
    })
}
