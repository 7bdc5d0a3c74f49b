//! Tenant resolution for HTTP requests. Handlers of tenant-scoped routes take a [`Tenant<M>`]:
//! it authenticates the caller, resolves the tenant (the `X-Gym-ID` header in the gym build,
//! the caller's own workspace in the trainer build), checks the membership, and answers 404
//! `module_not_enabled` when module `M` is off for that tenant. Because every tenant query needs
//! the tenant this extractor yields, no module route can skip the enablement check.

use std::collections::HashMap;
use std::marker::PhantomData;
use std::sync::Arc;

use poem::{Request, RequestBody};
use poem_openapi::registry::{MetaParamIn, MetaSchema, MetaSchemaRef, Registry};
use poem_openapi::{ApiExtractor, ApiExtractorType, Enum, ExtractParamOptions};
use serde::{Deserialize, Serialize};
use sqlx::{PgPool, Postgres, Transaction};
use uuid::Uuid;

use crate::auth::{BearerAuth, principal_from_request};
use crate::module::ModuleCode;
use crate::{ApiError, ApiResult, AppContext, FieldError, Mode, db};

pub const TENANT_HEADER: &str = "X-Gym-ID";
const UUID_PATTERN: &str =
    "^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$";

/// Roles inside a tenant, lowest first: `owner > admin > trainer > member`.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    Enum,
    sqlx::Type,
)]
#[serde(rename_all = "snake_case")]
#[oai(rename_all = "snake_case")]
#[sqlx(type_name = "text", rename_all = "snake_case")]
pub enum Role {
    Member,
    Trainer,
    Admin,
    Owner,
}

/// What a tenant is: a gym with staff and members, or a personal trainer's workspace.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Enum, sqlx::Type)]
#[serde(rename_all = "snake_case")]
#[oai(rename_all = "snake_case")]
#[sqlx(type_name = "text", rename_all = "snake_case")]
pub enum TenantKind {
    Gym,
    PersonalTrainer,
}

/// A caller's standing in one tenant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct TenantAccess {
    pub gym_id: Uuid,
    pub role: Role,
    pub kind: TenantKind,
}

/// Membership lookups, implemented by the tenancy module (which owns the tables).
#[async_trait::async_trait]
pub trait TenantDirectory: Send + Sync {
    /// The tenant a request acts in. `requested` is the `X-Gym-ID` header. `Ok(None)` means no
    /// tenant could be chosen (no header in the gym build, no workspace in the trainer build);
    /// a tenant the caller does not belong to is an error (403 `not_a_member`).
    async fn resolve(
        &self,
        user_id: Uuid,
        requested: Option<Uuid>,
    ) -> ApiResult<Option<TenantAccess>>;

    /// The tenant's explicit module choices (`gym_modules`); absent codes use module defaults.
    async fn module_overrides(&self, gym_id: Uuid) -> ApiResult<Arc<HashMap<String, bool>>>;
}

/// The caller acting inside a tenant, for routes of module `M`.
pub struct Tenant<M> {
    pub user_id: Uuid,
    pub gym_id: Uuid,
    pub role: Role,
    pub kind: TenantKind,
    module: PhantomData<M>,
}

impl<M> Tenant<M> {
    /// 403 `insufficient_role` unless the caller's role is at least `minimum`.
    pub fn require(&self, minimum: Role) -> ApiResult<()> {
        if self.role >= minimum {
            Ok(())
        } else {
            Err(ApiError::forbidden(
                "insufficient_role",
                format!(
                    "this needs the {} role or higher in this tenant",
                    minimum.as_str()
                ),
            ))
        }
    }

    /// A transaction scoped to this tenant by row-level security.
    pub async fn begin(&self, pool: &PgPool) -> ApiResult<Transaction<'static, Postgres>> {
        Ok(db::begin_tenant(pool, self.gym_id).await?)
    }
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Member => "member",
            Role::Trainer => "trainer",
            Role::Admin => "admin",
            Role::Owner => "owner",
        }
    }
}

/// The caller, and the tenant they act in when one resolves (for routes that work with or
/// without a tenant, like `GET /users/me`).
pub struct OptionalTenant<M> {
    pub user_id: Uuid,
    pub tenant: Option<Tenant<M>>,
}

fn parse_tenant_header(req: &Request) -> ApiResult<Option<Uuid>> {
    let Some(value) = req.headers().get(TENANT_HEADER) else {
        return Ok(None);
    };
    value
        .to_str()
        .ok()
        .and_then(|text| Uuid::parse_str(text.trim()).ok())
        .map(Some)
        .ok_or_else(|| {
            ApiError::bad_request("invalid_tenant_header", "X-Gym-ID must be a UUID")
                .with_errors(vec![FieldError::new(TENANT_HEADER, "must be a UUID")])
        })
}

