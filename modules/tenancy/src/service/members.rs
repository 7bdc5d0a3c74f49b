//! Membership changes, with the role rules of [`super::rules`], and the tenant's member
//! directory: names and e-mails are copied from the accounts port when someone joins and kept
//! in step by identity's `user_profile_changed` event ([`refresh_person`]), so listing and
//! searching people is one query on tenancy's own table.

use chrono::{DateTime, Utc};
use kernel::pagination::{Page, PageRequest};
use kernel::{ApiError, ApiResult, AppContext, FieldError, OnConstraint, Role, Tenant, db, events};
use sqlx::PgConnection;
use uuid::Uuid;

use super::rules;
use crate::repo::{self, MembershipRow, Person};
use crate::{directory, errors};

/// A person in the tenant.
pub type Member = MembershipRow;

fn no_such_member() -> ApiError {
    ApiError::not_found("no member with this user id in this tenant")
}

async fn find(conn: &mut PgConnection, gym_id: Uuid, user_id: Uuid) -> ApiResult<Member> {
    repo::find_member(conn, gym_id, user_id)
        .await?
        .ok_or_else(no_such_member)
}

/// Staff (trainer and up) see everyone, oldest first; `q` finds people by part of a name or
/// e-mail. Members do not get a directory of other members.
pub async fn list<M>(
    ctx: &AppContext,
    tenant: &Tenant<M>,
    role: Option<Role>,
    q: Option<&str>,
    page: &PageRequest,
) -> ApiResult<Page<Member>> {
    tenant.require(Role::Trainer)?;
    let after: Option<(DateTime<Utc>, Uuid)> = page.after()?;
    let q = q.map(str::trim).filter(|q| !q.is_empty());
    let mut tx = tenant.read(&ctx.db).await?;
    let rows =
        repo::list_members(&mut tx, tenant.gym_id, role, q, after, page.fetch_limit()).await?;
    Ok(page.finish(rows, |row| (row.created_at, row.user_id)))
}

/// Copies `user_id`'s current names into their memberships in every tenant (after identity's
/// `user_profile_changed`); idempotent.
pub async fn refresh_person(ctx: &AppContext, user_id: Uuid) -> ApiResult<()> {
    let mut tx = db::begin_user(&ctx.db, user_id).await?;
    let gyms = repo::gyms_of(&mut tx, user_id).await?;
    tx.commit().await?;
    for gym_id in gyms {
        let mut tx = db::begin_tenant(&ctx.db, gym_id).await?;
        let people = ctx.accounts.summaries(&mut tx, &[user_id]).await?;
        if let Some(person) = people.get(&user_id) {
            repo::update_person(
                &mut tx,
                gym_id,
                user_id,
                &Person {
                    first_name: &person.first_name,
                    last_name: &person.last_name,
                    email: &person.email,
                },
            )
            .await?;
        }
        tx.commit().await?;
    }
    Ok(())
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
    let people = ctx.accounts.summaries(&mut tx, &[user_id]).await?;
    let person = people.get(&user_id).ok_or_else(no_such_member)?;
    repo::insert_member(
        &mut tx,
        tenant.gym_id,
        user_id,
        role,
        &Person {
            first_name: &person.first_name,
            last_name: &person.last_name,
            email: &person.email,
        },
    )
    .await
    .on_constraint("gym_members_pkey", || {
        ApiError::conflict(errors::ALREADY_MEMBER, "this user is already a member")
    })?;
    let member = find(&mut tx, tenant.gym_id, user_id).await?;
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
    let member = find(&mut tx, tenant.gym_id, user_id).await?;
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
