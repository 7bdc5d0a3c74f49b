//! HTTP of payments: reading them, manual payments and refunds.

use chrono::{DateTime, Utc};
use kernel::http::JsonBody;
use kernel::pagination::{Page, PageCursor, PageLimit, PageRequest};
use kernel::{ApiResult, AppContext, Tenant};
use poem_openapi::param::{Path, Query};
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Object, OpenApi};
use uuid::Uuid;

use super::PaymentsTags;
use crate::Payments;
use crate::repo::payments::{Method, PaymentRow, Provider};
use crate::repo::refunds::{RefundRow, RefundStatus};
use crate::service::payments::{self as service, ManualPayment};
use crate::service::refunds;
use crate::state::Status;

/// A payment by a member, in integer minor units of its currency.
#[derive(Debug, Object)]
pub struct Payment {
    pub id: Uuid,
    /// Who paid.
    pub member_id: Uuid,
    /// What was bought, when it was a product.
    #[oai(skip_serializing_if_is_none)]
    pub product_id: Option<Uuid>,
    pub amount_minor: i64,
    /// ISO 4217 code.
    pub currency: String,
    /// Given back so far, in minor units.
    pub refunded_minor: i64,
    pub status: Status,
    pub provider: Provider,
    /// The provider's id of the payment, once known.
    #[oai(skip_serializing_if_is_none)]
    pub provider_ref: Option<String>,
    /// What the provider was given to find this payment: its id.
    pub external_reference: String,
    /// Manual payments: cash or transfer.
    #[oai(skip_serializing_if_is_none)]
    pub method: Option<Method>,
    /// Manual payments: who recorded it.
    #[oai(skip_serializing_if_is_none)]
    pub recorded_by: Option<Uuid>,
    #[oai(skip_serializing_if_is_none)]
    pub note: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    #[oai(skip_serializing_if_is_none)]
    pub succeeded_at: Option<DateTime<Utc>>,
}

impl From<PaymentRow> for Payment {
    fn from(row: PaymentRow) -> Self {
        Self {
            id: row.id,
            member_id: row.user_id,
            product_id: row.product_id,
            amount_minor: row.amount_minor,
            currency: row.currency,
            refunded_minor: row.refunded_minor,
            status: row.status,
            provider: row.provider,
            provider_ref: row.provider_ref,
            external_reference: row.external_reference,
            method: row.method,
            recorded_by: row.recorded_by,
            note: row.note,
            created_at: row.created_at,
            updated_at: row.updated_at,
            succeeded_at: row.succeeded_at,
        }
    }
}

#[derive(Debug, Object)]
#[oai(deny_unknown_fields)]
pub struct ManualPaymentRequest {
    /// The member who paid.
    pub member_id: Uuid,
    /// What they bought: a credit package grants its credits, a plan starts or extends their
    /// membership.
    pub product_id: Option<Uuid>,
    /// In minor units; default the product's price (required without a product).
    #[oai(validator(minimum(value = "1"), maximum(value = "100000000000")))]
    pub amount_minor: Option<i64>,
    /// ISO 4217 code; must be the tenant's (default).
    #[oai(validator(max_length = 3))]
    pub currency: Option<String>,
    pub method: Method,
    /// For the records, 1–500 characters.
    #[oai(validator(max_length = 500))]
    pub note: String,
}

#[derive(Debug, Object)]
#[oai(deny_unknown_fields)]
pub struct RefundRequest {
    /// In minor units; default everything not refunded yet.
    #[oai(validator(minimum(value = "1"), maximum(value = "100000000000")))]
    pub amount_minor: Option<i64>,
    /// Why, for the records (1–200 characters).
    #[oai(validator(max_length = 200))]
    pub reason: String,
}

/// Money given back of a payment.
#[derive(Debug, Object)]
pub struct Refund {
    pub id: Uuid,
    pub payment_id: Uuid,
    pub amount_minor: i64,
    pub currency: String,
    pub status: RefundStatus,
    pub reason: String,
    /// Credits of a credit-package purchase taken back: the refunded share of them, as far as
    /// the member has not spent them.
    pub credits_reversed: i64,
    /// Who asked; absent for refunds made at the provider.
    #[oai(skip_serializing_if_is_none)]
    pub requested_by: Option<Uuid>,
    pub created_at: DateTime<Utc>,
    #[oai(skip_serializing_if_is_none)]
    pub completed_at: Option<DateTime<Utc>>,
    /// The payment after the refund.
    pub payment: Payment,
}

