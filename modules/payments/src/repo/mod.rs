//! The SQL of the module, a file per table group. Every statement filters by the tenant, and
//! runs in a transaction row-level security scopes to it as well.

pub mod connect;
pub mod credentials;
pub mod credits;
pub mod events;
pub mod payments;
pub mod products;
pub mod refunds;
pub mod subscriptions;

use sqlx::postgres::PgRow;
use sqlx::{FromRow, PgConnection};
use uuid::Uuid;

/// The row of `table` with this id in the tenant, if any: `select {columns} from {table}
/// where gym_id = $1 and id = $2`, plus `suffix` (`for update` to lock it).
pub(crate) async fn by_id<T>(
    conn: &mut PgConnection,
    (table, columns, suffix): (&str, &str, &str),
    gym_id: Uuid,
    id: Uuid,
) -> Result<Option<T>, sqlx::Error>
where
    T: for<'r> FromRow<'r, PgRow> + Send + Unpin,
{
    sqlx::query_as(&format!(
        "select {columns} from {table} where gym_id = $1 and id = $2 {suffix}"
    ))
    .bind(gym_id)
    .bind(id)
    .fetch_optional(&mut *conn)
    .await
}
