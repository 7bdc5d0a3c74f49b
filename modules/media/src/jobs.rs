//! Background work: thumbnails of new images, and the sweep of uploads never attached. The
//! handlers read their payload and run the rules of [`crate::service`].

use std::time::Duration;

use kernel::AppContext;
use kernel::jobs::{Job, JobHandler, Schedule};
use serde::Deserialize;
use uuid::Uuid;

use crate::service;
use crate::storage::Storage;

pub const THUMBNAIL: &str = "media.thumbnail";
pub const SWEEP: &str = "media.sweep_unattached";

pub fn sweep_schedule() -> Schedule {
    Schedule {
        name: "media.sweep_unattached.hourly",
        every: Duration::from_secs(3600),
        kind: SWEEP,
        payload: serde_json::json!({}),
    }
}

/// Makes the thumbnail of one image ([`service::make_thumbnail`]); enqueued with each image
/// upload.
pub struct Thumbnail {
    pub ctx: AppContext,
    pub storage: Storage,
}

#[derive(Deserialize)]
struct ThumbnailJob {
    gym_id: Uuid,
    media_id: Uuid,
}

#[async_trait::async_trait]
impl JobHandler for Thumbnail {
    fn kind(&self) -> &'static str {
        THUMBNAIL
    }

    async fn run(&self, job: &Job) -> anyhow::Result<()> {
        let ThumbnailJob { gym_id, media_id } = serde_json::from_value(job.payload.clone())?;
        service::make_thumbnail(&self.ctx, gym_id, &self.storage, media_id).await
    }
}

/// Deletes uploads never attached in time ([`service::sweep_unattached`]); hourly.
pub struct SweepUnattached {
    pub ctx: AppContext,
    pub storage: Storage,
}

#[async_trait::async_trait]
impl JobHandler for SweepUnattached {
    fn kind(&self) -> &'static str {
        SWEEP
    }

    async fn run(&self, _job: &Job) -> anyhow::Result<()> {
        let removed = service::sweep_unattached(&self.ctx, &self.storage).await?;
        if removed > 0 {
            tracing::info!(removed, "removed uploads never attached");
        }
        Ok(())
    }
}
