//! All SQL of `webhook_endpoints` and `webhook_deliveries`. Every function expects a
//! transaction scoped to `gym_id` (see `kernel::db`) and still filters by it (row-level
//! security is the second line, not the first).

use chrono::{DateTime, Utc};
use sqlx::{FromRow, PgConnection, Postgres, QueryBuilder};
use uuid::Uuid;

#[derive(Debug, FromRow)]
pub struct EndpointRow {
    pub id: Uuid,
    pub url: String,
    pub description: String,
    pub event_types: Vec<String>,
    pub enabled: bool,
    pub previous_secret_expires_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

const ENDPOINT_COLUMNS: &str = "id, url, description, event_types, enabled, previous_secret_expires_at, created_at, updated_at";

#[derive(Debug, FromRow)]
pub struct DeliveryRow {
    pub id: Uuid,
    pub endpoint_id: Uuid,
    pub event_id: Uuid,
    pub event_type: String,
    pub body: String,
    pub status: String,
    pub attempts: i32,
    pub last_status_code: Option<i32>,
    pub last_error: Option<String>,
    pub last_attempt_at: Option<DateTime<Utc>>,
    pub next_attempt_at: Option<DateTime<Utc>>,
    pub replay_of: Option<Uuid>,
    pub created_at: DateTime<Utc>,
}

const DELIVERY_COLUMNS: &str = "id, endpoint_id, event_id, event_type, body, status, attempts, \
    last_status_code, last_error, last_attempt_at, next_attempt_at, replay_of, created_at";

/// A delivery about to be attempted, with what its endpoint needs to receive it.
#[derive(FromRow)]
pub struct PendingDelivery {
    pub attempts: i32,
    pub status: String,
    pub body: String,
    pub event_type: String,
    pub created_at: DateTime<Utc>,
    pub url: String,
    pub enabled: bool,
    pub endpoint_id: Uuid,
    /// The signing secret: sealed, or readable until the sealing job has run
    /// ([`crate::service::secrets`]).
    pub secret: Option<String>,
    pub secret_sealed: Option<String>,
    /// The secret a rotation replaced, while it still signs.
    pub previous_secret: Option<String>,
    pub previous_secret_sealed: Option<String>,
}

/// What one attempt of a delivery ended with.
pub struct AttemptRecord<'a> {
    /// Attempts made, this one included.
    pub attempts: i32,
    pub status: &'a str,
    pub status_code: Option<i32>,
    pub error: Option<&'a str>,
    pub next_attempt_at: Option<DateTime<Utc>>,
}

/// Makes the endpoint creations of one tenant take turns until the transaction ends.
pub async fn lock_endpoints(conn: &mut PgConnection, gym_id: Uuid) -> Result<(), sqlx::Error> {
    sqlx::query(
        "select pg_advisory_xact_lock(hashtextextended('webhook_endpoints:' || $1::text, 0))",
    )
    .bind(gym_id)
    .execute(conn)
    .await?;
    Ok(())
}

pub async fn count_endpoints(conn: &mut PgConnection, gym_id: Uuid) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar("select count(*) from webhook_endpoints where gym_id = $1")
        .bind(gym_id)
        .fetch_one(conn)
        .await
}

/// An endpoint to create.
pub struct NewEndpoint<'a> {
    /// Chosen by the caller: the sealed secret is bound to it.
    pub id: Uuid,
    pub url: &'a str,
    pub description: &'a str,
    pub event_types: &'a [String],
    pub secret_sealed: &'a str,
    pub created_by: Uuid,
}

/// A new, enabled endpoint, its secret stored sealed only.
pub async fn insert_endpoint(
    conn: &mut PgConnection,
    gym_id: Uuid,
    new: &NewEndpoint<'_>,
) -> Result<EndpointRow, sqlx::Error> {
    sqlx::query_as(&format!(
        "insert into webhook_endpoints (gym_id, id, url, description, event_types, enabled, secret_sealed, created_by) \
         values ($1, $2, $3, $4, $5, $6, $7, $8) returning {ENDPOINT_COLUMNS}"
    ))
    .bind(gym_id)
    .bind(new.id)
    .bind(new.url)
    .bind(new.description)
    .bind(new.event_types)
    .bind(true)
    .bind(new.secret_sealed)
    .bind(new.created_by)
    .fetch_one(conn)
    .await
}

/// Oldest first.
pub async fn list_endpoints(
    conn: &mut PgConnection,
    gym_id: Uuid,
) -> Result<Vec<EndpointRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "select {ENDPOINT_COLUMNS} from webhook_endpoints where gym_id = $1 order by id"
    ))
    .bind(gym_id)
    .fetch_all(conn)
    .await
}

pub async fn find_endpoint(
    conn: &mut PgConnection,
    gym_id: Uuid,
    id: Uuid,
) -> Result<Option<EndpointRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "select {ENDPOINT_COLUMNS} from webhook_endpoints where gym_id = $1 and id = $2"
    ))
    .bind(gym_id)
    .bind(id)
    .fetch_optional(conn)
    .await
}

