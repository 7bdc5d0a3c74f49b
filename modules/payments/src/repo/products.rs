//! Products: membership plans and credit packages.

use chrono::{DateTime, Utc};
use sqlx::{PgConnection, Postgres, QueryBuilder};
use uuid::Uuid;

/// What a product is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, poem_openapi::Enum, sqlx::Type)]
#[serde(rename_all = "snake_case")]
#[oai(rename_all = "snake_case")]
#[sqlx(type_name = "text", rename_all = "snake_case")]
pub enum ProductKind {
    /// A membership, paid every `interval_count` `interval`s.
    Plan,
    /// Class credits, paid once.
    CreditPackage,
}

/// The unit of a plan's billing period.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, poem_openapi::Enum, sqlx::Type)]
#[serde(rename_all = "snake_case")]
#[oai(rename_all = "snake_case")]
#[sqlx(type_name = "text", rename_all = "snake_case")]
pub enum Interval {
    Month,
    Year,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ProductRow {
    pub id: Uuid,
    pub kind: ProductKind,
    pub name: String,
    pub price_minor: i64,
    pub currency: String,
    pub credits: Option<i64>,
    pub interval_unit: Option<Interval>,
    pub interval_count: Option<i32>,
    pub active: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A product's fields, as written by a creation or the whole of an update.
pub struct ProductFields<'a> {
    pub kind: ProductKind,
    pub name: &'a str,
    pub price_minor: i64,
    pub currency: &'a str,
    pub credits: Option<i64>,
    pub interval_unit: Option<Interval>,
    pub interval_count: Option<i32>,
    pub active: bool,
}

const COLUMNS: &str = "id, kind, name, price_minor, currency, credits, interval_unit, \
    interval_count, active, created_at, updated_at";

pub async fn insert(
    conn: &mut PgConnection,
    gym_id: Uuid,
    id: Uuid,
    fields: &ProductFields<'_>,
) -> Result<ProductRow, sqlx::Error> {
    sqlx::query_as(&format!(
        "insert into products (gym_id, id, kind, name, price_minor, currency, credits,
             interval_unit, interval_count, active)
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
         returning {COLUMNS}"
    ))
    .bind(gym_id)
    .bind(id)
    .bind(fields.kind)
    .bind(fields.name)
    .bind(fields.price_minor)
    .bind(fields.currency)
    .bind(fields.credits)
    .bind(fields.interval_unit)
    .bind(fields.interval_count)
    .bind(fields.active)
    .fetch_one(&mut *conn)
    .await
}

/// Writes every field but the kind, which never changes.
pub async fn update(
    conn: &mut PgConnection,
    gym_id: Uuid,
    id: Uuid,
    fields: &ProductFields<'_>,
) -> Result<ProductRow, sqlx::Error> {
    sqlx::query_as(&format!(
        "update products set name = $3, price_minor = $4, currency = $5, credits = $6,
             interval_unit = $7, interval_count = $8, active = $9, updated_at = now()
         where gym_id = $1 and id = $2
         returning {COLUMNS}"
    ))
    .bind(gym_id)
    .bind(id)
    .bind(fields.name)
    .bind(fields.price_minor)
    .bind(fields.currency)
    .bind(fields.credits)
    .bind(fields.interval_unit)
    .bind(fields.interval_count)
    .bind(fields.active)
    .fetch_one(&mut *conn)
    .await
}

pub async fn get(
    conn: &mut PgConnection,
    gym_id: Uuid,
    id: Uuid,
) -> Result<Option<ProductRow>, sqlx::Error> {
    super::by_id(conn, ("products", COLUMNS, ""), gym_id, id).await
}

/// Products after `after` in id order (all, or the active ones only).
pub async fn page(
    conn: &mut PgConnection,
    gym_id: Uuid,
    active_only: bool,
    after: Option<Uuid>,
    limit: i64,
) -> Result<Vec<ProductRow>, sqlx::Error> {
    // One statement per shape (see `kernel::db::read_tenant`).
    let mut sql =
        QueryBuilder::<Postgres>::new(format!("select {COLUMNS} from products where gym_id = "));
    sql.push_bind(gym_id);
    if active_only {
        sql.push(" and active");
    }
    if let Some(after) = after {
        sql.push(" and id > ").push_bind(after);
    }
    sql.push(" order by id limit ").push_bind(limit);
    sql.build_query_as().fetch_all(&mut *conn).await
}

/// The default credit packages of a tenant (see the `payments__products` migration), unless
/// it has them; how many were added.
pub async fn seed_defaults(
    conn: &mut PgConnection,
    gym_id: Uuid,
    currency: &str,
    scale: i64,
) -> Result<i32, sqlx::Error> {
    sqlx::query_scalar("select payments_seed_default_products($1, $2, $3)")
        .bind(gym_id)
        .bind(currency)
        .bind(scale)
        .fetch_one(&mut *conn)
        .await
}
