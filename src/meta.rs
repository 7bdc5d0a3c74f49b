use kernel::{ApiResult, AppContext, Mode};
use poem_openapi::payload::Json;
use poem_openapi::{Object, OpenApi, Tags};

#[derive(Tags)]
enum MetaTags {
    /// What this deployment is: build, version, modules.
    Meta,
}

#[derive(Debug, Object)]
pub struct CompiledModule {
    pub code: String,
    pub name: String,
    pub core: bool,
}

#[derive(Debug, Object)]
pub struct BuildInfo {
    /// `gym` or `trainer`.
    pub build: Mode,
    pub version: String,
    pub modules: Vec<CompiledModule>,
}

pub struct MetaApi {
    pub ctx: AppContext,
}

#[OpenApi(prefix_path = "/api/v1", tag = "MetaTags::Meta")]
impl MetaApi {
    /// Which build this is, its version, and the modules compiled in.
    #[oai(path = "/meta", method = "get", operation_id = "meta_get")]
    async fn meta(&self) -> ApiResult<Json<BuildInfo>> {
        let modules = self
            .ctx
            .registry
            .iter()
            .map(|module| CompiledModule {
                code: module.code().into(),
                name: module.name().into(),
                core: module.is_core(),
            })
            .collect();
        Ok(Json(BuildInfo {
            build: self.ctx.mode(),
            version: env!("CARGO_PKG_VERSION").into(),
            modules,
        }))
    }
}
