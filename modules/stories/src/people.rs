//! Follows and close-friends lists: the relations the visibility rule reads.

use kernel::pagination::{Page, PageRequest};
use kernel::{ApiError, ApiResult, AppContext, Tenant};
use sqlx::{Postgres, Transaction};
use uuid::Uuid;

use crate::feed_cache;
use crate::repo::{self, People};
use crate::service::require_member;
use crate::tray_repo;

pub use crate::repo::PersonRow;

/// Puts `user_id` on the caller's list (`Following`: the caller follows them).
pub async fn add<M>(
    ctx: &AppContext,
    tenant: &Tenant<M>,
    list: People,
    user_id: Uuid,
) -> ApiResult<()> {
    if user_id == tenant.user_id {
        return Err(ApiError::field("user_id", "must be someone other than you"));
    }
    require_member(ctx, tenant, user_id).await?;
    let mut tx = tenant.begin(&ctx.db).await?;
    repo::add_person(&mut tx, list, tenant.gym_id, tenant.user_id, user_id).await?;
    reflect_in_feed(ctx, tenant, tx, list, user_id).await
}

/// Takes `user_id` off the caller's list; someone not on it changes nothing (a non-member is
/// 404 all the same, as everywhere).
pub async fn remove<M>(
    ctx: &AppContext,
    tenant: &Tenant<M>,
    list: People,
    user_id: Uuid,
) -> ApiResult<()> {
    require_member(ctx, tenant, user_id).await?;
    let mut tx = tenant.begin(&ctx.db).await?;
    repo::remove_person(&mut tx, list, tenant.gym_id, tenant.user_id, user_id).await?;
    reflect_in_feed(ctx, tenant, tx, list, user_id).await
}

/// Brings the feed a change to the caller's list changes up to date (its tray in the change's
/// transaction, which it commits; its cached order once committed).
async fn reflect_in_feed<M>(
    ctx: &AppContext,
    tenant: &Tenant<M>,
    mut tx: Transaction<'static, Postgres>,
    list: People,
    user_id: Uuid,
) -> ApiResult<()> {
    let (viewer, author) = whose_feed_changes(tenant, list, user_id);
    tray_repo::lock(&mut tx, tenant.gym_id, &[viewer, author]).await?;
    tray_repo::redo(&mut tx, tenant.gym_id, viewer, author).await?;
    tx.commit().await?;
    feed_cache::forget(ctx, tenant.gym_id, [viewer]).await;
    Ok(())
}

/// Whose feed a change to the caller's list changes, and which author's stories in it: the
/// caller's feed and the person's stories, when the caller follows or unfollows them; the
/// friend's feed and the caller's stories, for a close-friends change (or a follower's
/// removal).
fn whose_feed_changes<M>(tenant: &Tenant<M>, list: People, user_id: Uuid) -> (Uuid, Uuid) {
    match list {
        People::Following => (tenant.user_id, user_id),
        People::Followers | People::CloseFriends => (user_id, tenant.user_id),
    }
}

/// `owner`'s list, newest first; 404 when `owner` is not a member.
pub async fn list<M>(
    ctx: &AppContext,
    tenant: &Tenant<M>,
    list: People,
    owner: Uuid,
    page: &PageRequest,
) -> ApiResult<Page<PersonRow>> {
    require_member(ctx, tenant, owner).await?;
    let after = page.after()?;
    let mut tx = tenant.read(&ctx.db).await?;
    let rows = repo::people(
        &mut tx,
        list,
        tenant.gym_id,
        owner,
        after,
        page.fetch_limit(),
    )
    .await?;
    Ok(page.finish(rows, |row| (row.since, row.user_id)))
}
