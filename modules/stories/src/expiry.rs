//! The expiry job, every minute: marks the stories that have expired and publishes
//! `story.expired` for each, then releases the uploads of stories expired longer than
//! `[stories] media_grace_hours` ago and in no highlight (a highlighted story keeps its
//! uploads until it leaves its last highlight), so media's sweep deletes them. Reads never
//! wait for it (they compare `expires_at` with the clock), and several instances may run it at
//! once: each batch takes its rows with `for update skip locked`, so a story is marked and
//! released once. A marked story leaves the feed trays in the same transaction.

use std::time::Duration;

use kernel::attachments::Attachments;
use kernel::jobs::{Job, JobHandler, Schedule};
use kernel::{AppContext, db, events};
use uuid::Uuid;

use crate::settings::StoriesSettings;
use crate::{repo, tray_repo};

pub const EXPIRE: &str = "stories.expire";
/// The public event of every expired story.
pub const STORY_EXPIRED: &str = "story.expired";
/// Stories one transaction handles.
const BATCH: i64 = 500;

pub fn schedule() -> Schedule {
    Schedule {
        name: "stories.expire.every_minute",
        every: Duration::from_secs(60),
        kind: EXPIRE,
        payload: serde_json::json!({}),
    }
}

pub struct Expire {
    pub ctx: AppContext,
}

#[async_trait::async_trait]
impl JobHandler for Expire {
    fn kind(&self) -> &'static str {
        EXPIRE
    }

    async fn run(&self, _job: &Job) -> anyhow::Result<()> {
        let (expired, released) = expire_all(&self.ctx).await?;
        if expired + released > 0 {
            tracing::info!(expired, released, "stories expired");
        }
        Ok(())
    }
}

/// Every tenant's expired stories: how many were marked, and how many released their uploads.
pub async fn expire_all(ctx: &AppContext) -> anyhow::Result<(usize, usize)> {
    let grace_hours = i32::try_from(StoriesSettings::of(&ctx.settings).media_grace_hours)?;
    let attachments = ctx.attachments().map_err(|err| anyhow::anyhow!("{err}"))?;
    let (mut expired, mut released) = (0, 0);
    let mut tenants = ctx.every_tenant();
    while let Some(batch) = tenants
        .next_batch()
        .await
        .map_err(|err| anyhow::anyhow!("{err}"))?
    {
        for gym_id in batch {
            expired += mark(ctx, gym_id).await?;
            released += release(ctx, attachments, gym_id, grace_hours).await?;
        }
    }
    Ok((expired, released))
}

async fn mark(ctx: &AppContext, gym_id: Uuid) -> anyhow::Result<usize> {
    let mut marked = 0;
    loop {
        let mut tx = db::begin_tenant(&ctx.db, gym_id).await?;
        let rows = repo::mark_expired(&mut tx, gym_id, BATCH).await?;
        let ids: Vec<Uuid> = rows.iter().map(|row| row.id).collect();
        tray_repo::drop_stories(&mut tx, gym_id, &ids).await?;
        for row in &rows {
            events::record(
                &mut tx,
                Some(gym_id),
                STORY_EXPIRED,
                serde_json::json!({
                    "gym_id": gym_id,
                    "story_id": row.id,
                    "author_id": row.author_id,
                    "kind": row.kind,
                    "expires_at": row.expires_at,
                }),
            )
            .await?;
        }
        tx.commit().await?;
        marked += rows.len();
        if (rows.len() as i64) < BATCH {
            return Ok(marked);
        }
    }
}

async fn release(
    ctx: &AppContext,
    attachments: &dyn Attachments,
    gym_id: Uuid,
    grace_hours: i32,
) -> anyhow::Result<usize> {
    let mut released = 0;
    loop {
        let mut tx = db::begin_tenant(&ctx.db, gym_id).await?;
        let rows = repo::release_media(&mut tx, gym_id, grace_hours, BATCH).await?;
        for row in &rows {
            let holders = [
                (Some(row.media.media_id), format!("story:{}", row.id)),
                (
                    row.media.thumbnail_media_id,
                    format!("story-thumbnail:{}", row.id),
                ),
            ];
            for (media_id, holder) in holders {
                if let Some(media_id) = media_id {
                    attachments
                        .release(ctx, &mut tx, gym_id, media_id, &holder)
                        .await
                        .map_err(|err| anyhow::anyhow!("{err}"))?;
                }
            }
        }
        tx.commit().await?;
        released += rows.len();
        if (rows.len() as i64) < BATCH {
            return Ok(released);
        }
    }
}