async fn resolve<M: ModuleCode>(req: &Request) -> ApiResult<(Uuid, Option<Tenant<M>>)> {
    let ctx = AppContext::from_request(req)?;
    let principal = principal_from_request(ctx, req)?;
    let requested = parse_tenant_header(req)?;
    let Some(access) = ctx.tenants.resolve(principal.user_id, requested).await? else {
        return Ok((principal.user_id, None));
    };
    // Core modules are always on: no need to look at the tenant's switches.
    let always_on = ctx
        .registry
        .get(M::CODE)
        .is_some_and(|module| module.is_core());
    if !always_on
        && !ctx.registry.is_enabled(
            M::CODE,
            &*ctx.tenants.module_overrides(access.gym_id).await?,
        )
    {
        return Err(ApiError::new(
            poem::http::StatusCode::NOT_FOUND,
            "module_not_enabled",
            format!("the `{}` module is not enabled for this tenant", M::CODE),
        ));
    }
    let tenant = Tenant {
        user_id: principal.user_id,
        gym_id: access.gym_id,
        role: access.role,
        kind: access.kind,
        module: PhantomData,
    };
    Ok((principal.user_id, Some(tenant)))
}

fn tenant_required(mode: Mode) -> ApiError {
    match mode {
        Mode::Gym => ApiError::bad_request(
            "tenant_required",
            "send the X-Gym-ID header naming your gym",
        )
        .with_errors(vec![FieldError::new(TENANT_HEADER, "is required")]),
        Mode::Trainer => ApiError::bad_request(
            "tenant_required",
            "you have no workspace; register as a trainer or ask a trainer to add you",
        ),
    }
}

fn header_schema(mode_note: &'static str) -> MetaSchemaRef {
    MetaSchemaRef::Inline(Box::new(MetaSchema {
        pattern: Some(UUID_PATTERN.to_string()),
        description: Some(mode_note),
        ..MetaSchema::new("string")
    }))
}

/// Description of the header on routes that need a tenant. The gym build's spec marks these
/// parameters required (see `http::openapi`), which poem-openapi cannot decide per build.
pub const TENANT_HEADER_NOTE: &str = "The tenant (gym or workspace) to act in, as a UUID. Required by the gym build; \
    the trainer build resolves your own workspace and uses it only to choose among several.";

/// Description of the header on routes that work with or without a tenant.
pub const OPTIONAL_TENANT_HEADER_NOTE: &str =
    "Optional: the tenant (gym or workspace) to report your role in, as a UUID.";

/// Shared OpenAPI description of the extractors below: an `X-Gym-ID` header parameter plus
/// the bearer security scheme.
macro_rules! tenant_extractor_meta {
    ($note:expr) => {
        const TYPES: &'static [ApiExtractorType] = &[
            ApiExtractorType::Parameter,
            ApiExtractorType::SecurityScheme,
        ];
        type ParamType = String;
        type ParamRawType = String;

        fn register(registry: &mut Registry) {
            <BearerAuth as ApiExtractor>::register(registry);
        }
        fn security_schemes() -> Vec<&'static str> {
            <BearerAuth as ApiExtractor>::security_schemes()
        }
        fn param_in() -> Option<MetaParamIn> {
            Some(MetaParamIn::Header)
        }
        fn param_schema_ref() -> Option<MetaSchemaRef> {
            Some(header_schema($note))
        }
    };
}

impl<'a, M: ModuleCode> ApiExtractor<'a> for Tenant<M> {
    tenant_extractor_meta!(TENANT_HEADER_NOTE);

    async fn from_request(
        req: &'a Request,
        _body: &mut RequestBody,
        _opts: ExtractParamOptions<Self::ParamType>,
    ) -> poem::Result<Self> {
        let (_, tenant) = resolve::<M>(req).await?;
        match tenant {
            Some(tenant) => Ok(tenant),
            None => Err(tenant_required(AppContext::from_request(req)?.registry.mode()).into()),
        }
    }
}

impl<'a, M: ModuleCode> ApiExtractor<'a> for OptionalTenant<M> {
    tenant_extractor_meta!(OPTIONAL_TENANT_HEADER_NOTE);

    async fn from_request(
        req: &'a Request,
        _body: &mut RequestBody,
        _opts: ExtractParamOptions<Self::ParamType>,
    ) -> poem::Result<Self> {
        let (user_id, tenant) = resolve::<M>(req).await?;
        Ok(OptionalTenant { user_id, tenant })
    }
}
