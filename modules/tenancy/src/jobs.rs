//! Tenancy's reactions to other modules' events.

use kernel::AppContext;
use kernel::jobs::{Job, JobHandler};
use serde::Deserialize;
use uuid::Uuid;

use crate::service::members;

pub const REFRESH_PERSON: &str = "tenancy.refresh_person";

/// Keeps the member directory in step when someone changes their names (identity's
/// `user_profile_changed`).
pub struct RefreshPerson {
    pub ctx: AppContext,
}

#[derive(Deserialize)]
struct Delivery {
    data: Changed,
}

#[derive(Deserialize)]
struct Changed {
    user_id: Uuid,
}

#[async_trait::async_trait]
impl JobHandler for RefreshPerson {
    fn kind(&self) -> &'static str {
        REFRESH_PERSON
    }

    async fn run(&self, job: &Job) -> anyhow::Result<()> {
        let delivery: Delivery = serde_json::from_value(job.payload.clone())?;
        // Reads the names afresh rather than from the event: a late or repeated delivery
        // cannot write an older name over a newer one.
        members::refresh_person(&self.ctx, delivery.data.user_id).await?;
        Ok(())
    }
}
