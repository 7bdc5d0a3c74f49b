use kernel::http::JsonBody;
use kernel::pagination::{Page, PageCursor, PageLimit, PageRequest};
use kernel::{ApiError, ApiResult, AppContext, BearerAuth, TenantKind};
use poem_openapi::param::{Path, Query};
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Object, OpenApi, Tags};
use uuid::Uuid;

use super::{Gym, TenantUpdate};
use crate::service::provisioning::TenantSpec;
use crate::service::tenants;

#[derive(Debug, Object)]
#[oai(deny_unknown_fields)]
pub struct CreateGymRequest {
    #[oai(validator(min_length = 1, max_length = 120))]
    pub name: String,
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

#[derive(ApiResponse)]
enum CreatedGym {
    /// The gym exists and you are its owner.
    #[oai(status = 201)]
    Created(Json<Gym>),
}

#[derive(Tags)]
enum GymsTags {
    /// Gyms: create one, list yours, read and change settings.
    Gyms,
}

pub struct GymsApi {
    pub ctx: AppContext,
}

#[OpenApi(prefix_path = "/api/v1", tag = "GymsTags::Gyms")]
impl GymsApi {
    /// Create a gym. You become its owner; the build's default modules are switched on.
    #[oai(path = "/gyms", method = "post", operation_id = "gyms_create")]
    async fn create(
        &self,
        auth: BearerAuth,
        body: JsonBody<CreateGymRequest>,
    ) -> ApiResult<CreatedGym> {
        let spec = TenantSpec::check(
            TenantKind::Gym,
            "name",
            &body.name,
            &body.timezone,
            &body.currency,
        )
        .map_err(ApiError::validation)?;
        let gym = tenants::create_gym(&self.ctx, auth.0.user_id, spec).await?;
        Ok(CreatedGym::Created(Json(Gym::new(
            gym,
            kernel::Role::Owner,
        ))))
    }

    /// The gyms you belong to, with your role in each.
    #[oai(path = "/gyms", method = "get", operation_id = "gyms_list")]
    async fn list(
        &self,
        auth: BearerAuth,
        /// Page size, 1–100 (default 20).
        limit: Query<Option<PageLimit>>,
        /// `next_cursor` of the previous page.
        cursor: Query<Option<PageCursor>>,
    ) -> ApiResult<Json<Page<Gym>>> {
        let page = PageRequest::new(limit.0, cursor.0);
        let gyms = tenants::my_gyms(&self.ctx, auth.0.user_id, &page).await?;
        Ok(Json(gyms.map(|row| Gym::new(row.gym, row.role))))
    }

    /// A gym you belong to. Gyms you do not belong to answer 404.
    #[oai(path = "/gyms/:gym_id", method = "get", operation_id = "gyms_get")]
    async fn get(&self, auth: BearerAuth, gym_id: Path<Uuid>) -> ApiResult<Json<Gym>> {
        let (gym, role) = tenants::gym_for_member(&self.ctx, auth.0.user_id, gym_id.0).await?;
        Ok(Json(Gym::new(gym, role)))
    }

    /// Change a gym's name, time zone or currency (owners and admins).
    #[oai(path = "/gyms/:gym_id", method = "patch", operation_id = "gyms_update")]
    async fn update(
        &self,
        auth: BearerAuth,
        gym_id: Path<Uuid>,
        body: JsonBody<TenantUpdate>,
    ) -> ApiResult<Json<Gym>> {
        let (_, role) = tenants::gym_for_member(&self.ctx, auth.0.user_id, gym_id.0).await?;
        let gym = tenants::update(&self.ctx, gym_id.0, role, body.change()).await?;
        Ok(Json(Gym::new(gym, role)))
    }
}
