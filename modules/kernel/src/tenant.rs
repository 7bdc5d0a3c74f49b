//! Tenant resolution for HTTP requests. Handlers of tenant-scoped routes take a [`Tenant<M>`]:
//! it authenticates the caller, resolves the tenant (the `X-Gym-ID` header in the gym build,
//! the caller's own workspace in the trainer build), checks the membership, and answers 404
//! `module_not_enabled` when module `M` is off for that tenant. Because every tenant query needs
//! the tenant this extractor yields, no module route can skip the enablement check.

use std::collections::HashMap;
use std::marker::PhantomData;

use chrono_tz::Tz;
use iso_currency::Currency;
use poem::{Request, RequestBody};
use poem_openapi::registry::{MetaParamIn, MetaSchema, MetaSchemaRef, Registry};
use poem_openapi::{ApiExtractor, ApiExtractorType, Enum, ExtractParamOptions};
use serde::{Deserialize, Serialize};
use sqlx::{PgPool, Postgres, Transaction};
use uuid::Uuid;

use crate::auth::{BearerAuth, Credentials, api_key_not_allowed};
use crate::{ApiError, ApiResult, AppContext, FieldError, Mode, db};

pub const TENANT_HEADER: &str = "X-Gym-ID";
const UUID_PATTERN: &str =
    "^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$";

/// Ties a type-level marker to a module code, so the tenant extractor of a module's routes
/// (`Tenant<M>`) checks that module's enablement.
pub trait ModuleCode: Send + Sync + 'static {
    const CODE: &'static str;
}

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

/// What every module may know about a tenant without reading the tenancy tables: what it is
/// and is called, the time zone its "today" and "this month" follow, the currency its prices
/// are in, and its module switches. Cached per tenant; changing any of it drops the cached copy.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TenantInfo {
    pub gym_id: Uuid,
    pub kind: TenantKind,
    pub name: String,
    pub created_at: chrono::DateTime<chrono::Utc>,
    pub updated_at: chrono::DateTime<chrono::Utc>,
    pub timezone: Tz,
    pub currency: Currency,
    /// Explicit module switches; codes absent here follow the module's default.
    pub modules: HashMap<String, bool>,
}

/// An integrator's API key as stored: it acts as the person who created it (never above their
/// current role in the tenant), limited to its scopes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiKeyAccess {
    pub key_id: Uuid,
    pub gym_id: Uuid,
    pub created_by: Uuid,
    pub scopes: Vec<String>,
}

impl ApiKeyAccess {
    /// `x:write` includes `x:read`.
    pub fn allows(&self, needed: &str) -> bool {
        self.scopes.iter().any(|scope| {
            scope == needed
                || needed
                    .strip_suffix(":read")
                    .is_some_and(|resource| scope.strip_suffix(":write") == Some(resource))
        })
    }
}

/// Tenants and memberships, implemented by the tenancy module (which owns the tables). Every
/// lookup a request makes is cached by the implementation.
#[async_trait::async_trait]
pub trait TenantDirectory: Send + Sync {
    /// The tenant a request acts in. `requested` is the `X-Gym-ID` header. `Ok(None)` means no
    /// tenant could be chosen (no header in the gym build, no workspace in the trainer build);
    /// a tenant the caller does not belong to is an error (403 `not_a_member`).
    async fn resolve(
        &self,
        ctx: &AppContext,
        user_id: Uuid,
        requested: Option<Uuid>,
    ) -> ApiResult<Option<TenantAccess>>;

    /// The tenant's settings and module switches; 404 for a tenant that does not exist.
    async fn tenant(&self, ctx: &AppContext, gym_id: Uuid) -> ApiResult<TenantInfo>;

    /// The live (not revoked, not expired) API key of `gym_id` stored under `digest`.
    async fn api_key(
        &self,
        ctx: &AppContext,
        gym_id: Uuid,
        digest: &[u8],
    ) -> ApiResult<Option<ApiKeyAccess>>;

    /// The people of `gym_id` whose role is at least `minimum` (say, the staff to tell about a
    /// payment), in user id order; at most 1,000.
    async fn people_with_role(
        &self,
        ctx: &AppContext,
        gym_id: Uuid,
        minimum: Role,
    ) -> ApiResult<Vec<Uuid>>;

    /// How many people belong to `gym_id`, whatever their role (say, the audience a story's
    /// reach is a share of).
    async fn member_count(&self, ctx: &AppContext, gym_id: Uuid) -> ApiResult<i64>;

    /// Up to `limit` tenant ids greater than `after`, in id order (see [`EveryTenant`]).
    async fn tenant_ids_after(
        &self,
        ctx: &AppContext,
        after: Option<Uuid>,
        limit: i64,
    ) -> ApiResult<Vec<Uuid>>;
}