impl Refund {
    fn new(row: RefundRow, payment: PaymentRow) -> Self {
        Self {
            id: row.id,
            payment_id: row.payment_id,
            amount_minor: row.amount_minor,
            currency: payment.currency.clone(),
            status: row.status,
            reason: row.reason,
            credits_reversed: row.credits_reversed,
            requested_by: row.requested_by,
            created_at: row.created_at,
            completed_at: row.completed_at,
            payment: payment.into(),
        }
    }
}

#[derive(ApiResponse)]
enum Recorded {
    /// The payment, paid.
    #[oai(status = 201)]
    Created(Json<Payment>),
}

#[derive(ApiResponse)]
enum Refunded {
    /// The refund, and the payment after it.
    #[oai(status = 201)]
    Created(Json<Refund>),
}

pub struct PaymentsApi {
    pub ctx: AppContext,
}

#[OpenApi(prefix_path = "/api/v1", tag = "PaymentsTags::Payments")]
impl PaymentsApi {
    /// Your payments, or everyone's (staff: trainer and up), newest first
    ///
    /// Staff may filter by `member_id` and `status`; members see their own only (another
    /// `member_id` is 403 `insufficient_role`).
    #[oai(path = "/payments", method = "get", operation_id = "payments_list")]
    async fn list(
        &self,
        #[oai(name = "X-Gym-ID")] tenant: Tenant<Payments>,
        /// Only this member's payments.
        member_id: Query<Option<Uuid>>,
        /// Only payments in this status.
        status: Query<Option<Status>>,
        /// Page size, 1–100 (default 20).
        limit: Query<Option<PageLimit>>,
        /// `next_cursor` of the previous page.
        cursor: Query<Option<PageCursor>>,
    ) -> ApiResult<Json<Page<Payment>>> {
        let page = PageRequest::new(limit.0, cursor.0);
        let rows = service::list(&self.ctx, &tenant, member_id.0, status.0, &page).await?;
        Ok(Json(rows.map(Payment::from)))
    }

    /// One payment: yours, or any for staff
    #[oai(path = "/payments/:id", method = "get", operation_id = "payments_get")]
    async fn get(
        &self,
        #[oai(name = "X-Gym-ID")] tenant: Tenant<Payments>,
        id: Path<Uuid>,
    ) -> ApiResult<Json<Payment>> {
        Ok(Json(service::get(&self.ctx, &tenant, id.0).await?.into()))
    }

    /// Record a cash or transfer payment for a member (trainer and up)
    ///
    /// Recorded as paid, it does what any paid payment does: a credit package's credits are
    /// granted, a plan starts or extends the member's membership. Send an `Idempotency-Key`
    /// so a retried request records it once.
    #[oai(
        path = "/payments/manual",
        method = "post",
        operation_id = "payments_record_manual"
    )]
    async fn manual(
        &self,
        #[oai(name = "X-Gym-ID")] tenant: Tenant<Payments>,
        body: JsonBody<ManualPaymentRequest>,
    ) -> ApiResult<Recorded> {
        let input = ManualPayment {
            member_id: body.member_id,
            product_id: body.product_id,
            amount_minor: body.amount_minor,
            currency: body.currency.as_deref(),
            method: body.method,
            note: &body.note,
        };
        let row = service::record_manual(&self.ctx, &tenant, input).await?;
        Ok(Recorded::Created(Json(row.into())))
    }

    /// Refund some or all of a payment (owners and admins)
    ///
    /// Without `amount_minor`, everything not refunded yet. More than that is 422
    /// `refund_exceeds_remaining`; a payment that is not paid (or fully refunded) is 409
    /// `payment_not_refundable`. Refunding a credit package takes back the refunded share of
    /// its credits as far as they are unspent (never below 0); `credits_reversed` says how
    /// many.
    #[oai(
        path = "/payments/:id/refunds",
        method = "post",
        operation_id = "payments_refund"
    )]
    async fn refund(
        &self,
        #[oai(name = "X-Gym-ID")] tenant: Tenant<Payments>,
        id: Path<Uuid>,
        body: JsonBody<RefundRequest>,
    ) -> ApiResult<Refunded> {
        let (refund, payment) =
            refunds::refund(&self.ctx, &tenant, id.0, body.amount_minor, &body.reason).await?;
        Ok(Refunded::Created(Json(Refund::new(refund, payment))))
    }
}