/// Changes the fields given (`None` leaves one as it is); `None` when there is no such
/// endpoint.
pub async fn update_endpoint(
    conn: &mut PgConnection,
    gym_id: Uuid,
    id: Uuid,
    url: Option<&str>,
    description: Option<&str>,
    event_types: Option<&[String]>,
    enabled: Option<bool>,
) -> Result<Option<EndpointRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "update webhook_endpoints set url = coalesce($3, url), \
             description = coalesce($4, description), event_types = coalesce($5, event_types), \
             enabled = coalesce($6, enabled), updated_at = now() \
         where gym_id = $1 and id = $2 returning {ENDPOINT_COLUMNS}"
    ))
    .bind(gym_id)
    .bind(id)
    .bind(url)
    .bind(description)
    .bind(event_types)
    .bind(enabled)
    .fetch_optional(conn)
    .await
}

/// Whether there was such an endpoint. Its deliveries go with it.
pub async fn delete_endpoint(
    conn: &mut PgConnection,
    gym_id: Uuid,
    id: Uuid,
) -> Result<bool, sqlx::Error> {
    let deleted = sqlx::query("delete from webhook_endpoints where gym_id = $1 and id = $2")
        .bind(gym_id)
        .bind(id)
        .execute(conn)
        .await?;
    Ok(deleted.rows_affected() > 0)
}

/// Sets a new (sealed) secret. The current one becomes the previous secret until
/// `previous_expires_at`, or is dropped at once when that is `None`. A legacy readable current
/// secret moves to the readable previous column, for the sealing job to seal.
pub async fn rotate_secret(
    conn: &mut PgConnection,
    gym_id: Uuid,
    id: Uuid,
    secret_sealed: &str,
    previous_expires_at: Option<DateTime<Utc>>,
) -> Result<Option<EndpointRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "update webhook_endpoints set \
             previous_secret = case when $4::timestamptz is null then null else secret end, \
             previous_secret_sealed = case when $4::timestamptz is null then null else secret_sealed end, \
             previous_secret_expires_at = $4, secret = null, secret_sealed = $3, updated_at = now() \
         where gym_id = $1 and id = $2 returning {ENDPOINT_COLUMNS}"
    ))
    .bind(gym_id)
    .bind(id)
    .bind(secret_sealed)
    .bind(previous_expires_at)
    .fetch_optional(conn)
    .await
}

/// An endpoint's stored secrets, as they are: sealed, or readable from before sealing.
#[derive(Debug, FromRow)]
pub struct StoredSecrets {
    pub id: Uuid,
    pub secret: Option<String>,
    pub secret_sealed: Option<String>,
    pub previous_secret: Option<String>,
    pub previous_secret_sealed: Option<String>,
}

/// Every endpoint's stored secrets, locked until the transaction ends (so a rotation waits for
/// the sealing job instead of being overwritten by it).
pub async fn lock_stored_secrets(
    conn: &mut PgConnection,
    gym_id: Uuid,
) -> Result<Vec<StoredSecrets>, sqlx::Error> {
    sqlx::query_as(
        "select id, secret, secret_sealed, previous_secret, previous_secret_sealed \
         from webhook_endpoints where gym_id = $1 order by id for update",
    )
    .bind(gym_id)
    .fetch_all(conn)
    .await
}

/// Stores an endpoint's secrets sealed, clearing the readable columns.
pub async fn store_sealed(
    conn: &mut PgConnection,
    gym_id: Uuid,
    id: Uuid,
    secret_sealed: &str,
    previous_secret_sealed: Option<&str>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "update webhook_endpoints set secret = null, previous_secret = null, \
             secret_sealed = $3, previous_secret_sealed = $4 \
         where gym_id = $1 and id = $2",
    )
    .bind(gym_id)
    .bind(id)
    .bind(secret_sealed)
    .bind(previous_secret_sealed)
    .execute(conn)
    .await?;
    Ok(())
}

/// The enabled endpoints that subscribe to `event_type`.
pub async fn subscribed_endpoints(
    conn: &mut PgConnection,
    gym_id: Uuid,
    event_type: &str,
) -> Result<Vec<Uuid>, sqlx::Error> {
    sqlx::query_scalar(
        "select id from webhook_endpoints where gym_id = $1 and enabled and $2 = any(event_types)",
    )
    .bind(gym_id)
    .bind(event_type)
    .fetch_all(conn)
    .await
}

/// A delivery to make, due now.
pub struct NewDelivery<'a> {
    pub endpoint_id: Uuid,
    pub event_id: Uuid,
    pub event_type: &'a str,
    /// The exact bytes to send, the same for every attempt and replay of the event.
    pub body: &'a str,
    /// The first delivery of the event to the endpoint, when this one replays it.
    pub replay_of: Option<Uuid>,
}

