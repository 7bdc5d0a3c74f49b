//! Membership changes, with the role rules of [`super::rules`]. Names and e-mails come from
//! the accounts port; tenancy keeps only who belongs with which role.

use chrono::{DateTime, Utc};
use kernel::pagination::{Page, PageRequest};
use kernel::{
    ApiError, ApiResult, AppContext, FieldError, OnConstraint, Role, Tenant, UserSummary, events,
};
use sqlx::PgConnection;
use uuid::Uuid;

use super::rules;
use crate::repo::{self, MembershipRow};
use crate::{directory, errors};

/// A person in the tenant.
pub struct Member {
    pub person: UserSummary,
    pub role: Role,
    pub joined_at: DateTime<Utc>,
}

fn no_such_member() -> ApiError {
    ApiError::not_found("no member with this user id in this tenant")
}

/// The memberships with their people, in the order given; memberships whose account is gone
/// are left out.
async fn with_people(
    ctx: &AppContext,
    conn: &mut PgConnection,
    rows: Vec<MembershipRow>,
) -> ApiResult<Vec<Member>> {
    let ids: Vec<Uuid> = rows.iter().map(|row| row.user_id).collect();
    let mut people = ctx.accounts.summaries(conn, &ids).await?;
    Ok(rows
        .into_iter()
        .filter_map(|row| {
            Some(Member {
                person: people.remove(&row.user_id)?,
                role: row.role,
                joined_at: row.created_at,
            })
        })
        .collect())
}

async fn find(
    ctx: &AppContext,
    conn: &mut PgConnection,
    gym_id: Uuid,
    user_id: Uuid,
) -> ApiResult<Member> {
    let row = repo::find_member(conn, gym_id, user_id)
        .await?
        .ok_or_else(no_such_member)?;
    with_people(ctx, conn, vec![row])
        .await?
        .pop()
        .ok_or_else(no_such_member)
}

/// Staff (trainer and up) see everyone; members do not get a directory of other members.
pub async fn list<M>(
    ctx: &AppContext,
    tenant: &Tenant<M>,
    role: Option<Role>,
    page: &PageRequest,
) -> ApiResult<Page<Member>> {
    tenant.require(Role::Trainer)?;
    let after: Option<(DateTime<Utc>, Uuid)> = page.after()?;
    let mut tx = tenant.begin(&ctx.db).await?;
    let rows = repo::list_members(&mut tx, tenant.gym_id, role, after, page.fetch_limit()).await?;
    let rows = page.finish(rows, |row| (row.created_at, row.user_id));
    let items = with_people(ctx, &mut tx, rows.items).await?;
    tx.commit().await?;
    Ok(Page {
        items,
        next_cursor: rows.next_cursor,
    })
}

/// Adds a registered user by e-mail.
pub async fn add<M>(
    ctx: &AppContext,
    tenant: &Tenant<M>,
    email: &str,
    role: Role,
) -> ApiResult<Member> {
    rules::may_grant(tenant.role, role)?;
    let mut tx = tenant.begin(&ctx.db).await?;
    let user_id = ctx
        .accounts
        .find_by_email(&mut tx, email)
        .await?
        .ok_or_else(|| {
            ApiError::validation(vec![FieldError::new(
                "email",
                "no registered user has this e-mail address",
            )])
        })?;
    repo::insert_member(&mut tx, tenant.gym_id, user_id, role)
        .await
        .on_constraint("gym_members_pkey", || {
            ApiError::conflict(errors::ALREADY_MEMBER, "this user is already a member")
        })?;
    let member = find(ctx, &mut tx, tenant.gym_id, user_id).await?;
    let gym = repo::find_gym(&mut *tx, tenant.gym_id)
        .await?
        .ok_or_else(|| ApiError::not_found("no such tenant"))?;
    events::record(
        &mut tx,
        Some(tenant.gym_id),
        "member_added",
        serde_json::json!({
            "gym_id": gym.id,
            "gym_name": gym.name,
            "kind": gym.kind,
            "user_id": user_id,
            "role": role,
            "added_by": tenant.user_id,
        }),
    )
    .await?;
    tx.commit().await?;
    directory::invalidate_member(&ctx.cache, tenant.gym_id, user_id).await;
    Ok(member)
}

pub async fn change_role<M>(
    ctx: &AppContext,
    tenant: &Tenant<M>,
    user_id: Uuid,
    role: Role,
) -> ApiResult<Member> {
    let mut tx = tenant.begin(&ctx.db).await?;
    let owners = repo::lock_owners(&mut tx, tenant.gym_id).await?;
    let current = repo::find_member(&mut tx, tenant.gym_id, user_id)
        .await?
        .ok_or_else(no_such_member)?;
    rules::may_change(tenant.role, current.role, role)?;
    rules::keeps_an_owner(owners, current.role == Role::Owner, role == Role::Owner)?;
    repo::update_role(&mut tx, tenant.gym_id, user_id, role).await?;
    let member = find(ctx, &mut tx, tenant.gym_id, user_id).await?;
    if current.role != role {
        let gym = repo::find_gym(&mut *tx, tenant.gym_id)
            .await?
            .ok_or_else(|| ApiError::not_found("no such tenant"))?;
        events::record(
            &mut tx,
            Some(tenant.gym_id),
            "member_role_changed",
            serde_json::json!({
                "gym_id": tenant.gym_id,
                "gym_name": gym.name,
                "user_id": user_id,
                "previous_role": current.role,
                "role": role,
                "changed_by": tenant.user_id,
            }),
        )
        .await?;
    }
    tx.commit().await?;
    directory::invalidate_member(&ctx.cache, tenant.gym_id, user_id).await;
    Ok(member)
}

pub async fn remove<M>(ctx: &AppContext, tenant: &Tenant<M>, user_id: Uuid) -> ApiResult<()> {
    let mut tx = tenant.begin(&ctx.db).await?;
    let owners = repo::lock_owners(&mut tx, tenant.gym_id).await?;
    let current = repo::find_member(&mut tx, tenant.gym_id, user_id)
        .await?
        .ok_or_else(no_such_member)?;
    rules::may_remove(tenant.role, current.role, user_id == tenant.user_id)?;
    rules::keeps_an_owner(owners, current.role == Role::Owner, false)?;
    repo::delete_member(&mut tx, tenant.gym_id, user_id).await?;
    events::record(
        &mut tx,
        Some(tenant.gym_id),
        "member_removed",
        serde_json::json!({
            "gym_id": tenant.gym_id,
            "user_id": user_id,
            "role": current.role,
            "removed_by": tenant.user_id,
        }),
    )
    .await?;
    tx.commit().await?;
    directory::invalidate_member(&ctx.cache, tenant.gym_id, user_id).await;
    Ok(())
}
