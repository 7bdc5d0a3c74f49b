//! The SQL of the credit ledger. Every statement filters by the tenant, and runs in a
//! transaction row-level security scopes to it as well.

use chrono::{DateTime, Utc};
use sqlx::{PgConnection, Postgres, QueryBuilder};
use uuid::Uuid;

/// What a ledger row records: `purchase`, `spend`, `refund` or `adjustment` (see the
/// `payments__credit_ledger` migration).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, sqlx::Type)]
#[serde(rename_all = "snake_case")]
#[sqlx(type_name = "text", rename_all = "snake_case")]
pub enum Kind {
    Purchase,
    Spend,
    Refund,
    Adjustment,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct TransactionRow {
    pub id: Uuid,
    pub user_id: Uuid,
    pub kind: Kind,
    pub amount: i64,
    pub balance_after: i64,
    pub reason: String,
    pub created_by: Uuid,
    pub created_at: DateTime<Utc>,
}

/// A ledger row to append.
pub struct NewTransaction<'a> {
    pub gym_id: Uuid,
    pub id: Uuid,
    pub user_id: Uuid,
    pub kind: Kind,
    /// The signed change.
    pub amount: i64,
    pub reason: &'a str,
    pub created_by: Uuid,
    /// What caused it, once per kind: `payment:<id>` for a purchase's grant, `refund:<id>`
    /// for a refund's reversal (a unique index refuses a second row).
    pub source: Option<&'a str>,
}

const RETURNING: &str =
    "returning id, user_id, kind, amount, balance_after, reason, created_by, created_at";

/// Applies `new.amount` to the balance and appends the ledger row, in one statement. A
/// decrease applies only while the balance covers it (`None` otherwise); the row lock the
/// update takes makes concurrent decreases wait and re-check, so none can overdraw.
pub async fn apply(
    conn: &mut PgConnection,
    new: &NewTransaction<'_>,
) -> Result<Option<TransactionRow>, sqlx::Error> {
    // An increase creates the balance row on first use; a decrease needs one to exist.
    let moved = if new.amount > 0 {
        "insert into credit_balances as b (gym_id, user_id, balance) values ($1, $2, $3)
         on conflict (gym_id, user_id)
         do update set balance = b.balance + excluded.balance, updated_at = now()
         returning balance"
    } else {
        "update credit_balances set balance = balance + $3, updated_at = now()
         where gym_id = $1 and user_id = $2 and balance + $3 >= 0
         returning balance"
    };
    let sql = format!(
        "with moved as ({moved})
         insert into credit_transactions
             (gym_id, id, user_id, kind, amount, balance_after, reason, created_by, source)
         select $1, $4, $2, $5, $3, balance, $6, $7, $8 from moved
         {RETURNING}"
    );
    sqlx::query_as(&sql)
        .bind(new.gym_id)
        .bind(new.user_id)
        .bind(new.amount)
        .bind(new.id)
        .bind(new.kind)
        .bind(new.reason)
        .bind(new.created_by)
        .bind(new.source)
        .fetch_optional(&mut *conn)
        .await
}

/// The balance of `user_id`, locked until the transaction ends (0 and nothing to lock for
/// someone who never had credits): what a refund may still take back.
pub async fn lock_balance(
    conn: &mut PgConnection,
    gym_id: Uuid,
    user_id: Uuid,
) -> Result<i64, sqlx::Error> {
    let balance: Option<i64> = sqlx::query_scalar(
        "select balance from credit_balances where gym_id = $1 and user_id = $2 for update",
    )
    .bind(gym_id)
    .bind(user_id)
    .fetch_optional(&mut *conn)
    .await?;
    Ok(balance.unwrap_or(0))
}

/// The balance of `user_id`; 0 for someone who never had credits.
pub async fn balance(
    conn: &mut PgConnection,
    gym_id: Uuid,
    user_id: Uuid,
) -> Result<i64, sqlx::Error> {
    let balance: Option<i64> = sqlx::query_scalar(
        "select balance from credit_balances where gym_id = $1 and user_id = $2",
    )
    .bind(gym_id)
    .bind(user_id)
    .fetch_optional(&mut *conn)
    .await?;
    Ok(balance.unwrap_or(0))
}

/// `user_id`'s ledger rows older than `before` (all when `None`), newest first.
pub async fn transactions(
    conn: &mut PgConnection,
    gym_id: Uuid,
    user_id: Uuid,
    before: Option<Uuid>,
    limit: i64,
) -> Result<Vec<TransactionRow>, sqlx::Error> {
    // One statement per shape (see `kernel::db::read_tenant`).
    let mut sql = QueryBuilder::<Postgres>::new(
        "select id, user_id, kind, amount, balance_after, reason, created_by, created_at \
         from credit_transactions where gym_id = ",
    );
    sql.push_bind(gym_id)
        .push(" and user_id = ")
        .push_bind(user_id);
    if let Some(before) = before {
        sql.push(" and id < ").push_bind(before);
    }
    sql.push(" order by id desc limit ").push_bind(limit);
    sql.build_query_as().fetch_all(&mut *conn).await
}
