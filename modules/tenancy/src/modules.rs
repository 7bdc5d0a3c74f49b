//! Per-tenant module switches.

use kernel::{ApiError, ApiResult, AppContext, Module, Role, Tenant};

use crate::{directory, repo};

pub struct ModuleState {
    pub module: &'static dyn Module,
    pub enabled: bool,
}

pub async fn list<M>(ctx: &AppContext, tenant: &Tenant<M>) -> ApiResult<Vec<ModuleState>> {
    let overrides = ctx.tenants.module_overrides(tenant.gym_id).await?;
    Ok(ctx
        .registry
        .iter()
        .map(|module| ModuleState {
            module,
            enabled: ctx.registry.is_enabled(module.code(), &overrides),
        })
        .collect())
}

/// Codes of the modules switched on for the tenant, in registry order.
pub async fn enabled_codes<M>(ctx: &AppContext, tenant: &Tenant<M>) -> ApiResult<Vec<String>> {
    Ok(list(ctx, tenant)
        .await?
        .into_iter()
        .filter(|state| state.enabled)
        .map(|state| state.module.code().to_string())
        .collect())
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
            "unknown_module",
            format!("no module `{code}` in this build"),
        )
    })?;
    let mut tx = tenant.begin(&ctx.db).await?;
    let overrides = repo::module_overrides(&mut tx, tenant.gym_id).await?;
    if !enabled {
        if module.is_core() {
            return Err(ApiError::conflict(
                "module_required",
                format!("`{code}` is a core module and cannot be switched off"),
            ));
        }
        let dependents = ctx.registry.enabled_dependents(code, &overrides);
        if !dependents.is_empty() {
            return Err(ApiError::conflict(
                "module_required",
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
            "dependency_disabled",
            format!("`{code}` needs `{missing}`; switch it on first"),
        ));
    }
    if !module.is_core() {
        repo::set_module(&mut tx, tenant.gym_id, code, enabled, Some(tenant.user_id)).await?;
    }
    tx.commit().await?;
    directory::invalidate_modules(&ctx.cache, tenant.gym_id).await;
    Ok(ModuleState {
        module,
        enabled: module.is_core() || enabled,
    })
}
