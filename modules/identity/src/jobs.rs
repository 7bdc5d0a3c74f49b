//! Identity's background work.

use kernel::jobs::{Job, JobHandler, Schedule};
use sqlx::PgPool;

use crate::repo;

pub const PURGE_EXPIRED_TOKENS: &str = "identity.purge_expired_tokens";

/// Deletes refresh tokens a day after they expire. Until then a replayed, rotated token is
/// still recognised (and revokes its family); after expiry it is refused either way.
pub struct PurgeExpiredTokens {
    pub pool: PgPool,
}

impl PurgeExpiredTokens {
    pub fn schedule() -> Schedule {
        Schedule {
            name: "identity.purge_expired_tokens.daily",
            every: std::time::Duration::from_secs(24 * 3600),
            kind: PURGE_EXPIRED_TOKENS,
            payload: serde_json::json!({}),
        }
    }
}

#[async_trait::async_trait]
impl JobHandler for PurgeExpiredTokens {
    fn kind(&self) -> &'static str {
        PURGE_EXPIRED_TOKENS
    }

    async fn run(&self, _job: &Job) -> anyhow::Result<()> {
        let purged = repo::purge_expired_tokens(&self.pool).await?;
        tracing::info!(purged, "expired refresh tokens purged");
        Ok(())
    }
}
