//! Payments. Status moves go through [`transition`] only: one conditional update.

use chrono::{DateTime, Utc};
use sqlx::{PgConnection, Postgres, QueryBuilder};
use uuid::Uuid;

use crate::state::Status;

/// Who took the money.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, poem_openapi::Enum, sqlx::Type)]
#[serde(rename_all = "snake_case")]
#[oai(rename_all = "snake_case")]
#[sqlx(type_name = "text", rename_all = "snake_case")]
pub enum Provider {
    Stripe,
    Mercadopago,
    /// Recorded by staff: cash or a bank transfer.
    Manual,
}

/// How a manual payment was made.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, poem_openapi::Enum, sqlx::Type)]
#[serde(rename_all = "snake_case")]
#[oai(rename_all = "snake_case")]
#[sqlx(type_name = "text", rename_all = "snake_case")]
pub enum Method {
    Cash,
    Transfer,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct PaymentRow {
    pub id: Uuid,
    pub user_id: Uuid,
    pub product_id: Option<Uuid>,
    pub amount_minor: i64,
    pub currency: String,
    pub refunded_minor: i64,
    pub status: Status,
    pub provider: Provider,
    pub provider_ref: Option<String>,
    pub external_reference: String,
    pub method: Option<Method>,
    pub recorded_by: Option<Uuid>,
    pub note: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub succeeded_at: Option<DateTime<Utc>>,
    /// A Stripe Connect destination charge: the connected account the money settled on.
    pub connect_account: Option<String>,
    /// A hosted checkout's: when it stops taking payment.
    pub checkout_expires_at: Option<DateTime<Utc>>,
}

/// A payment to create, `pending`.
pub struct NewPayment<'a> {
    pub id: Uuid,
    pub user_id: Uuid,
    pub product_id: Option<Uuid>,
    pub amount_minor: i64,
    pub currency: &'a str,
    pub provider: Provider,
    pub method: Option<Method>,
    pub recorded_by: Option<Uuid>,
    pub note: Option<&'a str>,
}

const COLUMNS: &str = "id, user_id, product_id, amount_minor, currency, refunded_minor, status, \
    provider, provider_ref, external_reference, method, recorded_by, note, created_at, \
    updated_at, succeeded_at, connect_account, checkout_expires_at";

/// Creates the payment `pending`, its external reference being its id (what a checkout hands
/// the provider to find it again).
pub async fn insert_pending(
    conn: &mut PgConnection,
    gym_id: Uuid,
    new: &NewPayment<'_>,
) -> Result<PaymentRow, sqlx::Error> {
    sqlx::query_as(&format!(
        "insert into payments (gym_id, id, user_id, product_id, amount_minor, currency,
             provider, external_reference, method, recorded_by, note)
         values ($1, $2, $3, $4, $5, $6, $7, $2::text, $8, $9, $10)
         returning {COLUMNS}"
    ))
    .bind(gym_id)
    .bind(new.id)
    .bind(new.user_id)
    .bind(new.product_id)
    .bind(new.amount_minor)
    .bind(new.currency)
    .bind(new.provider)
    .bind(new.method)
    .bind(new.recorded_by)
    .bind(new.note)
    .fetch_one(&mut *conn)
    .await
}

/// Creates the payment `pending` with the provider's reference already known (a renewal's
/// invoice), unless the tenant has one with that reference: `None` then. Concurrent callers
/// queue on the unique key, so exactly one creates it.
pub async fn insert_pending_with_ref(
    conn: &mut PgConnection,
    gym_id: Uuid,
    new: &NewPayment<'_>,
    provider_ref: &str,
) -> Result<Option<PaymentRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "insert into payments (gym_id, id, user_id, product_id, amount_minor, currency,
             provider, external_reference, method, recorded_by, note, provider_ref)
         values ($1, $2, $3, $4, $5, $6, $7, $2::text, $8, $9, $10, $11)
         on conflict (gym_id, provider, provider_ref) do nothing
         returning {COLUMNS}"
    ))
    .bind(gym_id)
    .bind(new.id)
    .bind(new.user_id)
    .bind(new.product_id)
    .bind(new.amount_minor)
    .bind(new.currency)
    .bind(new.provider)
    .bind(new.method)
    .bind(new.recorded_by)
    .bind(new.note)
    .bind(provider_ref)
    .fetch_optional(&mut *conn)
    .await
}

/// The tenant's payment with this provider reference, if any.
pub async fn by_provider_ref(
    conn: &mut PgConnection,
    gym_id: Uuid,
    provider: Provider,
    provider_ref: &str,
) -> Result<Option<PaymentRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "select {COLUMNS} from payments
         where gym_id = $1 and provider = $2 and provider_ref = $3"
    ))
    .bind(gym_id)
    .bind(provider)
    .bind(provider_ref)
    .fetch_optional(&mut *conn)
    .await
}

pub async fn get(
    conn: &mut PgConnection,
    gym_id: Uuid,
    id: Uuid,
) -> Result<Option<PaymentRow>, sqlx::Error> {
    super::by_id(conn, ("payments", COLUMNS, ""), gym_id, id).await
}

/// The payment, locked until the transaction ends: refunds of one payment queue up behind
/// each other.
pub async fn lock(
    conn: &mut PgConnection,
    gym_id: Uuid,
    id: Uuid,
) -> Result<Option<PaymentRow>, sqlx::Error> {
    super::by_id(conn, ("payments", COLUMNS, "for update"), gym_id, id).await
}

