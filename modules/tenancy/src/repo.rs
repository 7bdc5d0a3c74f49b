//! All SQL of the tenancy tables. Functions taking a connection expect the caller's scoped
//! transaction (tenant or user scope, see `kernel::db`); every query on `gym_members`,
//! `gym_modules` and `api_keys` still filters by `gym_id` (RLS is the second line, not the
//! first). People's names and e-mails are identity's: they come through the accounts port.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use kernel::{Role, TenantAccess, TenantKind};
use sqlx::postgres::PgRow;
use sqlx::{FromRow, PgConnection, PgExecutor, Postgres, QueryBuilder, Row};
use uuid::Uuid;

#[derive(Debug, Clone, FromRow)]
pub struct GymRow {
    pub id: Uuid,
    pub kind: TenantKind,
    pub name: String,
    pub timezone: String,
    pub currency: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

const GYM_COLUMNS: &str =
    "g.id, g.kind, g.name, g.timezone, g.currency, g.created_at, g.updated_at";

#[derive(Debug, Clone, FromRow)]
pub struct MyGymRow {
    #[sqlx(flatten)]
    pub gym: GymRow,
    pub role: Role,
}

/// A membership with the person's names and e-mail: tenancy's member directory, filled from
/// the accounts port when someone joins and kept in step by identity's
/// `user_profile_changed` event.
#[derive(Debug, Clone)]
pub struct MembershipRow {
    pub user_id: Uuid,
    pub role: Role,
    pub created_at: DateTime<Utc>,
    pub first_name: String,
    pub last_name: String,
    pub email: String,
}

const MEMBER_COLUMNS: &str = "user_id, role, created_at, first_name, last_name, email";

/// Decoded by position, in [`MEMBER_COLUMNS`]' order: sqlx's derived `FromRow` looks every
/// field up by name, one hash per field per row, which was a quarter of the work of serving a
/// page of 50 members (callgrind).
impl<'r> FromRow<'r, PgRow> for MembershipRow {
    fn from_row(row: &'r PgRow) -> Result<Self, sqlx::Error> {
        Ok(Self {
            user_id: row.try_get(0)?,
            role: row.try_get(1)?,
            created_at: row.try_get(2)?,
            first_name: row.try_get(3)?,
            last_name: row.try_get(4)?,
            email: row.try_get(5)?,
        })
    }
}

impl MembershipRow {
    /// [`FromRow::from_row`] without the check of each column's type, for the rows after the
    /// first of one result (see [`membership_rows`]). Decoding still fails on a NULL or on bytes
    /// that are not what the type reads.
    fn from_checked_row(row: &PgRow) -> Result<Self, sqlx::Error> {
        Ok(Self {
            user_id: row.try_get_unchecked(0)?,
            role: row.try_get_unchecked(1)?,
            created_at: row.try_get_unchecked(2)?,
            first_name: row.try_get_unchecked(3)?,
            last_name: row.try_get_unchecked(4)?,
            email: row.try_get_unchecked(5)?,
        })
    }
}

/// The rows of one query as memberships. `try_get` compares each field's Rust type with its
/// column's PostgreSQL type on every row, a seventh of the instructions of serving a page of
/// fifty members (callgrind); every row of a result has the same columns, so the first row is
/// decoded with those checks and the others without.
fn membership_rows(rows: &[PgRow]) -> Result<Vec<MembershipRow>, sqlx::Error> {
    let Some((first, rest)) = rows.split_first() else {
        return Ok(Vec::new());
    };
    let mut members = Vec::with_capacity(rows.len());
    members.push(MembershipRow::from_row(first)?);
    for row in rest {
        members.push(MembershipRow::from_checked_row(row)?);
    }
    Ok(members)
}

/// The person a directory row shows.
pub struct Person<'a> {
    pub first_name: &'a str,
    pub last_name: &'a str,
    pub email: &'a str,
}

/// What `q` matches: lower-cased and unaccented like `search_text`, LIKE's wildcards escaped.
fn search_pattern(q: &str) -> String {
    let escaped = q
        .trim()
        .replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_");
    format!("%{escaped}%")
}

