//! Memberships: one live row per member and plan, moved by the payments of that plan, by
//! cancellation and by the end of grace.

use chrono::{DateTime, Utc};
use sqlx::{PgConnection, Postgres, QueryBuilder};
use uuid::Uuid;

use super::payments::Provider;
use super::products::Interval;

/// Where a membership stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, poem_openapi::Enum, sqlx::Type)]
#[serde(rename_all = "snake_case")]
#[oai(rename_all = "snake_case")]
#[sqlx(type_name = "text", rename_all = "snake_case")]
pub enum SubscriptionStatus {
    /// Paid up to `current_period_end`.
    Active,
    /// A renewal failed; still usable until `grace_until`.
    PastDue,
    /// Cancelled; usable until `current_period_end`, then ended.
    Cancelled,
    /// Over.
    Ended,
}

impl SubscriptionStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            SubscriptionStatus::Active => "active",
            SubscriptionStatus::PastDue => "past_due",
            SubscriptionStatus::Cancelled => "cancelled",
            SubscriptionStatus::Ended => "ended",
        }
    }
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct SubscriptionRow {
    pub id: Uuid,
    pub user_id: Uuid,
    pub product_id: Uuid,
    pub status: SubscriptionStatus,
    pub current_period_end: DateTime<Utc>,
    pub grace_until: Option<DateTime<Utc>>,
    pub provider: Option<Provider>,
    /// The provider's subscription that bills it (Stripe's `sub_…`), once its checkout is paid.
    pub provider_ref: Option<String>,
    pub cancelled_at: Option<DateTime<Utc>>,
    pub ended_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

const COLUMNS: &str = "id, user_id, product_id, status, current_period_end, grace_until, \
    provider, provider_ref, cancelled_at, ended_at, created_at, updated_at";

/// The period a plan pays for, as a PostgreSQL interval.
fn period(unit: Interval, count: i32) -> (i32, i32) {
    match unit {
        Interval::Month => (count, 0),
        Interval::Year => (0, count),
    }
}

/// Creates the member's membership of the plan, or extends the live one by one period from
/// its end (from now when that has passed), making it active again.
pub async fn extend(
    conn: &mut PgConnection,
    gym_id: Uuid,
    user_id: Uuid,
    product_id: Uuid,
    (unit, count): (Interval, i32),
    provider: Provider,
) -> Result<SubscriptionRow, sqlx::Error> {
    let (months, years) = period(unit, count);
    sqlx::query_as(&format!(
        "insert into subscriptions as s
             (gym_id, id, user_id, product_id, status, current_period_end, provider)
         values ($1, $2, $3, $4, 'active',
             now() + make_interval(years => $6, months => $5), $7)
         on conflict (gym_id, user_id, product_id)
             where status in ('active', 'past_due', 'cancelled')
         do update set status = 'active',
             current_period_end = greatest(s.current_period_end, now())
                 + make_interval(years => $6, months => $5),
             grace_until = null, cancelled_at = null, updated_at = now()
         returning {COLUMNS}"
    ))
    .bind(gym_id)
    .bind(Uuid::now_v7())
    .bind(user_id)
    .bind(product_id)
    .bind(months)
    .bind(years)
    .bind(provider)
    .fetch_one(&mut *conn)
    .await
}

/// The member's active membership of the plan becomes `past_due` until `grace_days` from
/// now; `None` when there is none active.
pub async fn past_due(
    conn: &mut PgConnection,
    gym_id: Uuid,
    user_id: Uuid,
    product_id: Uuid,
    grace_days: i32,
) -> Result<Option<SubscriptionRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "update subscriptions set status = 'past_due',
             grace_until = now() + make_interval(days => $4), updated_at = now()
         where gym_id = $1 and user_id = $2 and product_id = $3 and status = 'active'
         returning {COLUMNS}"
    ))
    .bind(gym_id)
    .bind(user_id)
    .bind(product_id)
    .bind(grace_days)
    .fetch_optional(&mut *conn)
    .await
}