/// Moves the payment to `to` if its status is one of `from`, never lowering what was
/// refunded; `None` when it was not (someone else moved it first).
pub async fn transition(
    conn: &mut PgConnection,
    gym_id: Uuid,
    id: Uuid,
    from: &[Status],
    to: Status,
    refunded_minor: i64,
) -> Result<Option<PaymentRow>, sqlx::Error> {
    let from: Vec<&str> = from.iter().map(|status| status.as_str()).collect();
    sqlx::query_as(&format!(
        "update payments set status = $4, refunded_minor = greatest(refunded_minor, $5),
             updated_at = now(),
             succeeded_at = case when $4 = 'succeeded' then now() else succeeded_at end
         where gym_id = $1 and id = $2 and status = any($3)
         returning {COLUMNS}"
    ))
    .bind(gym_id)
    .bind(id)
    .bind(from)
    .bind(to)
    .bind(refunded_minor)
    .fetch_optional(&mut *conn)
    .await
}

/// Records the hosted checkout of a pending payment: the provider's reference, its expiry
/// and, for a Connect destination charge, the connected account.
pub async fn set_checkout(
    conn: &mut PgConnection,
    gym_id: Uuid,
    id: Uuid,
    provider_ref: &str,
    expires_at: Option<DateTime<Utc>>,
    connect_account: Option<&str>,
) -> Result<PaymentRow, sqlx::Error> {
    sqlx::query_as(&format!(
        "update payments set provider_ref = $3, checkout_expires_at = $4, connect_account = $5,
             updated_at = now()
         where gym_id = $1 and id = $2
         returning {COLUMNS}"
    ))
    .bind(gym_id)
    .bind(id)
    .bind(provider_ref)
    .bind(expires_at)
    .bind(connect_account)
    .fetch_one(&mut *conn)
    .await
}

/// Replaces the provider's reference of a payment with the one of the payment itself, once
/// known (a MercadoPago payment id in place of its checkout preference).
pub async fn set_provider_ref(
    conn: &mut PgConnection,
    gym_id: Uuid,
    id: Uuid,
    provider_ref: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "update payments set provider_ref = $3, updated_at = now()
         where gym_id = $1 and id = $2 and provider_ref is distinct from $3",
    )
    .bind(gym_id)
    .bind(id)
    .bind(provider_ref)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Remembers which tenant a provider payment belongs to (see the `payments__checkouts`
/// migration): the platform's webhooks name none.
pub async fn insert_tenant(
    conn: &mut PgConnection,
    payment_id: Uuid,
    gym_id: Uuid,
    provider: Provider,
) -> Result<(), sqlx::Error> {
    sqlx::query("insert into payment_tenants (payment_id, gym_id, provider) values ($1, $2, $3)")
        .bind(payment_id)
        .bind(gym_id)
        .bind(provider)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// The tenant of a provider payment, read outside any tenant (the table has no row-level
/// security: it maps ids to ids).
pub async fn tenant_of(
    conn: &mut PgConnection,
    payment_id: Uuid,
) -> Result<Option<Uuid>, sqlx::Error> {
    sqlx::query_scalar("select gym_id from payment_tenants where payment_id = $1")
        .bind(payment_id)
        .fetch_optional(&mut *conn)
        .await
}

/// Provider payments of the tenant still pending since before `before`, oldest first.
pub async fn pending_since(
    conn: &mut PgConnection,
    gym_id: Uuid,
    before: DateTime<Utc>,
    limit: i64,
) -> Result<Vec<PaymentRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "select {COLUMNS} from payments
         where gym_id = $1 and status = 'pending' and provider <> 'manual' and created_at < $2
         order by created_at limit $3"
    ))
    .bind(gym_id)
    .bind(before)
    .bind(limit)
    .fetch_all(&mut *conn)
    .await
}

/// Filters of a payment list.
pub struct PaymentFilter {
    pub user_id: Option<Uuid>,
    pub status: Option<Status>,
}

/// Payments older than `before` (all when `None`), newest first.
pub async fn page(
    conn: &mut PgConnection,
    gym_id: Uuid,
    filter: &PaymentFilter,
    before: Option<Uuid>,
    limit: i64,
) -> Result<Vec<PaymentRow>, sqlx::Error> {
    // One statement per shape of filters (see `kernel::db::read_tenant`).
    let mut sql =
        QueryBuilder::<Postgres>::new(format!("select {COLUMNS} from payments where gym_id = "));
    sql.push_bind(gym_id);
    if let Some(user_id) = filter.user_id {
        sql.push(" and user_id = ").push_bind(user_id);
    }
    if let Some(status) = filter.status {
        sql.push(" and status = ").push_bind(status);
    }
    if let Some(before) = before {
        sql.push(" and id < ").push_bind(before);
    }
    sql.push(" order by id desc limit ").push_bind(limit);
    sql.build_query_as().fetch_all(&mut *conn).await
}

/// Revenue since `since` in `currency` (minor units): what was paid minus what was refunded
/// in the period, and how many payments are still pending.
pub async fn figures(
    conn: &mut PgConnection,
    gym_id: Uuid,
    currency: &str,
    since: DateTime<Utc>,
) -> Result<(i64, i64), sqlx::Error> {
    sqlx::query_as(
        "select
             coalesce((select sum(amount_minor) from payments
                 where gym_id = $1 and currency = $2 and succeeded_at >= $3), 0)::bigint
             - coalesce((select sum(r.amount_minor) from refunds r
                 join payments p on p.gym_id = r.gym_id and p.id = r.payment_id
                 where r.gym_id = $1 and p.currency = $2 and r.status = 'succeeded'
                     and r.completed_at >= $3), 0)::bigint,
             (select count(*) from payments where gym_id = $1 and status = 'pending')",
    )
    .bind(gym_id)
    .bind(currency)
    .bind(since)
    .fetch_one(&mut *conn)
    .await
}