pub struct NewGym<'a> {
    pub id: Uuid,
    pub kind: TenantKind,
    pub name: &'a str,
    pub timezone: &'a str,
    pub currency: &'a str,
}

pub async fn insert_gym(conn: &mut PgConnection, gym: &NewGym<'_>) -> Result<GymRow, sqlx::Error> {
    sqlx::query_as(&format!(
        "insert into gyms as g (id, kind, name, timezone, currency) values ($1, $2, $3, $4, $5) returning {GYM_COLUMNS}"
    ))
    .bind(gym.id)
    .bind(gym.kind)
    .bind(gym.name)
    .bind(gym.timezone)
    .bind(gym.currency)
    .fetch_one(conn)
    .await
}

pub async fn find_gym(
    db: impl PgExecutor<'_>,
    gym_id: Uuid,
) -> Result<Option<GymRow>, sqlx::Error> {
    sqlx::query_as(&format!("select {GYM_COLUMNS} from gyms g where g.id = $1"))
        .bind(gym_id)
        .fetch_optional(db)
        .await
}

pub async fn update_gym(
    db: impl PgExecutor<'_>,
    gym_id: Uuid,
    name: Option<&str>,
    timezone: Option<&str>,
    currency: Option<&str>,
) -> Result<Option<GymRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "update gyms as g set name = coalesce($2, name), timezone = coalesce($3, timezone), \
         currency = coalesce($4, currency), updated_at = now() where g.id = $1 returning {GYM_COLUMNS}"
    ))
    .bind(gym_id)
    .bind(name)
    .bind(timezone)
    .bind(currency)
    .fetch_optional(db)
    .await
}

pub async fn set_kind(
    db: impl PgExecutor<'_>,
    gym_id: Uuid,
    kind: TenantKind,
) -> Result<(), sqlx::Error> {
    sqlx::query("update gyms set kind = $2, updated_at = now() where id = $1")
        .bind(gym_id)
        .bind(kind)
        .execute(db)
        .await?;
    Ok(())
}

/// Gyms `user_id` belongs to (user-scoped transaction), keyset by gym id.
pub async fn my_gyms(
    conn: &mut PgConnection,
    user_id: Uuid,
    after: Option<Uuid>,
    limit: i64,
) -> Result<Vec<MyGymRow>, sqlx::Error> {
    let mut sql = QueryBuilder::<Postgres>::new(format!(
        "select {GYM_COLUMNS}, m.role from gym_members m join gyms g on g.id = m.gym_id \
         where m.user_id = "
    ));
    sql.push_bind(user_id);
    if let Some(after) = after {
        sql.push(" and g.id > ").push_bind(after);
    }
    sql.push(" order by g.id limit ").push_bind(limit);
    sql.build_query_as().fetch_all(conn).await
}

/// The caller's membership in one tenant (user-scoped transaction).
pub async fn membership(
    conn: &mut PgConnection,
    user_id: Uuid,
    gym_id: Uuid,
) -> Result<Option<TenantAccess>, sqlx::Error> {
    let row: Option<(Role, TenantKind)> = sqlx::query_as(
        "select m.role, g.kind from gym_members m join gyms g on g.id = m.gym_id where m.user_id = $1 and m.gym_id = $2",
    )
    .bind(user_id)
    .bind(gym_id)
    .fetch_optional(conn)
    .await?;
    Ok(row.map(|(role, kind)| TenantAccess { gym_id, role, kind }))
}

/// Up to two memberships, an owned workspace first (user-scoped transaction): enough to
/// pick the trainer build's default tenant or to see that the choice is ambiguous.
pub async fn default_candidates(
    conn: &mut PgConnection,
    user_id: Uuid,
) -> Result<Vec<TenantAccess>, sqlx::Error> {
    let rows: Vec<(Uuid, Role, TenantKind)> = sqlx::query_as(
        "select m.gym_id, m.role, g.kind from gym_members m join gyms g on g.id = m.gym_id where m.user_id = $1 \
         order by (m.role = 'owner' and g.kind = 'personal_trainer') desc, m.created_at, m.gym_id limit 2",
    )
    .bind(user_id)
    .fetch_all(conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(gym_id, role, kind)| TenantAccess { gym_id, role, kind })
        .collect())
}

