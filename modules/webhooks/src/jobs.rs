//! Background work: turning domain events into deliveries, and sending them.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use kernel::AppContext;
use kernel::jobs::{Job, JobHandler, NewJob};
use serde::Deserialize;
use uuid::Uuid;

use crate::deliveries;
use crate::sender::Sender;

pub const FAN_OUT: &str = "webhooks.fan_out";
pub const SEND: &str = "webhooks.send";

pub fn send_job(gym_id: Uuid, delivery_id: Uuid, run_at: Option<DateTime<Utc>>) -> NewJob {
    let job =
        NewJob::new(SEND, serde_json::json!({ "delivery_id": delivery_id })).for_tenant(gym_id);
    match run_at {
        Some(at) => job.run_at(at),
        None => job,
    }
}

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

pub struct Send {
    pub ctx: AppContext,
    pub sender: Arc<Sender>,
}

#[async_trait::async_trait]
impl JobHandler for Send {
    fn kind(&self) -> &'static str {
        SEND
    }

    async fn run(&self, job: &Job) -> anyhow::Result<()> {
        let gym_id = job
            .gym_id
            .ok_or_else(|| anyhow::anyhow!("a webhook send job has no tenant"))?;
        let delivery_id: Uuid = serde_json::from_value(job.payload["delivery_id"].clone())?;
        self.sender.attempt(&self.ctx, gym_id, delivery_id).await
    }
}