/// Every tenant's id, a batch at a time, for periodic sweeps:
/// `while let Some(batch) = tenants.next_batch().await? { ... }`.
pub struct EveryTenant<'a> {
    ctx: &'a AppContext,
    after: Option<Uuid>,
    done: bool,
}

impl<'a> EveryTenant<'a> {
    const BATCH: i64 = 200;

    pub fn new(ctx: &'a AppContext) -> Self {
        Self {
            ctx,
            after: None,
            done: false,
        }
    }

    pub async fn next_batch(&mut self) -> ApiResult<Option<Vec<Uuid>>> {
        if self.done {
            return Ok(None);
        }
        let batch = self
            .ctx
            .tenants
            .tenant_ids_after(self.ctx, self.after, Self::BATCH)
            .await?;
        self.done = (batch.len() as i64) < Self::BATCH;
        self.after = batch.last().copied();
        Ok((!batch.is_empty()).then_some(batch))
    }
}

/// The caller acting inside a tenant, for routes of module `M`.
pub struct Tenant<M> {
    pub user_id: Uuid,
    pub gym_id: Uuid,
    pub role: Role,
    /// Set when an integrator's API key made the request (`user_id` is then the key's creator).
    pub api_key_id: Option<Uuid>,
    /// The tenant's kind, time zone, currency and module switches.
    pub info: TenantInfo,
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

    /// 403 `api_key_not_allowed` for API keys: for routes only a person may use (managing
    /// API keys, for one, so a key can never mint a wider one).
    pub fn require_person(&self) -> ApiResult<()> {
        match self.api_key_id {
            None => Ok(()),
            Some(_) => Err(api_key_not_allowed()),
        }
    }

    /// A transaction scoped to this tenant by row-level security.
    pub async fn begin(&self, pool: &PgPool) -> ApiResult<Transaction<'static, Postgres>> {
        Ok(db::begin_tenant(pool, self.gym_id).await?)
    }

    /// A read-only transaction scoped to this tenant, never committed ([`db::ReadOnly`]).
    pub async fn read(&self, pool: &PgPool) -> ApiResult<db::ReadOnly> {
        Ok(db::read_tenant(pool, self.gym_id).await?)
    }
}

impl<M: ModuleCode> Tenant<M> {
    async fn with_access(
        ctx: &AppContext,
        user_id: Uuid,
        access: TenantAccess,
        api_key_id: Option<Uuid>,
    ) -> ApiResult<Self> {
        let info = ctx.tenants.tenant(ctx, access.gym_id).await?;
        require_enabled::<M>(ctx, &info)?;
        Ok(Tenant {
            user_id,
            gym_id: access.gym_id,
            role: access.role,
            api_key_id,
            info,
            module: PhantomData,
        })
    }