pub async fn insert_member(
    conn: &mut PgConnection,
    gym_id: Uuid,
    user_id: Uuid,
    role: Role,
    person: &Person<'_>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "insert into gym_members (gym_id, user_id, role, first_name, last_name, email, search_text) \
         values ($1, $2, $3, $4, $5, $6, lower(unaccent($4 || ' ' || $5 || ' ' || $6)))",
    )
    .bind(gym_id)
    .bind(user_id)
    .bind(role)
    .bind(person.first_name)
    .bind(person.last_name)
    .bind(person.email)
    .execute(conn)
    .await?;
    Ok(())
}

/// Writes `user_id`'s new names into their membership of `gym_id` (tenant-scoped).
pub async fn update_person(
    conn: &mut PgConnection,
    gym_id: Uuid,
    user_id: Uuid,
    person: &Person<'_>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "update gym_members set first_name = $3, last_name = $4, email = $5, \
         search_text = lower(unaccent($3 || ' ' || $4 || ' ' || $5)) \
         where gym_id = $1 and user_id = $2",
    )
    .bind(gym_id)
    .bind(user_id)
    .bind(person.first_name)
    .bind(person.last_name)
    .bind(person.email)
    .execute(conn)
    .await?;
    Ok(())
}

/// The tenants `user_id` belongs to (user-scoped transaction).
pub async fn gyms_of(conn: &mut PgConnection, user_id: Uuid) -> Result<Vec<Uuid>, sqlx::Error> {
    sqlx::query_scalar("select gym_id from gym_members where user_id = $1")
        .bind(user_id)
        .fetch_all(conn)
        .await
}

pub async fn find_member(
    conn: &mut PgConnection,
    gym_id: Uuid,
    user_id: Uuid,
) -> Result<Option<MembershipRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "select {MEMBER_COLUMNS} from gym_members where gym_id = $1 and user_id = $2"
    ))
    .bind(gym_id)
    .bind(user_id)
    .fetch_optional(conn)
    .await
}

/// Oldest first, keyset by (joined, user id); `q` matches part of a name or e-mail, whatever
/// the case and accents.
///
/// One statement per combination of filters rather than `($n is null or ...)` catch-alls:
/// each shape then has a plan that fits it, which PostgreSQL prepares once per connection
/// instead of re-planning every call (see `kernel::db::read_tenant`).
pub async fn list_members(
    conn: &mut PgConnection,
    gym_id: Uuid,
    role: Option<Role>,
    q: Option<&str>,
    after: Option<(DateTime<Utc>, Uuid)>,
    limit: i64,
) -> Result<Vec<MembershipRow>, sqlx::Error> {
    let mut sql = QueryBuilder::<Postgres>::new(format!(
        "select {MEMBER_COLUMNS} from gym_members where gym_id = "
    ));
    sql.push_bind(gym_id);
    if let Some(role) = role {
        sql.push(" and role = ").push_bind(role);
    }
    if let Some(q) = q {
        sql.push(" and search_text like lower(unaccent(")
            .push_bind(search_pattern(q))
            .push("))");
    }
    if let Some((time, id)) = after {
        sql.push(" and (created_at, user_id) > (")
            .push_bind(time)
            .push(", ")
            .push_bind(id)
            .push(")");
    }
    sql.push(" order by created_at, user_id limit ")
        .push_bind(limit);
    let rows = sql.build().fetch_all(conn).await?;
    membership_rows(&rows)
}

pub async fn update_role(
    conn: &mut PgConnection,
    gym_id: Uuid,
    user_id: Uuid,
    role: Role,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "update gym_members set role = $3, updated_at = now() where gym_id = $1 and user_id = $2",
    )
    .bind(gym_id)
    .bind(user_id)
    .bind(role)
    .execute(conn)
    .await?;
    Ok(())
}

