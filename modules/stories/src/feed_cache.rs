//! The order of each person's feed, cached: the first page's author groups (up to the largest
//! page, so one entry serves every `limit`), kept in the kernel cache for
//! `[stories] feed_cache_seconds`.
//!
//! Only the order is cached. The stories themselves are read afresh for every request
//! ([`crate::feed_repo::stories_of`]), through the visibility rule and the clock, so a cached
//! order never shows a deleted, expired or no-longer-visible story; an author left with
//! nothing to show drops out of the page. Computing the order is what costs (every followed
//! author's active stories, their visibility and the caller's views); reading one page of
//! stories is cheap.
//!
//! What changes the order forgets the entries it affects, so it shows on the next read: a new
//! or deleted story (its author's and their followers' feeds), a follow or unfollow (the
//! follower's), a close-friends change (the friend's), and a first view (the viewer's, whose
//! unseen authors come first).

use std::time::Duration;

use kernel::AppContext;
use kernel::pagination::MAX_LIMIT;
use sqlx::PgConnection;
use uuid::Uuid;

use crate::feed_repo::{self, GroupRow};
use crate::settings::StoriesSettings;

/// Groups an entry holds: the largest page and one more, so a page of any size knows whether
/// another follows.
pub const CACHED_GROUPS: i64 = MAX_LIMIT as i64 + 1;

fn key(gym_id: Uuid, viewer: Uuid) -> String {
    format!("stories:feed:{gym_id}:{viewer}")
}

fn ttl(ctx: &AppContext) -> Option<Duration> {
    let seconds = StoriesSettings::of(&ctx.settings).feed_cache_seconds;
    (seconds > 0).then(|| Duration::from_secs(u64::from(seconds)))
}

/// The cached order of `viewer`'s feed, if any.
pub async fn order(ctx: &AppContext, gym_id: Uuid, viewer: Uuid) -> Option<Vec<GroupRow>> {
    ttl(ctx)?;
    ctx.cache.get(&key(gym_id, viewer)).await
}

/// Keeps the order of `viewer`'s feed's first page, and hands it back.
pub async fn keep(
    ctx: &AppContext,
    gym_id: Uuid,
    viewer: Uuid,
    order: Vec<GroupRow>,
) -> Vec<GroupRow> {
    if let Some(ttl) = ttl(ctx) {
        ctx.cache.set(&key(gym_id, viewer), &order, ttl).await;
    }
    order
}

/// Whose feed order a story by `author` is part of: the author's and their followers'. Read
/// in the transaction that adds or removes the story, forgotten once it commits.
pub async fn audience(
    ctx: &AppContext,
    conn: &mut PgConnection,
    gym_id: Uuid,
    author: Uuid,
) -> Result<Vec<Uuid>, sqlx::Error> {
    if ttl(ctx).is_none() {
        return Ok(Vec::new());
    }
    let mut people = feed_repo::followers_of(conn, gym_id, author).await?;
    people.push(author);
    Ok(people)
}

/// Forgets the cached order of these people's feeds.
pub async fn forget(ctx: &AppContext, gym_id: Uuid, viewers: impl IntoIterator<Item = Uuid>) {
    if ttl(ctx).is_none() {
        return;
    }
    let keys: Vec<String> = viewers
        .into_iter()
        .map(|viewer| key(gym_id, viewer))
        .collect();
    if !keys.is_empty() {
        ctx.cache.delete(&keys).await;
    }
}