    /// `user_id` in `gym_id`, when something other than a bearer token vouched for them (a
    /// stream ticket): the same membership, role and module checks as the extractor.
    pub async fn of_user(ctx: &AppContext, user_id: Uuid, gym_id: Uuid) -> ApiResult<Self> {
        let access = ctx
            .tenants
            .resolve(ctx, user_id, Some(gym_id))
            .await?
            .ok_or_else(|| tenant_required(ctx.mode()))?;
        Self::with_access(ctx, user_id, access, None).await
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

/// The caller, and their standing in the tenant the request names when one resolves (for
/// routes that work with or without a tenant, like `GET /users/me`). API keys are refused.
pub struct OptionalTenant<M> {
    pub user_id: Uuid,
    pub tenant: Option<TenantAccess>,
    module: PhantomData<M>,
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

/// Who is calling and in which tenant: a person by access token, or an API key (only where
/// `keys_allowed`).
async fn caller(
    ctx: &AppContext,
    req: &Request,
    keys_allowed: bool,
) -> ApiResult<(Uuid, Option<TenantAccess>, Option<Uuid>)> {
    // Authentication comes first: a request without valid credentials is a 401 whatever its
    // other headers say.
    let credentials = Credentials::of(ctx, req).await?;
    let Credentials::ApiKey(key) = credentials.as_ref() else {
        let principal = credentials.person()?;
        let requested = parse_tenant_header(req)?;
        let access = ctx
            .tenants
            .resolve(ctx, principal.user_id, requested)
            .await?;
        return Ok((principal.user_id, access, None));
    };
    if !keys_allowed {
        return Err(api_key_not_allowed());
    }
    let key = ctx
        .tenants
        .api_key(ctx, key.gym_id, &key.digest)
        .await?
        .ok_or_else(|| {
            ApiError::invalid_token(
                "invalid_token",
                "the API key is invalid, revoked or expired",
            )
        })?;
    let requested = parse_tenant_header(req)?;
    if requested.is_some_and(|gym_id| gym_id != key.gym_id) {
        return Err(ApiError::forbidden(
            "api_key_wrong_tenant",
            "this API key belongs to another tenant than the one X-Gym-ID names",
        ));
    }
    let needed = needed_scope(
        req.method(),
        req.original_uri().path(),
        ctx.registry.api_scopes(),
    )
    .ok_or_else(api_key_not_allowed)?;
    if !key.allows(&needed) {
        return Err(ApiError::forbidden(
            "insufficient_scope",
            format!("this API key lacks the `{needed}` scope"),
        ));
    }
    // The key acts as its creator, so it loses what they lose (a demotion, leaving the tenant).
    let access = match ctx
        .tenants
        .resolve(ctx, key.created_by, Some(key.gym_id))
        .await
    {
        Ok(Some(access)) => access,
        Ok(None) => return Err(creator_gone()),
        Err(err) if err.status() == poem::http::StatusCode::FORBIDDEN => {
            return Err(creator_gone());
        }
        Err(err) => return Err(err),
    };
    Ok((key.created_by, Some(access), Some(key.key_id)))
}

fn creator_gone() -> ApiError {
    ApiError::invalid_token(
        "invalid_token",
        "the person who created this API key no longer belongs to the tenant",
    )
}

/// The scope a request needs: `<resource>:read` for GET and HEAD, `<resource>:write` for the
/// rest, where the resource is the first path segment after `/api/v1/`. `None` when no module
/// offers that resource to API keys.
fn needed_scope(method: &poem::http::Method, path: &str, known: &[String]) -> Option<String> {
    let resource = path.strip_prefix("/api/v1/")?.split('/').next()?;
    let access = match *method {
        poem::http::Method::GET | poem::http::Method::HEAD => "read",
        _ => "write",
    };
    let scope = format!("{resource}:{access}");
    known.contains(&scope).then_some(scope)
}

/// 404 `module_not_enabled` unless module `M` is on for the tenant.
fn require_enabled<M: ModuleCode>(ctx: &AppContext, info: &TenantInfo) -> ApiResult<()> {
    if ctx.registry.is_enabled(M::CODE, &info.modules) {
        Ok(())
    } else {
        Err(ApiError::new(
            poem::http::StatusCode::NOT_FOUND,
            "module_not_enabled",
            format!("the `{}` module is not enabled for this tenant", M::CODE),
        ))
    }
}

fn is_core<M: ModuleCode>(ctx: &AppContext) -> bool {
    ctx.registry
        .get(M::CODE)
        .is_some_and(|module| module.is_core())
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
        let ctx = AppContext::from_request(req)?;
        let (user_id, access, api_key_id) = caller(ctx, req, true).await?;
        let access = access.ok_or_else(|| tenant_required(ctx.registry.mode()))?;
        Ok(Tenant::with_access(ctx, user_id, access, api_key_id).await?)
    }
}

impl<'a, M: ModuleCode> ApiExtractor<'a> for OptionalTenant<M> {
    tenant_extractor_meta!(OPTIONAL_TENANT_HEADER_NOTE);

    async fn from_request(
        req: &'a Request,
        _body: &mut RequestBody,
        _opts: ExtractParamOptions<Self::ParamType>,
    ) -> poem::Result<Self> {
        let ctx = AppContext::from_request(req)?;
        let (user_id, tenant, _) = caller(ctx, req, false).await?;
        // Core modules are always on: no need to look at the tenant's switches.
        if let Some(access) = &tenant
            && !is_core::<M>(ctx)
        {
            require_enabled::<M>(ctx, &ctx.tenants.tenant(ctx, access.gym_id).await?)?;
        }
        Ok(OptionalTenant {
            user_id,
            tenant,
            module: PhantomData,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(scopes: &[&str]) -> ApiKeyAccess {
        ApiKeyAccess {
            key_id: Uuid::nil(),
            gym_id: Uuid::nil(),
            created_by: Uuid::nil(),
            scopes: scopes.iter().map(|s| s.to_string()).collect(),
        }
    }

    #[test]
    fn write_scopes_include_read_of_the_same_resource_only() {
        let writer = key(&["things:write"]);
        assert!(writer.allows("things:read"));
        assert!(writer.allows("things:write"));
        assert!(!writer.allows("uploads:read"));
        let reader = key(&["things:read"]);
        assert!(reader.allows("things:read"));
        assert!(!reader.allows("things:write"));
    }

    #[test]
    fn needed_scope_follows_method_and_first_segment() {
        use poem::http::Method;
        let known = vec!["things:read".to_string(), "things:write".to_string()];
        assert_eq!(
            needed_scope(&Method::GET, "/api/v1/things", &known).as_deref(),
            Some("things:read")
        );
        assert_eq!(
            needed_scope(&Method::PATCH, "/api/v1/things/1", &known).as_deref(),
            Some("things:write")
        );
        assert_eq!(needed_scope(&Method::GET, "/api/v1/keys", &known), None);
        assert_eq!(needed_scope(&Method::GET, "/media/x", &known), None);
    }
}
