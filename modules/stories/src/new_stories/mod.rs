//! Followers hear of new stories in batches: at most one "new stories from ..." notification
//! per author and follower in each `[stories] new_story_batch_minutes` window, whatever the
//! author posts meanwhile.
//!
//! Each `story.created` event reaches [`OpenBatch`], which opens the author's batch unless
//! one is open (a row per author, so concurrent posts and redelivered events open one) and
//! then enqueues the one [`Announce`] job due when the window ends. That job closes the batch
//! and asks, in one statement, which followers may see at least one story posted since the
//! previous batch: each story's own privacy and `hidden_from` decide (a close-friends story
//! reaches followers on the list, a private one nobody). It tells them all with one
//! `notifications_requested` event, which the notifications module writes in one statement.

mod repo;

use kernel::events::{self, NotificationBatchRequest};
use kernel::jobs::{self, Job, JobHandler, NewJob};
use kernel::{AppContext, db};
use serde::Deserialize;
use uuid::Uuid;

use crate::settings::StoriesSettings;

/// The job that opens an author's batch, one per `story.created` event.
pub const OPEN_BATCH: &str = "stories.open_new_story_batch";
/// The job that closes the batch and tells the followers, one per batch.
pub const ANNOUNCE: &str = "stories.announce_new_stories";
/// The notification kind followers get.
pub const NEW_STORIES_KIND: &str = "story.new_stories";

#[derive(Deserialize)]
struct Delivery {
    data: Created,
}

#[derive(Deserialize)]
struct Created {
    gym_id: Uuid,
    author_id: Uuid,
}

pub struct OpenBatch {
    pub ctx: AppContext,
}

#[async_trait::async_trait]
impl JobHandler for OpenBatch {
    fn kind(&self) -> &'static str {
        OPEN_BATCH
    }

    async fn run(&self, job: &Job) -> anyhow::Result<()> {
        let created = serde_json::from_value::<Delivery>(job.payload.clone())?.data;
        let minutes =
            i32::try_from(StoriesSettings::of(&self.ctx.settings).new_story_batch_minutes)?;
        let mut tx = db::begin_tenant(&self.ctx.db, created.gym_id).await?;
        if let Some(due) = repo::open(&mut tx, created.gym_id, created.author_id, minutes).await? {
            let announce = NewJob::new(
                ANNOUNCE,
                serde_json::json!({"author_id": created.author_id}),
            )
            .for_tenant(created.gym_id)
            .run_at(due);
            jobs::enqueue(&mut tx, announce).await?;
        }
        tx.commit().await?;
        Ok(())
    }
}

#[derive(Deserialize)]
struct AnnouncePayload {
    author_id: Uuid,
}

pub struct Announce {
    pub ctx: AppContext,
}

#[async_trait::async_trait]
impl JobHandler for Announce {
    fn kind(&self) -> &'static str {
        ANNOUNCE
    }

    async fn run(&self, job: &Job) -> anyhow::Result<()> {
        let gym_id = job
            .gym_id
            .ok_or_else(|| anyhow::anyhow!("{ANNOUNCE} runs for a tenant"))?;
        let author = serde_json::from_value::<AnnouncePayload>(job.payload.clone())?.author_id;
        let mut tx = db::begin_tenant(&self.ctx.db, gym_id).await?;
        // A rerun finds the batch closed and does nothing.
        let Some(since) = repo::close(&mut tx, gym_id, author).await? else {
            return Ok(());
        };
        let followers = repo::audience(&mut tx, gym_id, author, since).await?;
        if !followers.is_empty() {
            let names = self
                .ctx
                .accounts
                .summaries(&mut tx, &[author])
                .await
                .map_err(|err| anyhow::anyhow!("{err}"))?;
            let who = names
                .get(&author)
                .map(|summary| summary.display_name())
                .unwrap_or_else(|| "Someone you follow".to_string());
            let request = NotificationBatchRequest {
                gym_id,
                user_ids: followers,
                kind: NEW_STORIES_KIND.to_string(),
                title: format!("New stories from {who}"),
                body: format!("{who} posted new stories."),
                data: serde_json::json!({"author_id": author}),
            };
            events::request_notifications(&mut tx, &request).await?;
        }
        tx.commit().await?;
        Ok(())
    }
}
