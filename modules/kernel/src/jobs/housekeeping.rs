//! The queue's own upkeep: finished jobs and delivered events are kept for a while for
//! inspection, then deleted so the tables stay small.

use sqlx::PgPool;

use super::{Job, JobHandler, Schedule};

pub const KIND: &str = "jobs.housekeeping";

/// Succeeded jobs kept for 7 days, delivered events for 30, idempotency keys for their 24
/// hours; failed jobs stay until retried or deleted by hand.
pub struct Housekeeping {
    pub pool: PgPool,
}

impl Housekeeping {
    pub fn schedule() -> Schedule {
        Schedule {
            name: "jobs.housekeeping.hourly",
            every: std::time::Duration::from_secs(3600),
            kind: KIND,
            payload: serde_json::json!({}),
        }
    }
}

#[async_trait::async_trait]
impl JobHandler for Housekeeping {
    fn kind(&self) -> &'static str {
        KIND
    }

    async fn run(&self, _job: &Job) -> anyhow::Result<()> {
        let jobs = sqlx::query("delete from jobs where status = 'succeeded' and finished_at < now() - interval '7 days'")
            .execute(&self.pool)
            .await?
            .rows_affected();
        let events = sqlx::query(
            "delete from domain_events where delivered_at is not null and delivered_at < now() - interval '30 days'",
        )
        .execute(&self.pool)
        .await?
        .rows_affected();
        let idempotency_keys = sqlx::query(
            "delete from idempotency_keys where created_at < now() - interval '24 hours'",
        )
        .execute(&self.pool)
        .await?
        .rows_affected();
        tracing::info!(
            jobs,
            events,
            idempotency_keys,
            "housekeeping removed old rows"
        );
        Ok(())
    }
}