/// Cancels a live membership: it stays usable until the end of the paid period. `None` when
/// it is not live (already cancelled or ended).
pub async fn cancel(
    conn: &mut PgConnection,
    gym_id: Uuid,
    id: Uuid,
) -> Result<Option<SubscriptionRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "update subscriptions set status = 'cancelled', cancelled_at = now(), updated_at = now()
         where gym_id = $1 and id = $2 and status in ('active', 'past_due')
         returning {COLUMNS}"
    ))
    .bind(gym_id)
    .bind(id)
    .fetch_optional(&mut *conn)
    .await
}

/// The member's live membership of the plan is billed by the provider's subscription
/// `provider_ref` from now on.
pub async fn link_provider(
    conn: &mut PgConnection,
    gym_id: Uuid,
    (user_id, product_id): (Uuid, Uuid),
    provider: Provider,
    provider_ref: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "update subscriptions set provider = $4, provider_ref = $5, updated_at = now()
         where gym_id = $1 and user_id = $2 and product_id = $3
             and status in ('active', 'past_due', 'cancelled')
             and provider_ref is distinct from $5",
    )
    .bind(gym_id)
    .bind(user_id)
    .bind(product_id)
    .bind(provider)
    .bind(provider_ref)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Moves the member's live membership of the plan to `to` when it is in one of `from`;
/// `None` when it was not (already there, further on, or no live one).
pub async fn move_live(
    conn: &mut PgConnection,
    gym_id: Uuid,
    (user_id, product_id): (Uuid, Uuid),
    from: &[SubscriptionStatus],
    to: SubscriptionStatus,
) -> Result<Option<SubscriptionRow>, sqlx::Error> {
    let from: Vec<&str> = from.iter().map(|status| status.as_str()).collect();
    sqlx::query_as(&format!(
        "update subscriptions set status = $5, updated_at = now(),
             grace_until = case when $5 = 'past_due' then grace_until else null end,
             cancelled_at = case when $5 = 'cancelled' then now() else cancelled_at end,
             ended_at = case when $5 = 'ended' then now() else ended_at end
         where gym_id = $1 and user_id = $2 and product_id = $3 and status = any($4)
         returning {COLUMNS}"
    ))
    .bind(gym_id)
    .bind(user_id)
    .bind(product_id)
    .bind(from)
    .bind(to)
    .fetch_optional(&mut *conn)
    .await
}

/// Ends the memberships whose grace is over and the cancelled ones whose paid period is.
pub async fn end_lapsed(
    conn: &mut PgConnection,
    gym_id: Uuid,
) -> Result<Vec<SubscriptionRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "update subscriptions set status = 'ended', ended_at = now(), updated_at = now()
         where gym_id = $1 and (
             (status = 'past_due' and grace_until <= now())
             or (status = 'cancelled' and current_period_end <= now()))
         returning {COLUMNS}"
    ))
    .bind(gym_id)
    .fetch_all(&mut *conn)
    .await
}

pub async fn get(
    conn: &mut PgConnection,
    gym_id: Uuid,
    id: Uuid,
) -> Result<Option<SubscriptionRow>, sqlx::Error> {
    super::by_id(conn, ("subscriptions", COLUMNS, ""), gym_id, id).await
}

/// Memberships older than `before`, newest first: one member's, or everyone's.
pub async fn page(
    conn: &mut PgConnection,
    gym_id: Uuid,
    user_id: Option<Uuid>,
    before: Option<Uuid>,
    limit: i64,
) -> Result<Vec<SubscriptionRow>, sqlx::Error> {
    // One statement per shape (see `kernel::db::read_tenant`).
    let mut sql = QueryBuilder::<Postgres>::new(format!(
        "select {COLUMNS} from subscriptions where gym_id = "
    ));
    sql.push_bind(gym_id);
    if let Some(user_id) = user_id {
        sql.push(" and user_id = ").push_bind(user_id);
    }
    if let Some(before) = before {
        sql.push(" and id < ").push_bind(before);
    }
    sql.push(" order by id desc limit ").push_bind(limit);
    sql.build_query_as().fetch_all(&mut *conn).await
}
