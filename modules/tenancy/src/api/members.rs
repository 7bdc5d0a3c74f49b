use chrono::{DateTime, Utc};
use kernel::http::JsonBody;
use kernel::{ApiResult, AppContext, Role, Tenant};
use poem_openapi::param::{Path, Query};
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Object, OpenApi};
use uuid::Uuid;

use super::TenancyTags;
use crate::Tenancy;
use crate::members::Members;
use crate::repo::MemberRow;

#[derive(Debug, Object)]
pub struct Member {
    pub user_id: Uuid,
    pub email: String,
    pub first_name: String,
    pub last_name: String,
    pub role: Role,
    pub joined_at: DateTime<Utc>,
}

impl From<MemberRow> for Member {
    fn from(row: MemberRow) -> Self {
        Self {
            user_id: row.user_id,
            email: row.email,
            first_name: row.first_name,
            last_name: row.last_name,
            role: row.role,
            joined_at: row.created_at,
        }
    }
}

#[derive(Debug, Object)]
pub struct MemberPage {
    pub items: Vec<Member>,
    /// Pass as `cursor` to get the next page; absent on the last page.
    #[oai(skip_serializing_if_is_none)]
    pub next_cursor: Option<String>,
}

#[derive(Debug, Object)]
#[oai(deny_unknown_fields)]
pub struct AddMemberRequest {
    /// E-mail of a registered user.
    #[oai(validator(max_length = 254))]
    pub email: String,
    /// Role to give (default `member`); not above your own.
    #[oai(default = "default_role")]
    pub role: Role,
}

fn default_role() -> Role {
    Role::Member
}

#[derive(Debug, Object)]
#[oai(deny_unknown_fields)]
pub struct ChangeRoleRequest {
    pub role: Role,
}

#[derive(ApiResponse)]
enum Added {
    #[oai(status = 201)]
    Created(Json<Member>),
}

#[derive(ApiResponse)]
enum Removed {
    /// The person no longer belongs to the tenant.
    #[oai(status = 204)]
    Done,
}

pub struct MembersApi {
    pub ctx: AppContext,
}

impl MembersApi {
    fn members<'a>(&'a self, tenant: &'a Tenant<Tenancy>) -> Members<'a, Tenancy> {
        Members {
            ctx: &self.ctx,
            tenant,
        }
    }
}

#[OpenApi(prefix_path = "/api/v1", tag = "TenancyTags::Members")]
impl MembersApi {
    /// The tenant's people with their roles, oldest first (staff: trainer and up).
    #[oai(path = "/members", method = "get", operation_id = "members_list")]
    async fn list(
        &self,
        #[oai(name = "X-Gym-ID")] tenant: Tenant<Tenancy>,
        /// Only people with this role.
        role: Query<Option<Role>>,
        /// Page size, 1–100 (default 20).
        #[oai(validator(minimum(value = "1"), maximum(value = "100")))]
        limit: Query<Option<u32>>,
        /// `next_cursor` of the previous page.
        #[oai(validator(pattern = "^[A-Za-z0-9_-]{1,512}$"))]
        cursor: Query<Option<String>>,
    ) -> ApiResult<Json<MemberPage>> {
        let (rows, next_cursor) = self
            .members(&tenant)
            .list(role.0, cursor.0.as_deref(), limit.0)
            .await?;
        Ok(Json(MemberPage {
            items: rows.into_iter().map(Member::from).collect(),
            next_cursor,
        }))
    }

    /// Add a registered user to the tenant (owners and admins; not above your own role).
    #[oai(path = "/members", method = "post", operation_id = "members_add")]
    async fn add(
        &self,
        #[oai(name = "X-Gym-ID")] tenant: Tenant<Tenancy>,
        body: JsonBody<AddMemberRequest>,
    ) -> ApiResult<Added> {
        let member = self.members(&tenant).add(&body.email, body.role).await?;
        Ok(Added::Created(Json(member.into())))
    }

    /// Change someone's role
    ///
    /// Owners and admins only; never above your own role, never leaving the tenant without an
    /// owner (409 `last_owner`).
    #[oai(
        path = "/members/:user_id",
        method = "patch",
        operation_id = "members_change_role"
    )]
    async fn change_role(
        &self,
        #[oai(name = "X-Gym-ID")] tenant: Tenant<Tenancy>,
        user_id: Path<Uuid>,
        body: JsonBody<ChangeRoleRequest>,
    ) -> ApiResult<Json<Member>> {
        Ok(Json(
            self.members(&tenant)
                .change_role(user_id.0, body.role)
                .await?
                .into(),
        ))
    }

    /// Remove someone, or leave yourself (the last owner cannot leave).
    #[oai(
        path = "/members/:user_id",
        method = "delete",
        operation_id = "members_remove"
    )]
    async fn remove(
        &self,
        #[oai(name = "X-Gym-ID")] tenant: Tenant<Tenancy>,
        user_id: Path<Uuid>,
    ) -> ApiResult<Removed> {
        self.members(&tenant).remove(user_id.0).await?;
        Ok(Removed::Done)
    }
}
