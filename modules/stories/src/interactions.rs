//! Reactions and replies: one reaction per person and story (changeable), replies that only
//! the author reads, each telling the author through the notifications path (a kernel event
//! the notifications module turns into a notification). Neither is taken by an expired story
//! (410 `story_expired`).

use kernel::events::{self, NotificationRequest};
use kernel::pagination::{Page, PageRequest};
use kernel::{ApiError, ApiResult, AppContext, Tenant};
use poem::http::StatusCode;
use sqlx::PgConnection;
use uuid::Uuid;

use crate::errors;
use crate::interactions_repo::{self as repo, ReactionRow, ReplyRow, Target};
use crate::service;

/// Longest reaction, in characters (an emoji with its modifiers).
pub const MAX_EMOJI_CHARS: usize = 16;
/// Longest reply, in characters.
pub const MAX_REPLY_CHARS: usize = 1000;

/// The story the caller may react or reply to: 404 when it is not one they may see, 410 when
/// they could but it has expired.
async fn live_target<M>(
    conn: &mut PgConnection,
    tenant: &Tenant<M>,
    story_id: Uuid,
) -> ApiResult<Target> {
    let target = repo::target(conn, tenant.gym_id, story_id, tenant.user_id)
        .await?
        .ok_or_else(|| ApiError::not_found("no story with this id that you can see"))?;
    if !target.active {
        return Err(ApiError::new(
            StatusCode::GONE,
            errors::STORY_EXPIRED,
            "the story has expired: it takes no more reactions or replies",
        ));
    }
    Ok(target)
}

/// What the author is told: the notification's kind, what was done ("replied to"), its body
/// and data.
struct Note<'a> {
    kind: &'a str,
    action: &'a str,
    body: &'a str,
    data: serde_json::Value,
}

/// Tells the story's author what the caller did, unless the author did it.
async fn tell_author<M>(
    ctx: &AppContext,
    conn: &mut PgConnection,
    tenant: &Tenant<M>,
    target: &Target,
    note: Note<'_>,
) -> ApiResult<()> {
    if target.author_id == tenant.user_id {
        return Ok(());
    }
    let names = ctx.accounts.summaries(conn, &[tenant.user_id]).await?;
    let who = names
        .get(&tenant.user_id)
        .map(|summary| summary.display_name())
        .unwrap_or_else(|| "Someone".to_string());
    let request = NotificationRequest {
        gym_id: tenant.gym_id,
        user_id: target.author_id,
        kind: note.kind.to_string(),
        title: format!("{who} {} your story", note.action),
        body: note.body.to_string(),
        data: note.data,
    };
    events::request_notification(conn, &request).await?;
    Ok(())
}

/// Sets the caller's reaction; the author hears of a first reaction, not of each change.
pub async fn react<M>(
    ctx: &AppContext,
    tenant: &Tenant<M>,
    story_id: Uuid,
    emoji: &str,
) -> ApiResult<ReactionRow> {
    let emoji = emoji.trim();
    if emoji.is_empty()
        || emoji.chars().count() > MAX_EMOJI_CHARS
        || emoji.chars().any(char::is_whitespace)
    {
        return Err(ApiError::field(
            "emoji",
            format!("must be one emoji: 1 to {MAX_EMOJI_CHARS} characters, no spaces"),
        ));
    }
    let mut tx = tenant.begin(&ctx.db).await?;
    let target = live_target(&mut tx, tenant, story_id).await?;
    let row = repo::react(&mut tx, tenant.gym_id, story_id, tenant.user_id, emoji).await?;
    if row.new {
        let data =
            serde_json::json!({"story_id": story_id, "emoji": emoji, "user_id": tenant.user_id});
        tell_author(
            ctx,
            &mut tx,
            tenant,
            &target,
            Note {
                kind: "story.reaction",
                action: "reacted to",
                body: emoji,
                data,
            },
        )
        .await?;
    }
    tx.commit().await?;
    Ok(row)
}

/// Sends the author a reply to their story.
pub async fn reply<M>(
    ctx: &AppContext,
    tenant: &Tenant<M>,
    story_id: Uuid,
    message: &str,
) -> ApiResult<ReplyRow> {
    let mut errors = Vec::new();
    let message = kernel::error::trimmed_name("message", message, MAX_REPLY_CHARS, &mut errors);
    if !errors.is_empty() {
        return Err(ApiError::validation(errors));
    }
    let mut tx = tenant.begin(&ctx.db).await?;
    let target = live_target(&mut tx, tenant, story_id).await?;
    let row = repo::reply(&mut tx, tenant.gym_id, story_id, tenant.user_id, &message).await?;
    let data =
        serde_json::json!({"story_id": story_id, "reply_id": row.id, "user_id": tenant.user_id});
    tell_author(
        ctx,
        &mut tx,
        tenant,
        &target,
        Note {
            kind: "story.reply",
            action: "replied to",
            body: &message,
            data,
        },
    )
    .await?;
    tx.commit().await?;
    Ok(row)
}

/// The replies to the caller's story, newest first (its author only: others who can see the
/// story get 403, others 404).
pub async fn replies<M>(
    ctx: &AppContext,
    tenant: &Tenant<M>,
    story_id: Uuid,
    page: &PageRequest,
) -> ApiResult<Page<ReplyRow>> {
    service::own_story(ctx, tenant, story_id, "reads its replies").await?;
    let before = page.after()?;
    let mut tx = tenant.read(&ctx.db).await?;
    let rows = repo::replies(&mut tx, tenant.gym_id, story_id, before, page.fetch_limit()).await?;
    Ok(page.finish(rows, |row| row.id))
}
