//! Identity's background work.

use kernel::AppContext;
use kernel::jobs::{Job, JobHandler, Schedule};

use crate::service;

pub const PURGE_EXPIRED_TOKENS: &str = "identity.purge_expired_tokens";

pub fn purge_schedule() -> Schedule {
    Schedule {
        name: "identity.purge_expired_tokens.daily",
        every: std::time::Duration::from_secs(24 * 3600),
        kind: PURGE_EXPIRED_TOKENS,
        payload: serde_json::json!({}),
    }
}

/// Deletes refresh tokens a day after they expire ([`service::purge_expired_tokens`]).
pub struct PurgeExpiredTokens {
    pub ctx: AppContext,
}

#[async_trait::async_trait]
impl JobHandler for PurgeExpiredTokens {
    fn kind(&self) -> &'static str {
        PURGE_EXPIRED_TOKENS
    }

    async fn run(&self, _job: &Job) -> anyhow::Result<()> {
        let purged = service::purge_expired_tokens(&self.ctx).await?;
        tracing::info!(purged, "expired refresh tokens purged");
        Ok(())
    }
}
