use chrono::{DateTime, Utc};
use kernel::http::{JsonBody, SerdeJson};
use kernel::pagination::{Page, PageCursor, PageLimit, PageRequest};
use kernel::{ApiResult, AppContext, Role, Tenant};
use poem_openapi::param::{Path, Query};
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Object, OpenApi};
use uuid::Uuid;

use super::TenancyTags;
use crate::Tenancy;
use crate::service::members;

// Lists answer it through `SerdeJson`, so serde must write it as poem-openapi would (tested below).
#[derive(Debug, Object, serde::Serialize)]
pub struct Member {
    pub user_id: Uuid,
    pub email: String,
    pub first_name: String,
    pub last_name: String,
    pub role: Role,
    #[serde(serialize_with = "kernel::http::rfc3339")]
    pub joined_at: DateTime<Utc>,
}

impl From<members::Member> for Member {
    fn from(member: members::Member) -> Self {
        Self {
            user_id: member.user_id,
            email: member.email,
            first_name: member.first_name,
            last_name: member.last_name,
            role: member.role,
            joined_at: member.created_at,
        }
    }
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

/// Members are listed by when they joined: their cursors carry that and the user's id.
fn members_cursor_example() -> Option<PageCursor> {
    kernel::pagination::example_cursor::<(DateTime<Utc>, Uuid)>()
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

#[OpenApi(prefix_path = "/api/v1", tag = "TenancyTags::Members")]
impl MembersApi {
    /// The tenant's people with their roles, oldest first (staff: trainer and up)
    ///
    /// `q` finds people by part of their name or e-mail, ignoring case and accents: `jose`
    /// finds José, `@acme` everyone with an acme address. Combines with `role`; pages the same
    /// way.
    #[oai(path = "/members", method = "get", operation_id = "members_list")]
    async fn list(
        &self,
        #[oai(name = "X-Gym-ID")] tenant: Tenant<Tenancy>,
        /// Only people with this role.
        role: Query<Option<Role>>,
        /// Part of a name or e-mail (case and accents ignored).
        #[oai(validator(min_length = 1, max_length = 100))]
        q: Query<Option<String>>,
        /// Page size, 1–100 (default 20).
        limit: Query<Option<PageLimit>>,
        /// `next_cursor` of the previous page.
        #[oai(example = "members_cursor_example")]
        cursor: Query<Option<PageCursor>>,
    ) -> ApiResult<SerdeJson<Page<Member>>> {
        let page = PageRequest::new(limit.0, cursor.0);
        let members = members::list(&self.ctx, &tenant, role.0, q.0.as_deref(), &page).await?;
        Ok(SerdeJson(members.map(Member::from)))
    }

    /// Add a registered user to the tenant (owners and admins; not above your own role).
    #[oai(path = "/members", method = "post", operation_id = "members_add")]
    async fn add(
        &self,
        #[oai(name = "X-Gym-ID")] tenant: Tenant<Tenancy>,
        body: JsonBody<AddMemberRequest>,
    ) -> ApiResult<Added> {
        let member = members::add(&self.ctx, &tenant, &body.email, body.role).await?;
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
        let member = members::change_role(&self.ctx, &tenant, user_id.0, body.role).await?;
        Ok(Json(member.into()))
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
        members::remove(&self.ctx, &tenant, user_id.0).await?;
        Ok(Removed::Done)
    }
}

#[cfg(test)]
mod tests {
    use poem_openapi::types::ToJSON;

    use super::*;

    #[test]
    fn serde_writes_a_page_of_members_as_the_document_describes_it() {
        let member = Member {
            user_id: Uuid::new_v4(),
            email: "ana@example.com".into(),
            first_name: "Ana".into(),
            last_name: "Silva \"Jr\" \u{e9}".into(),
            role: Role::Trainer,
            joined_at: "2026-12-02T05:35:32.132872Z".parse().unwrap(),
        };
        let page = Page {
            items: vec![member],
            next_cursor: Some("abc".into()),
        };
        assert_eq!(serde_json::to_value(&page).ok(), page.to_json());
        let last = Page::<Member> {
            items: vec![],
            next_cursor: None,
        };
        assert_eq!(serde_json::to_value(&last).ok(), last.to_json());
    }
}
