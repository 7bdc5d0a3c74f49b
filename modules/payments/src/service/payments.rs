//! Payments: the one way a payment moves ([`advance`]), manual payments, and reading.

use kernel::pagination::{Page, PageRequest};
use kernel::{ApiError, ApiResult, AppContext, FieldError, Role, Tenant};
use sqlx::PgConnection;
use uuid::Uuid;

use super::{credits, effects, products};
use crate::repo::payments::{
    self as repo, Method, NewPayment, PaymentFilter, PaymentRow, Provider,
};
use crate::state::{self, Current, Observed, Status, Step};

/// Longest note on a manual payment, in characters.
pub const MAX_NOTE_CHARS: usize = 500;

/// What [`advance`] did.
#[derive(Debug)]
pub enum Advanced {
    /// The payment moved (perhaps several steps) and what that causes ran.
    Moved(PaymentRow),
    /// It was there already (a duplicate or stale observation).
    Unchanged(PaymentRow),
    /// The observation contradicts it: refused, logged, never applied.
    Refused(PaymentRow),
}

impl Advanced {
    pub fn payment(self) -> PaymentRow {
        match self {
            Advanced::Moved(row) | Advanced::Unchanged(row) | Advanced::Refused(row) => row,
        }
    }
}

pub(crate) fn no_payment() -> ApiError {
    ApiError::not_found("no payment with this id in this tenant")
}

/// Applies what is known of a payment (from a provider, or from our own manual flows) in the
/// caller's transaction, forward only. Each step is one conditional update
/// ([`repo::transition`]); entering `succeeded` runs [`effects::succeeded`] (credits granted,
/// membership extended) exactly once, since only one transaction can make that move; a grown
/// refund total completes the payment's pending refunds, or records the ones the provider
/// made, and takes back their credits.
pub async fn advance(
    ctx: &AppContext,
    conn: &mut PgConnection,
    gym_id: Uuid,
    payment_id: Uuid,
    observed: Observed,
) -> ApiResult<Advanced> {
    let mut row = repo::lock(conn, gym_id, payment_id)
        .await?
        .ok_or_else(no_payment)?;
    let mut moved = false;
    loop {
        let current = Current {
            status: row.status,
            amount_minor: row.amount_minor,
            refunded_minor: row.refunded_minor,
        };
        match state::step(current, observed) {
            Step::Stay => break,
            Step::Refuse => {
                tracing::warn!(
                    %gym_id,
                    %payment_id,
                    status = row.status.as_str(),
                    refunded_minor = row.refunded_minor,
                    observed_status = observed.status.as_str(),
                    observed_refunded_minor = observed.refunded_minor,
                    "refused an illegal payment transition"
                );
                return Ok(Advanced::Refused(row));
            }
            Step::Move { to, refunded_minor } => {
                let Some(next) = repo::transition(
                    conn,
                    gym_id,
                    payment_id,
                    to.allowed_from(),
                    to,
                    refunded_minor,
                )
                .await?
                else {
                    break;
                };
                effects::entered(ctx, conn, gym_id, &row, &next).await?;
                row = next;
                moved = true;
            }
        }
    }
    Ok(if moved {
        Advanced::Moved(row)
    } else {
        Advanced::Unchanged(row)
    })
}

/// A new `pending` payment whose external reference is its id: what a checkout writes before
/// it calls the provider (and what [`record_manual`] starts from).
pub async fn create_pending(
    conn: &mut PgConnection,
    gym_id: Uuid,
    new: &NewPayment<'_>,
) -> ApiResult<PaymentRow> {
    Ok(repo::insert_pending(conn, gym_id, new).await?)
}

/// A manual payment as staff describe it.
pub struct ManualPayment<'a> {
    pub member_id: Uuid,
    pub product_id: Option<Uuid>,
    pub amount_minor: Option<i64>,
    pub currency: Option<&'a str>,
    pub method: Method,
    pub note: &'a str,
}

/// Staff (trainer and up) record a cash or transfer payment: written `pending`, then moved to
/// `succeeded` by [`advance`] in the same transaction, so it causes what any paid payment
/// does.
pub async fn record_manual<M>(
    ctx: &AppContext,
    tenant: &Tenant<M>,
    input: ManualPayment<'_>,
) -> ApiResult<PaymentRow> {
    tenant.require(Role::Trainer)?;
    let mut errors = Vec::new();
    if let Some(amount) = input.amount_minor
        && !(1..=products::MAX_PRICE_MINOR).contains(&amount)
    {
        errors.push(FieldError::new(
            "amount_minor",
            format!(
                "must be from 1 to {} minor units",
                products::MAX_PRICE_MINOR
            ),
        ));
    }
    if input.product_id.is_none() && input.amount_minor.is_none() {
        errors.push(FieldError::new(
            "amount_minor",
            "is required when no product_id is given",
        ));
    }
    let note = kernel::error::trimmed_name("note", input.note, MAX_NOTE_CHARS, &mut errors);
    let currency = products::in_tenant_currency(tenant, input.currency, &mut errors)?;
    if !errors.is_empty() {
        return Err(ApiError::validation(errors));
    }
    let member_id = credits::subject(ctx, tenant, Some(input.member_id), Role::Trainer).await?;
    let mut tx = tenant.begin(&ctx.db).await?;
    let amount_minor = match input.product_id {
        Some(product_id) => {
            let product = products::get(&mut tx, tenant.gym_id, product_id).await?;
            if !product.active {
                return Err(ApiError::field("product_id", "this product is archived"));
            }
            input.amount_minor.unwrap_or(product.price_minor)
        }
        None => input.amount_minor.unwrap_or_default(),
    };
    let new = NewPayment {
        id: Uuid::now_v7(),
        user_id: member_id,
        product_id: input.product_id,
        amount_minor,
        currency: &currency,
        provider: Provider::Manual,
        method: Some(input.method),
        recorded_by: Some(tenant.user_id),
        note: Some(&note),
    };
    let pending = create_pending(&mut tx, tenant.gym_id, &new).await?;
    let paid = advance(
        ctx,
        &mut tx,
        tenant.gym_id,
        pending.id,
        Observed::status(Status::Succeeded),
    )
    .await?
    .payment();
    tx.commit().await?;
    Ok(paid)
}

/// Payments newest first: the caller's own, or for staff (trainer and up) everyone's,
/// filtered by member and status.
pub async fn list<M>(
    ctx: &AppContext,
    tenant: &Tenant<M>,
    member_id: Option<Uuid>,
    status: Option<Status>,
    page: &PageRequest,
) -> ApiResult<Page<PaymentRow>> {
    let user_id = if tenant.role >= Role::Trainer {
        member_id
    } else {
        Some(credits::subject(ctx, tenant, member_id, Role::Trainer).await?)
    };
    let before: Option<Uuid> = page.after()?;
    let filter = PaymentFilter { user_id, status };
    let mut tx = tenant.read(&ctx.db).await?;
    let rows = repo::page(&mut tx, tenant.gym_id, &filter, before, page.fetch_limit()).await?;
    Ok(page.finish(rows, |row| row.id))
}

/// One payment: the caller's own, or any for staff; 404 otherwise.
pub async fn get<M>(ctx: &AppContext, tenant: &Tenant<M>, id: Uuid) -> ApiResult<PaymentRow> {
    let mut tx = tenant.read(&ctx.db).await?;
    let row = repo::get(&mut tx, tenant.gym_id, id)
        .await?
        .ok_or_else(no_payment)?;
    if row.user_id != tenant.user_id && tenant.role < Role::Trainer {
        return Err(no_payment());
    }
    Ok(row)
}
