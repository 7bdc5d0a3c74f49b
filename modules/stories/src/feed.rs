//! The feed and views: the caller's own stories and those of the people they follow, grouped
//! by author (own first, then authors with unseen stories, most recent first, then the rest),
//! and the views that decide what is unseen.

use chrono::{DateTime, Utc};
use kernel::db::Lease;
use kernel::pagination::{Page, PageRequest};
use kernel::{ApiError, ApiResult, AppContext, Tenant};
use uuid::Uuid;

use crate::feed_cache;
use crate::feed_repo::{self, GroupKey, GroupRow, Viewed, ViewerRow};
use crate::repo::StoryRow;
use crate::service;
use crate::stickers::{self, StickersByStory};
use crate::tray_repo;
use crate::view_batch::ViewBatcher;

/// One author's active stories in the caller's feed, oldest first.
pub struct FeedGroup {
    pub author_id: Uuid,
    pub unseen: bool,
    pub latest: DateTime<Utc>,
    pub stories: Vec<StoryRow>,
}

/// A page of the caller's feed, by author group, and the stickers of its stories (read in the
/// same transaction). The first page's order may come from [`feed_cache`]; the stories are
/// always read afresh.
pub async fn feed<M>(
    ctx: &AppContext,
    tenant: &Tenant<M>,
    page: &PageRequest,
) -> ApiResult<(Page<FeedGroup>, StickersByStory)> {
    let after: Option<GroupKey> = page.after()?;
    let (gym_id, viewer) = (tenant.gym_id, tenant.user_id);
    let cached = match after {
        None => feed_cache::order(ctx, gym_id, viewer).await,
        Some(_) => None,
    };
    let mut tx = tenant.read(&ctx.db).await?;
    let groups = match cached {
        Some(order) => head(order, page.fetch_limit()),
        None => {
            // The first page's order is read whole (up to the largest page) to be cached.
            let limit = match after {
                None => feed_cache::CACHED_GROUPS,
                Some(_) => page.fetch_limit(),
            };
            let order = match feed_repo::groups(&mut tx, gym_id, viewer, after, limit).await? {
                Some(order) => order,
                None => {
                    // The caller's first feed read: their tray is built first, with the read's
                    // connection given back (a read holding one while the build waits for
                    // another could starve the pool).
                    drop(tx);
                    build_tray(ctx, tenant).await?;
                    tx = tenant.read(&ctx.db).await?;
                    feed_repo::groups(&mut tx, gym_id, viewer, after, limit)
                        .await?
                        .unwrap_or_default()
                }
            };
            match after {
                None => head(
                    feed_cache::keep(ctx, gym_id, viewer, order).await,
                    page.fetch_limit(),
                ),
                Some(_) => order,
            }
        }
    };
    let groups = page.finish(groups, |group| group.key());
    let authors: Vec<Uuid> = groups.items.iter().map(|group| group.author_id).collect();
    let stories = feed_repo::stories_of(&mut tx, gym_id, viewer, &authors).await?;
    let story_ids: Vec<Uuid> = stories.iter().map(|story| story.id).collect();
    let stickers = stickers::read(&mut tx, gym_id, viewer, &story_ids).await?;
    let mut by_author = std::collections::HashMap::<Uuid, Vec<StoryRow>>::new();
    for story in stories {
        by_author.entry(story.author_id).or_default().push(story);
    }
    // A story deleted, expired or hidden since the order was made can leave a group empty: it
    // is dropped. Whether a group is unseen is told by its stories as they are now.
    let next_cursor = groups.next_cursor;
    let items = groups
        .items
        .into_iter()
        .filter_map(|group| {
            let stories = by_author.remove(&group.author_id)?;
            Some(FeedGroup {
                author_id: group.author_id,
                unseen: stories.iter().any(|story| !story.seen),
                latest: group.latest,
                stories,
            })
        })
        .collect();
    Ok((Page { items, next_cursor }, stickers))
}

/// Builds the caller's tray ([`tray_repo::build`]), unless another request just did.
async fn build_tray<M>(ctx: &AppContext, tenant: &Tenant<M>) -> ApiResult<()> {
    let mut tx = tenant.begin(&ctx.db).await?;
    tray_repo::lock_for_build(&mut tx, tenant.gym_id, tenant.user_id).await?;
    tray_repo::build(&mut tx, tenant.gym_id, tenant.user_id).await?;
    tx.commit().await?;
    Ok(())
}

/// The first `rows` groups of a feed's order.
fn head(mut order: Vec<GroupRow>, rows: i64) -> Vec<GroupRow> {
    order.truncate(usize::try_from(rows).unwrap_or(0));
    order
}

/// Records the caller's view of a story they may see (404 otherwise); a repeat keeps the
/// first view's time.
pub async fn view<M>(ctx: &AppContext, tenant: &Tenant<M>, story_id: Uuid) -> ApiResult<()> {
    let (gym_id, viewer) = (tenant.gym_id, tenant.user_id);
    // A view under an `Idempotency-Key` lease is fenced by it, in its own task's transaction.
    let viewed = if Lease::current().is_some() {
        feed_repo::view(&ctx.db, gym_id, story_id, viewer).await?
    } else {
        ViewBatcher::view(ctx, gym_id, story_id, viewer).await?
    };
    if viewed == Viewed::NotVisible {
        return Err(ApiError::not_found(
            "no story with this id that you can see",
        ));
    }
    if viewed == Viewed::First {
        feed_cache::forget(ctx, tenant.gym_id, [tenant.user_id]).await;
    }
    Ok(())
}

/// Who viewed the caller's story, newest first: its author only (others who can see it get
/// 403, others 404).
pub async fn viewers<M>(
    ctx: &AppContext,
    tenant: &Tenant<M>,
    story_id: Uuid,
    page: &PageRequest,
) -> ApiResult<Page<ViewerRow>> {
    let story = service::own_story(ctx, tenant, story_id, "sees who viewed it").await?;
    let after = page.after()?;
    let mut tx = tenant.read(&ctx.db).await?;
    let rows =
        feed_repo::viewers(&mut tx, tenant.gym_id, &story, after, page.fetch_limit()).await?;
    Ok(page.finish(rows, |row| (row.viewed_at, row.viewer_id)))
}
