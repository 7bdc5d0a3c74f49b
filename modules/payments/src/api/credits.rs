//! HTTP of the credit ledger: schemas and handlers, which call [`crate::service::credits`].

use chrono::{DateTime, Utc};
use kernel::http::JsonBody;
use kernel::pagination::{Page, PageCursor, PageLimit, PageRequest};
use kernel::{ApiResult, AppContext, Tenant};
use poem_openapi::param::Query;
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Enum, Object, OpenApi};
use uuid::Uuid;

use super::PaymentsTags;
use crate::Payments;
use crate::repo::credits::{Kind, TransactionRow};
use crate::service::credits as service;

/// What a ledger entry records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
#[oai(rename_all = "snake_case")]
pub enum CreditKind {
    /// Credits bought (positive).
    Purchase,
    /// Credits used by their holder (negative).
    Spend,
    /// A purchase reversed (negative).
    Refund,
    /// An admin's manual change, either way, with a reason.
    Adjustment,
}

impl From<Kind> for CreditKind {
    fn from(kind: Kind) -> Self {
        match kind {
            Kind::Purchase => Self::Purchase,
            Kind::Spend => Self::Spend,
            Kind::Refund => Self::Refund,
            Kind::Adjustment => Self::Adjustment,
        }
    }
}

/// Someone's credits in this tenant.
#[derive(Debug, Object)]
pub struct CreditBalance {
    pub user_id: Uuid,
    /// Credits available; never below 0.
    pub balance: i64,
}

/// One change of a balance. Entries are never edited or removed: a correction is another
/// entry.
#[derive(Debug, Object)]
pub struct CreditTransaction {
    pub id: Uuid,
    /// Whose balance changed.
    pub user_id: Uuid,
    pub kind: CreditKind,
    /// The change: positive adds credits, negative takes them.
    pub amount: i64,
    /// The balance right after this change.
    pub balance_after: i64,
    pub reason: String,
    /// Who made the change: the holder for spends, the admin for adjustments.
    pub created_by: Uuid,
    pub created_at: DateTime<Utc>,
}

impl From<TransactionRow> for CreditTransaction {
    fn from(row: TransactionRow) -> Self {
        Self {
            id: row.id,
            user_id: row.user_id,
            kind: row.kind.into(),
            amount: row.amount,
            balance_after: row.balance_after,
            reason: row.reason,
            created_by: row.created_by,
            created_at: row.created_at,
        }
    }
}

#[derive(Debug, Object)]
#[oai(deny_unknown_fields)]
pub struct SpendCreditsRequest {
    /// Credits to use, 1 to 1,000,000.
    #[oai(validator(minimum(value = "1"), maximum(value = "1000000")))]
    pub amount: i64,
    /// What they are for, shown on the statement (1–200 characters).
    #[oai(validator(max_length = 200))]
    pub reason: String,
}

#[derive(Debug, Object)]
#[oai(deny_unknown_fields)]
pub struct CreditAdjustmentRequest {
    /// A member of this tenant.
    pub user_id: Uuid,
    /// Credits to add (positive) or take (negative), at most 1,000,000 either way, not 0.
    #[oai(validator(minimum(value = "-1000000"), maximum(value = "1000000")))]
    pub amount: i64,
    /// Why, for the audit trail (1–200 characters).
    #[oai(validator(max_length = 200))]
    pub reason: String,
}

#[derive(ApiResponse)]
enum Recorded {
    /// The balance changed; this is the ledger entry.
    #[oai(status = 201)]
    Created(Json<CreditTransaction>),
}

pub struct CreditsApi {
    pub ctx: AppContext,
}

#[OpenApi(prefix_path = "/api/v1", tag = "PaymentsTags::Credits")]
impl CreditsApi {
    /// Your credit balance, or a member's (staff: trainer and up)
    ///
    /// Without `user_id`, the caller's own. Staff may name a member of the tenant; anyone else
    /// is 404. Members asking for someone else get 403 `insufficient_role`.
    #[oai(
        path = "/credits/balance",
        method = "get",
        operation_id = "credits_balance"
    )]
    async fn balance(
        &self,
        #[oai(name = "X-Gym-ID")] tenant: Tenant<Payments>,
        /// Whose balance (staff only; default: yours).
        user_id: Query<Option<Uuid>>,
    ) -> ApiResult<Json<CreditBalance>> {
        let (user_id, balance) = service::balance(&self.ctx, &tenant, user_id.0).await?;
        Ok(Json(CreditBalance { user_id, balance }))
    }

    /// Your credit statement, newest first, or a member's (staff: trainer and up)
    ///
    /// Every grant, spend, refund and adjustment with the balance it left. `user_id` works as
    /// on the balance.
    #[oai(
        path = "/credits/transactions",
        method = "get",
        operation_id = "credits_transactions"
    )]
    async fn transactions(
        &self,
        #[oai(name = "X-Gym-ID")] tenant: Tenant<Payments>,
        /// Whose statement (staff only; default: yours).
        user_id: Query<Option<Uuid>>,
        /// Page size, 1–100 (default 20).
        limit: Query<Option<PageLimit>>,
        /// `next_cursor` of the previous page.
        cursor: Query<Option<PageCursor>>,
    ) -> ApiResult<Json<Page<CreditTransaction>>> {
        let page = PageRequest::new(limit.0, cursor.0);
        let rows = service::transactions(&self.ctx, &tenant, user_id.0, &page).await?;
        Ok(Json(rows.map(CreditTransaction::from)))
    }

    /// Use some of your credits
    ///
    /// Takes `amount` from your balance, or nothing: a balance that does not cover it answers
    /// 409 `insufficient_credits`, and concurrent spends never take it below 0. Send an
    /// `Idempotency-Key` so a retried request spends once.
    #[oai(
        path = "/credits/spend",
        method = "post",
        operation_id = "credits_spend"
    )]
    async fn spend(
        &self,
        #[oai(name = "X-Gym-ID")] tenant: Tenant<Payments>,
        body: JsonBody<SpendCreditsRequest>,
    ) -> ApiResult<Recorded> {
        let row = service::spend(&self.ctx, &tenant, body.amount, &body.reason).await?;
        Ok(Recorded::Created(Json(row.into())))
    }

    /// Add or take a member's credits by hand (owners and admins)
    ///
    /// A positive `amount` adds credits, a negative one takes them, never below 0 (409
    /// `insufficient_credits`). The reason is kept on the statement.
    #[oai(
        path = "/credits/adjustments",
        method = "post",
        operation_id = "credits_adjust"
    )]
    async fn adjust(
        &self,
        #[oai(name = "X-Gym-ID")] tenant: Tenant<Payments>,
        body: JsonBody<CreditAdjustmentRequest>,
    ) -> ApiResult<Recorded> {
        let row =
            service::adjust(&self.ctx, &tenant, body.user_id, body.amount, &body.reason).await?;
        Ok(Recorded::Created(Json(row.into())))
    }
}
