use kernel::http::JsonBody;
use kernel::{ApiResult, AppContext, Tenant};
use poem_openapi::param::Path;
use poem_openapi::payload::Json;
use poem_openapi::{Object, OpenApi};

use super::TenancyTags;
use crate::Tenancy;
use crate::service::modules::{self, ModuleState};

#[derive(Debug, Object)]
pub struct TenantModule {
    /// Stable module code, e.g. `dashboard`.
    pub code: String,
    pub name: String,
    /// Core modules are always on.
    pub core: bool,
    /// Whether it is on for this tenant.
    pub enabled: bool,
    /// Whether new tenants of this build get it on.
    pub enabled_by_default: bool,
    /// Modules it needs.
    pub depends_on: Vec<String>,
}

impl TenantModule {
    fn new(state: ModuleState, mode: kernel::Mode) -> Self {
        let module = state.module;
        Self {
            code: module.code().into(),
            name: module.name().into(),
            core: module.is_core(),
            enabled: state.enabled,
            enabled_by_default: module.is_core() || module.enabled_by_default(mode),
            depends_on: module
                .depends_on()
                .iter()
                .map(|code| code.to_string())
                .collect(),
        }
    }
}

#[derive(Debug, Object)]
#[oai(deny_unknown_fields)]
pub struct SetModuleRequest {
    pub enabled: bool,
}

pub struct ModulesApi {
    pub ctx: AppContext,
}

#[OpenApi(prefix_path = "/api/v1", tag = "TenancyTags::Modules")]
impl ModulesApi {
    /// Modules compiled into this build, and whether each is on for your tenant.
    #[oai(path = "/modules", method = "get", operation_id = "modules_list")]
    async fn list(
        &self,
        #[oai(name = "X-Gym-ID")] tenant: Tenant<Tenancy>,
    ) -> ApiResult<Json<Vec<TenantModule>>> {
        let states = modules::list(&self.ctx, &tenant.info);
        Ok(Json(
            states
                .into_iter()
                .map(|state| TenantModule::new(state, self.ctx.mode()))
                .collect(),
        ))
    }

    /// Switch a module on or off for your tenant
    ///
    /// Owners and admins only. Core modules and modules others need answer 409
    /// `module_required`; unknown codes 404 `unknown_module`.
    #[oai(path = "/modules/:code", method = "put", operation_id = "modules_set")]
    async fn set(
        &self,
        #[oai(name = "X-Gym-ID")] tenant: Tenant<Tenancy>,
        #[oai(validator(max_length = 64))] code: Path<String>,
        body: JsonBody<SetModuleRequest>,
    ) -> ApiResult<Json<TenantModule>> {
        let state = modules::set(&self.ctx, &tenant, &code.0, body.enabled).await?;
        Ok(Json(TenantModule::new(state, self.ctx.mode())))
    }
}