pub async fn delete_member(
    conn: &mut PgConnection,
    gym_id: Uuid,
    user_id: Uuid,
) -> Result<(), sqlx::Error> {
    sqlx::query("delete from gym_members where gym_id = $1 and user_id = $2")
        .bind(gym_id)
        .bind(user_id)
        .execute(conn)
        .await?;
    Ok(())
}

/// Locks the owner rows of a gym and counts them, so two concurrent demotions or departures
/// cannot both leave the gym without an owner.
pub async fn lock_owners(conn: &mut PgConnection, gym_id: Uuid) -> Result<usize, sqlx::Error> {
    let owners: Vec<Uuid> = sqlx::query_scalar(
        "select user_id from gym_members where gym_id = $1 and role = 'owner' for update",
    )
    .bind(gym_id)
    .fetch_all(conn)
    .await?;
    Ok(owners.len())
}

pub async fn module_overrides(
    conn: &mut PgConnection,
    gym_id: Uuid,
) -> Result<HashMap<String, bool>, sqlx::Error> {
    let rows: Vec<(String, bool)> =
        sqlx::query_as("select module_code, enabled from gym_modules where gym_id = $1")
            .bind(gym_id)
            .fetch_all(conn)
            .await?;
    Ok(rows.into_iter().collect())
}

pub async fn set_module(
    conn: &mut PgConnection,
    gym_id: Uuid,
    code: &str,
    enabled: bool,
    by: Option<Uuid>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "insert into gym_modules (gym_id, module_code, enabled, updated_by) values ($1, $2, $3, $4) \
         on conflict (gym_id, module_code) do update set enabled = excluded.enabled, \
         updated_by = excluded.updated_by, updated_at = now()",
    )
    .bind(gym_id)
    .bind(code)
    .bind(enabled)
    .bind(by)
    .execute(conn)
    .await?;
    Ok(())
}

/// Per role: how many members, and how many joined since `since`.
pub async fn member_figures(
    conn: &mut PgConnection,
    gym_id: Uuid,
    since: DateTime<Utc>,
) -> Result<Vec<(Role, i64, i64)>, sqlx::Error> {
    sqlx::query_as(
        "select role, count(*), count(*) filter (where created_at >= $2) from gym_members where gym_id = $1 group by role",
    )
    .bind(gym_id)
    .bind(since)
    .fetch_all(conn)
    .await
}

pub async fn member_ids(conn: &mut PgConnection, gym_id: Uuid) -> Result<Vec<Uuid>, sqlx::Error> {
    sqlx::query_scalar("select user_id from gym_members where gym_id = $1")
        .bind(gym_id)
        .fetch_all(conn)
        .await
}

/// Up to `limit` tenant ids after `after`, in order (`gyms` has no row-level security: it is
/// the registry of tenants).
/// Ids of `gym_id`'s people whose role is `minimum` or higher (at most 1,000).
pub async fn people_with_role(
    conn: &mut PgConnection,
    gym_id: Uuid,
    minimum: Role,
) -> Result<Vec<Uuid>, sqlx::Error> {
    let roles: Vec<&str> = [Role::Member, Role::Trainer, Role::Admin, Role::Owner]
        .into_iter()
        .filter(|role| *role >= minimum)
        .map(Role::as_str)
        .collect();
    sqlx::query_scalar(
        "select user_id from gym_members where gym_id = $1 and role = any($2)
         order by user_id limit 1000",
    )
    .bind(gym_id)
    .bind(roles)
    .fetch_all(&mut *conn)
    .await
}

pub async fn member_count(conn: &mut PgConnection, gym_id: Uuid) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar("select count(*) from gym_members where gym_id = $1")
        .bind(gym_id)
        .fetch_one(&mut *conn)
        .await
}

pub async fn tenant_ids_after(
    db: impl PgExecutor<'_>,
    after: Option<Uuid>,
    limit: i64,
) -> Result<Vec<Uuid>, sqlx::Error> {
    sqlx::query_scalar(
        "select id from gyms where ($1::uuid is null or id > $1) order by id limit $2",
    )
    .bind(after)
    .bind(limit)
    .fetch_all(db)
    .await
}

