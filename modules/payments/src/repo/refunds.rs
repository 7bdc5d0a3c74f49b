//! Refunds of payments: written `pending` first, completed when the money went back.

use chrono::{DateTime, Utc};
use sqlx::PgConnection;
use uuid::Uuid;

/// Where a refund stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, poem_openapi::Enum, sqlx::Type)]
#[serde(rename_all = "snake_case")]
#[oai(rename_all = "snake_case")]
#[sqlx(type_name = "text", rename_all = "snake_case")]
pub enum RefundStatus {
    /// Written, the provider not yet done with it.
    Pending,
    Succeeded,
    Failed,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct RefundRow {
    pub id: Uuid,
    pub payment_id: Uuid,
    pub amount_minor: i64,
    pub status: RefundStatus,
    pub reason: String,
    pub credits_reversed: i64,
    pub requested_by: Option<Uuid>,
    pub created_at: DateTime<Utc>,
    pub completed_at: Option<DateTime<Utc>>,
}

const COLUMNS: &str = "id, payment_id, amount_minor, status, reason, credits_reversed, \
    requested_by, created_at, completed_at";

pub async fn insert_pending(
    conn: &mut PgConnection,
    gym_id: Uuid,
    payment_id: Uuid,
    amount_minor: i64,
    reason: &str,
    requested_by: Option<Uuid>,
) -> Result<RefundRow, sqlx::Error> {
    sqlx::query_as(&format!(
        "insert into refunds (gym_id, id, payment_id, amount_minor, reason, requested_by)
         values ($1, $2, $3, $4, $5, $6)
         returning {COLUMNS}"
    ))
    .bind(gym_id)
    .bind(Uuid::now_v7())
    .bind(payment_id)
    .bind(amount_minor)
    .bind(reason)
    .bind(requested_by)
    .fetch_one(&mut *conn)
    .await
}

/// The payment's refunds still `pending`, oldest first.
pub async fn pending(
    conn: &mut PgConnection,
    gym_id: Uuid,
    payment_id: Uuid,
) -> Result<Vec<RefundRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "select {COLUMNS} from refunds
         where gym_id = $1 and payment_id = $2 and status = 'pending'
         order by id"
    ))
    .bind(gym_id)
    .bind(payment_id)
    .fetch_all(&mut *conn)
    .await
}

/// Marks a pending refund succeeded, with the credits it took back.
pub async fn complete(
    conn: &mut PgConnection,
    gym_id: Uuid,
    id: Uuid,
    credits_reversed: i64,
) -> Result<RefundRow, sqlx::Error> {
    sqlx::query_as(&format!(
        "update refunds set status = 'succeeded', credits_reversed = $3, completed_at = now()
         where gym_id = $1 and id = $2 and status = 'pending'
         returning {COLUMNS}"
    ))
    .bind(gym_id)
    .bind(id)
    .bind(credits_reversed)
    .fetch_one(&mut *conn)
    .await
}

pub async fn get(
    conn: &mut PgConnection,
    gym_id: Uuid,
    id: Uuid,
) -> Result<Option<RefundRow>, sqlx::Error> {
    super::by_id(conn, ("refunds", COLUMNS, ""), gym_id, id).await
}

/// Records the provider's id of a refund still being made.
pub async fn set_provider_ref(
    conn: &mut PgConnection,
    gym_id: Uuid,
    id: Uuid,
    provider_ref: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query("update refunds set provider_ref = $3 where gym_id = $1 and id = $2")
        .bind(gym_id)
        .bind(id)
        .bind(provider_ref)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Marks a pending refund failed: the provider refused it, nothing went back.
pub async fn fail(
    conn: &mut PgConnection,
    gym_id: Uuid,
    id: Uuid,
) -> Result<Option<RefundRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "update refunds set status = 'failed', completed_at = now()
         where gym_id = $1 and id = $2 and status = 'pending'
         returning {COLUMNS}"
    ))
    .bind(gym_id)
    .bind(id)
    .fetch_optional(&mut *conn)
    .await
}
