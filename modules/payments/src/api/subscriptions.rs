//! HTTP of memberships.

use chrono::{DateTime, Utc};
use kernel::pagination::{Page, PageCursor, PageLimit, PageRequest};
use kernel::{ApiResult, AppContext, Tenant};
use poem_openapi::param::{Path, Query};
use poem_openapi::payload::Json;
use poem_openapi::{Object, OpenApi};
use uuid::Uuid;

use super::PaymentsTags;
use crate::Payments;
use crate::repo::payments::Provider;
use crate::repo::subscriptions::{SubscriptionRow, SubscriptionStatus};
use crate::service::subscriptions as service;

/// A member's membership of a plan.
#[derive(Debug, Object)]
pub struct Subscription {
    pub id: Uuid,
    pub member_id: Uuid,
    /// The plan.
    pub product_id: Uuid,
    pub status: SubscriptionStatus,
    /// Paid up to here.
    pub current_period_end: DateTime<Utc>,
    /// Past due: usable until here.
    #[oai(skip_serializing_if_is_none)]
    pub grace_until: Option<DateTime<Utc>>,
    #[oai(skip_serializing_if_is_none)]
    pub provider: Option<Provider>,
    #[oai(skip_serializing_if_is_none)]
    pub cancelled_at: Option<DateTime<Utc>>,
    #[oai(skip_serializing_if_is_none)]
    pub ended_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<SubscriptionRow> for Subscription {
    fn from(row: SubscriptionRow) -> Self {
        Self {
            id: row.id,
            member_id: row.user_id,
            product_id: row.product_id,
            status: row.status,
            current_period_end: row.current_period_end,
            grace_until: row.grace_until,
            provider: row.provider,
            cancelled_at: row.cancelled_at,
            ended_at: row.ended_at,
            created_at: row.created_at,
            updated_at: row.updated_at,
        }
    }
}

pub struct SubscriptionsApi {
    pub ctx: AppContext,
}

#[OpenApi(prefix_path = "/api/v1", tag = "PaymentsTags::Subscriptions")]
impl SubscriptionsApi {
    /// Your memberships, newest first
    #[oai(
        path = "/payments/subscriptions/me",
        method = "get",
        operation_id = "payments_subscriptions_mine"
    )]
    async fn mine(
        &self,
        #[oai(name = "X-Gym-ID")] tenant: Tenant<Payments>,
        /// Page size, 1–100 (default 20).
        limit: Query<Option<PageLimit>>,
        /// `next_cursor` of the previous page.
        cursor: Query<Option<PageCursor>>,
    ) -> ApiResult<Json<Page<Subscription>>> {
        let page = PageRequest::new(limit.0, cursor.0);
        let rows = service::list(&self.ctx, &tenant, true, None, &page).await?;
        Ok(Json(rows.map(Subscription::from)))
    }

    /// Everyone's memberships, newest first (staff: trainer and up)
    #[oai(
        path = "/payments/subscriptions",
        method = "get",
        operation_id = "payments_subscriptions_list"
    )]
    async fn list(
        &self,
        #[oai(name = "X-Gym-ID")] tenant: Tenant<Payments>,
        /// Only this member's memberships.
        member_id: Query<Option<Uuid>>,
        /// Page size, 1–100 (default 20).
        limit: Query<Option<PageLimit>>,
        /// `next_cursor` of the previous page.
        cursor: Query<Option<PageCursor>>,
    ) -> ApiResult<Json<Page<Subscription>>> {
        let page = PageRequest::new(limit.0, cursor.0);
        let rows = service::list(&self.ctx, &tenant, false, member_id.0, &page).await?;
        Ok(Json(rows.map(Subscription::from)))
    }

    /// Cancel a membership (the member themself, or owners and admins)
    ///
    /// It stays usable until the end of the paid period, then ends. A membership cancelled or
    /// ended already is 409 `subscription_not_live`.
    #[oai(
        path = "/payments/subscriptions/:id/cancel",
        method = "post",
        operation_id = "payments_subscriptions_cancel"
    )]
    async fn cancel(
        &self,
        #[oai(name = "X-Gym-ID")] tenant: Tenant<Payments>,
        id: Path<Uuid>,
    ) -> ApiResult<Json<Subscription>> {
        Ok(Json(
            service::cancel(&self.ctx, &tenant, id.0).await?.into(),
        ))
    }
}
