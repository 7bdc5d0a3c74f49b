//! The end of a countdown or class countdown: one job per sticker, enqueued with its story to
//! run at the instant it counts down to, tells all its followers in one step. It marks the
//! sticker first (`notified_at`), so a rerun tells nobody twice, and a sticker gone with its
//! deleted story leaves the job nothing to do.

use kernel::events::{self, NotificationBatchRequest};
use kernel::jobs::{Job, JobHandler};
use kernel::{AppContext, db};
use uuid::Uuid;

use super::model::StickerKind;
use super::repo;

pub const COUNTDOWN_ENDED_JOB: &str = "stories.sticker_countdown_ended";

pub struct CountdownEnded {
    pub ctx: AppContext,
}

#[async_trait::async_trait]
impl JobHandler for CountdownEnded {
    fn kind(&self) -> &'static str {
        COUNTDOWN_ENDED_JOB
    }

    async fn run(&self, job: &Job) -> anyhow::Result<()> {
        let gym_id = job
            .gym_id
            .ok_or_else(|| anyhow::anyhow!("a countdown job names its tenant"))?;
        let sticker_id: Uuid = serde_json::from_value(job.payload["sticker_id"].clone())?;
        let told = tell_followers(&self.ctx, gym_id, sticker_id).await?;
        if told > 0 {
            tracing::info!(%sticker_id, told, "countdown followers told");
        }
        Ok(())
    }
}

/// Tells the countdown's followers it has ended, once; how many were told.
pub async fn tell_followers(
    ctx: &AppContext,
    gym_id: Uuid,
    sticker_id: Uuid,
) -> anyhow::Result<usize> {
    let mut tx = db::begin_tenant(&ctx.db, gym_id).await?;
    let Some(ended) = repo::mark_ended(&mut tx, gym_id, sticker_id).await? else {
        tx.commit().await?;
        return Ok(0);
    };
    let data = ended.data.0;
    let (kind, title, body) = match ended.kind {
        StickerKind::ClassCountdown => (
            "story.class_countdown",
            data.class_countdown
                .as_ref()
                .map(|class| class.title.clone())
                .unwrap_or_default(),
            "It starts now",
        ),
        _ => (
            "story.countdown",
            data.countdown
                .as_ref()
                .map(|countdown| countdown.title.clone())
                .unwrap_or_default(),
            "The countdown has ended",
        ),
    };
    let request = NotificationBatchRequest {
        gym_id,
        user_ids: ended.followers.clone(),
        kind: kind.to_string(),
        title,
        body: body.to_string(),
        data: serde_json::json!({
            "story_id": ended.story_id,
            "sticker_id": sticker_id,
            "ends_at": data.ends_at(),
        }),
    };
    events::request_notifications(&mut tx, &request).await?;
    tx.commit().await?;
    Ok(request.user_ids.len())
}
