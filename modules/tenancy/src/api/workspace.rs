use kernel::http::JsonBody;
use kernel::{ApiResult, AppContext, Role, Tenant, TenantInfo, TokenPair};
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Object, OpenApi, Tags};
use uuid::Uuid;

use super::{Gym, TenantUpdate};
use crate::Tenancy;
use crate::service::modules;
use crate::service::tenants::{self, TrainerSignUp};

#[derive(Debug, Object)]
#[oai(deny_unknown_fields)]
pub struct RegisterTrainerRequest {
    #[oai(validator(max_length = 254))]
    pub email: String,
    /// At least 10 characters.
    #[oai(validator(min_length = 10, max_length = 256))]
    pub password: String,
    #[oai(validator(min_length = 1, max_length = 100))]
    pub first_name: String,
    #[oai(validator(min_length = 1, max_length = 100))]
    pub last_name: String,
    /// Defaults to your full name.
    #[oai(validator(min_length = 1, max_length = 120))]
    pub workspace_name: Option<String>,
    /// IANA time zone (default `UTC`).
    #[oai(
        default = "super::default_timezone",
        validator(min_length = 1, max_length = 64)
    )]
    pub timezone: String,
    /// ISO 4217 currency code (default `USD`).
    #[oai(
        default = "super::default_currency",
        validator(pattern = "^[A-Za-z]{3}$")
    )]
    pub currency: String,
}

#[derive(Debug, Object)]
pub struct RegisteredTrainer {
    pub user_id: Uuid,
    pub email: String,
    pub tokens: TokenPair,
    /// Your new workspace; you are its owner.
    pub workspace: Gym,
}

/// Your workspace with its figures.
#[derive(Debug, Object)]
pub struct Workspace {
    #[oai(flatten)]
    pub workspace: Gym,
    /// Everyone in the workspace, you included.
    pub member_count: i64,
    /// People with the `member` role: your clients.
    pub client_count: i64,
    /// Codes of the modules switched on.
    pub enabled_modules: Vec<String>,
}

#[derive(ApiResponse)]
enum Registered {
    /// Account and workspace created; you are signed in.
    #[oai(status = 201)]
    Created(Json<RegisteredTrainer>),
}

#[derive(Tags)]
enum WorkspaceTags {
    /// Your trainer workspace: sign-up, settings and figures.
    Workspace,
}

pub struct WorkspaceApi {
    pub ctx: AppContext,
}

impl WorkspaceApi {
    async fn workspace(&self, tenant: &TenantInfo, role: Role) -> ApiResult<Workspace> {
        let figures = tenants::figures(&self.ctx, tenant).await?;
        let member_count = figures.by_role.iter().map(|(_, count, _)| count).sum();
        let client_count = figures
            .by_role
            .iter()
            .filter(|(role, ..)| *role == Role::Member)
            .map(|(_, count, _)| count)
            .sum();
        let enabled_modules = modules::enabled_codes(&self.ctx, tenant);
        Ok(Workspace {
            workspace: Gym::new(figures.gym, role),
            member_count,
            client_count,
            enabled_modules,
        })
    }
}

#[OpenApi(prefix_path = "/api/v1", tag = "WorkspaceTags::Workspace")]
impl WorkspaceApi {
    /// Sign up as a personal trainer
    ///
    /// Creates your account and your workspace (you own it, with the essential modules on) in
    /// one step, and signs you in.
    #[oai(
        path = "/auth/register-trainer",
        method = "post",
        operation_id = "auth_register_trainer"
    )]
    async fn register_trainer(
        &self,
        body: JsonBody<RegisterTrainerRequest>,
    ) -> ApiResult<Registered> {
        let body = body.0;
        let registration = tenants::register_trainer(
            &self.ctx,
            TrainerSignUp {
                email: &body.email,
                password: &body.password,
                first_name: &body.first_name,
                last_name: &body.last_name,
                workspace_name: body.workspace_name.as_deref(),
                timezone: &body.timezone,
                currency: &body.currency,
            },
        )
        .await?;
        Ok(Registered::Created(Json(RegisteredTrainer {
            user_id: registration.user_id,
            email: registration.email,
            tokens: registration.tokens,
            workspace: Gym::new(registration.workspace, Role::Owner),
        })))
    }

    /// Your workspace, with member and client counts and the modules switched on.
    #[oai(path = "/workspace", method = "get", operation_id = "workspace_get")]
    async fn get(
        &self,
        #[oai(name = "X-Gym-ID")] tenant: Tenant<Tenancy>,
    ) -> ApiResult<Json<Workspace>> {
        Ok(Json(self.workspace(&tenant.info, tenant.role).await?))
    }

    /// Change the workspace's name, time zone or currency (owner and admins).
    #[oai(
        path = "/workspace",
        method = "patch",
        operation_id = "workspace_update"
    )]
    async fn update(
        &self,
        #[oai(name = "X-Gym-ID")] tenant: Tenant<Tenancy>,
        body: JsonBody<TenantUpdate>,
    ) -> ApiResult<Json<Workspace>> {
        tenants::update(&self.ctx, tenant.gym_id, tenant.role, body.change()).await?;
        // The view reads the tenant afresh: `tenant.info` is from before the change.
        let info = self.ctx.tenants.tenant(&self.ctx, tenant.gym_id).await?;
        Ok(Json(self.workspace(&info, tenant.role).await?))
    }
}
