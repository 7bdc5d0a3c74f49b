//! Background work: turning domain events into deliveries, and sending them. The rules are in
//! [`crate::service`]; the send job's kind and payload are declared there too, with the
//! deliveries and retries that enqueue it.

use kernel::AppContext;
use kernel::jobs::{Job, JobHandler};
use serde::Deserialize;
use uuid::Uuid;

use crate::sender::Sender;
use crate::service::{attempts, deliveries, secrets};

pub const FAN_OUT: &str = "webhooks.fan_out";

/// Subscribed to every public event; events without a tenant have no endpoints.
pub struct FanOut {
    pub ctx: AppContext,
}

#[derive(Deserialize)]
struct Event {
    event_id: Uuid,
    event_type: String,
    gym_id: Option<Uuid>,
    data: serde_json::Value,
}

#[async_trait::async_trait]
impl JobHandler for FanOut {
    fn kind(&self) -> &'static str {
        FAN_OUT
    }

    async fn run(&self, job: &Job) -> anyhow::Result<()> {
        let event: Event = serde_json::from_value(job.payload.clone())?;
        let Some(gym_id) = event.gym_id else {
            return Ok(());
        };
        if !self.ctx.registry.is_public_event(&event.event_type) {
            return Ok(());
        }
        deliveries::fan_out(
            &self.ctx,
            gym_id,
            event.event_id,
            &event.event_type,
            &event.data,
        )
        .await?;
        Ok(())
    }
}

/// One attempt at one delivery ([`attempts::send_job`]).
pub struct Send {
    pub ctx: AppContext,
    pub sender: Sender,
}

#[async_trait::async_trait]
impl JobHandler for Send {
    fn kind(&self) -> &'static str {
        attempts::SEND
    }

    async fn run(&self, job: &Job) -> anyhow::Result<()> {
        let gym_id = job
            .gym_id
            .ok_or_else(|| anyhow::anyhow!("a webhook send job has no tenant"))?;
        let delivery_id: Uuid = serde_json::from_value(job.payload["delivery_id"].clone())?;
        attempts::attempt(&self.ctx, &self.sender, gym_id, delivery_id).await
    }
}

/// Seals readable endpoint secrets and re-seals old-key ones ([`secrets::seal_stored`]).
pub struct SealSecrets {
    pub ctx: AppContext,
}

#[async_trait::async_trait]
impl JobHandler for SealSecrets {
    fn kind(&self) -> &'static str {
        secrets::SEAL_SECRETS
    }

    async fn run(&self, _job: &Job) -> anyhow::Result<()> {
        let changed = secrets::seal_stored(&self.ctx).await?;
        if changed > 0 {
            tracing::info!(changed, "webhook endpoint secrets sealed");
        }
        Ok(())
    }
}