/// Inserts the first delivery of an event to each of `endpoint_ids`, pending, in one statement;
/// returns the ids of the deliveries made, leaving out endpoints that already have one (the
/// fan-out ran twice).
pub async fn insert_first_deliveries(
    conn: &mut PgConnection,
    gym_id: Uuid,
    endpoint_ids: &[Uuid],
    event_id: Uuid,
    event_type: &str,
    body: &str,
) -> Result<Vec<Uuid>, sqlx::Error> {
    let ids: Vec<Uuid> = endpoint_ids.iter().map(|_| Uuid::now_v7()).collect();
    sqlx::query_scalar(
        "insert into webhook_deliveries (gym_id, id, endpoint_id, event_id, event_type, body, next_attempt_at) \
         select $1, new.id, new.endpoint_id, $4, $5, $6, now() \
         from unnest($2::uuid[], $3::uuid[]) as new(id, endpoint_id) \
         on conflict (endpoint_id, event_id) where replay_of is null do nothing returning id",
    )
    .bind(gym_id)
    .bind(&ids)
    .bind(endpoint_ids)
    .bind(event_id)
    .bind(event_type)
    .bind(body)
    .fetch_all(conn)
    .await
}

/// Inserts the delivery, pending; `None` when this event already has a first delivery to this
/// endpoint (replays aside).
pub async fn insert_delivery(
    conn: &mut PgConnection,
    gym_id: Uuid,
    new: &NewDelivery<'_>,
) -> Result<Option<DeliveryRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "insert into webhook_deliveries (gym_id, id, endpoint_id, event_id, event_type, body, replay_of, next_attempt_at) \
         values ($1, $2, $3, $4, $5, $6, $7, now()) \
         on conflict (endpoint_id, event_id) where replay_of is null do nothing returning {DELIVERY_COLUMNS}"
    ))
    .bind(gym_id)
    .bind(Uuid::now_v7())
    .bind(new.endpoint_id)
    .bind(new.event_id)
    .bind(new.event_type)
    .bind(new.body)
    .bind(new.replay_of)
    .fetch_optional(conn)
    .await
}

/// An endpoint's deliveries, newest first, before `before` (keyset).
pub async fn list_deliveries(
    conn: &mut PgConnection,
    gym_id: Uuid,
    endpoint_id: Uuid,
    before: Option<Uuid>,
    limit: i64,
) -> Result<Vec<DeliveryRow>, sqlx::Error> {
    let mut sql = QueryBuilder::<Postgres>::new(format!(
        "select {DELIVERY_COLUMNS} from webhook_deliveries where gym_id = "
    ));
    sql.push_bind(gym_id)
        .push(" and endpoint_id = ")
        .push_bind(endpoint_id);
    if let Some(before) = before {
        sql.push(" and id < ").push_bind(before);
    }
    sql.push(" order by id desc limit ").push_bind(limit);
    sql.build_query_as().fetch_all(conn).await
}

pub async fn find_delivery(
    conn: &mut PgConnection,
    gym_id: Uuid,
    endpoint_id: Uuid,
    id: Uuid,
) -> Result<Option<DeliveryRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "select {DELIVERY_COLUMNS} from webhook_deliveries where gym_id = $1 and endpoint_id = $2 and id = $3"
    ))
    .bind(gym_id)
    .bind(endpoint_id)
    .bind(id)
    .fetch_optional(conn)
    .await
}

/// The delivery with its endpoint's URL, state and live secrets.
pub async fn find_pending(
    conn: &mut PgConnection,
    gym_id: Uuid,
    delivery_id: Uuid,
) -> Result<Option<PendingDelivery>, sqlx::Error> {
    sqlx::query_as(
        "select d.attempts, d.status, d.body, d.event_type, d.created_at, e.url, e.enabled, \
             e.id as endpoint_id, e.secret, e.secret_sealed, \
             case when e.previous_secret_expires_at > now() then e.previous_secret end as previous_secret, \
             case when e.previous_secret_expires_at > now() then e.previous_secret_sealed end \
                 as previous_secret_sealed \
         from webhook_deliveries d \
         join webhook_endpoints e on e.gym_id = d.gym_id and e.id = d.endpoint_id \
         where d.gym_id = $1 and d.id = $2",
    )
    .bind(gym_id)
    .bind(delivery_id)
    .fetch_optional(conn)
    .await
}

/// Records an attempt, unless another run recorded it first (the row no longer shows the
/// attempts made before it): then nothing changes and the answer is `false`.
pub async fn record_attempt(
    conn: &mut PgConnection,
    gym_id: Uuid,
    delivery_id: Uuid,
    record: &AttemptRecord<'_>,
) -> Result<bool, sqlx::Error> {
    let updated = sqlx::query(
        "update webhook_deliveries set attempts = $3, status = $4, last_status_code = $5, \
             last_error = $6, last_attempt_at = now(), next_attempt_at = $7 \
         where gym_id = $1 and id = $2 and attempts = $8",
    )
    .bind(gym_id)
    .bind(delivery_id)
    .bind(record.attempts)
    .bind(record.status)
    .bind(record.status_code)
    .bind(record.error)
    .bind(record.next_attempt_at)
    .bind(record.attempts - 1)
    .execute(conn)
    .await?;
    Ok(updated.rows_affected() == 1)
}