#[derive(Debug, FromRow)]
pub struct ApiKeyRow {
    pub id: Uuid,
    pub name: String,
    pub scopes: Vec<String>,
    pub hint: String,
    pub created_by: Uuid,
    pub created_at: DateTime<Utc>,
    pub expires_at: Option<DateTime<Utc>>,
    pub last_used_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
}

const API_KEY_COLUMNS: &str =
    "id, name, scopes, hint, created_by, created_at, expires_at, last_used_at, revoked_at";

pub struct NewApiKeyRow<'a> {
    pub gym_id: Uuid,
    pub name: &'a str,
    pub scopes: &'a [String],
    pub digest: &'a [u8],
    pub hint: &'a str,
    pub created_by: Uuid,
    pub expires_at: Option<DateTime<Utc>>,
}

pub async fn insert_api_key(
    conn: &mut PgConnection,
    new: NewApiKeyRow<'_>,
) -> Result<ApiKeyRow, sqlx::Error> {
    sqlx::query_as(&format!(
        "insert into api_keys (gym_id, id, name, scopes, token_digest, hint, created_by, expires_at) \
         values ($1, $2, $3, $4, $5, $6, $7, $8) returning {API_KEY_COLUMNS}"
    ))
    .bind(new.gym_id)
    .bind(Uuid::now_v7())
    .bind(new.name)
    .bind(new.scopes)
    .bind(new.digest)
    .bind(new.hint)
    .bind(new.created_by)
    .bind(new.expires_at)
    .fetch_one(conn)
    .await
}

/// Newest first, keyset by id.
pub async fn list_api_keys(
    conn: &mut PgConnection,
    gym_id: Uuid,
    before: Option<Uuid>,
    limit: i64,
) -> Result<Vec<ApiKeyRow>, sqlx::Error> {
    let mut sql = QueryBuilder::<Postgres>::new(format!(
        "select {API_KEY_COLUMNS} from api_keys where gym_id = "
    ));
    sql.push_bind(gym_id);
    if let Some(before) = before {
        sql.push(" and id < ").push_bind(before);
    }
    sql.push(" order by id desc limit ").push_bind(limit);
    sql.build_query_as().fetch_all(conn).await
}

/// Revokes a key (keeping the first revocation's time); its digest, or `None` if there is no
/// such key.
pub async fn revoke_api_key(
    conn: &mut PgConnection,
    gym_id: Uuid,
    id: Uuid,
) -> Result<Option<Vec<u8>>, sqlx::Error> {
    sqlx::query_scalar(
        "update api_keys set revoked_at = coalesce(revoked_at, now()) \
         where gym_id = $1 and id = $2 returning token_digest",
    )
    .bind(gym_id)
    .bind(id)
    .fetch_optional(conn)
    .await
}

#[derive(Debug, FromRow)]
pub struct LiveApiKey {
    pub id: Uuid,
    pub created_by: Uuid,
    pub scopes: Vec<String>,
    pub expires_at: Option<DateTime<Utc>>,
}

/// The live key stored under `digest`, marking it used.
pub async fn use_api_key(
    conn: &mut PgConnection,
    gym_id: Uuid,
    digest: &[u8],
) -> Result<Option<LiveApiKey>, sqlx::Error> {
    sqlx::query_as(
        "update api_keys set last_used_at = now() \
         where gym_id = $1 and token_digest = $2 and revoked_at is null \
           and (expires_at is null or expires_at > now()) \
         returning id, created_by, scopes, expires_at",
    )
    .bind(gym_id)
    .bind(digest)
    .fetch_optional(conn)
    .await
}

#[cfg(test)]
mod tests {
    use super::search_pattern;

    #[test]
    fn search_patterns_match_inside_and_escape_wildcards() {
        assert_eq!(search_pattern(" Jo "), "%Jo%");
        assert_eq!(search_pattern("50%_off\\"), "%50\\%\\_off\\\\%");
    }
}
