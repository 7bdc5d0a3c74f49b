//! Background work: the default products of a new tenant, the end of lapsed memberships,
//! provider webhooks stored in the inbox, the reconciliation of stale pending payments, and a
//! trainer workspace's Stripe Connect account ([`connect`]).

pub mod connect;

use std::time::Duration;

use kernel::AppContext;
use kernel::jobs::{Job, JobHandler, Schedule};
use serde::Deserialize;
use uuid::Uuid;

use crate::service::{inbox, products, reconcile, renewals, subscriptions};

pub const SEED_DEFAULT_PRODUCTS: &str = "payments.seed_default_products";
pub const END_LAPSED: &str = "payments.end_lapsed_subscriptions";
pub const RECONCILE: &str = "payments.reconcile";

/// Gives a new gym or workspace its default credit packages; subscribed to tenancy's
/// `gym_created` and `workspace_created`. Idempotent, so a retried job adds nothing.
pub struct SeedDefaultProducts {
    pub ctx: AppContext,
}

#[derive(Deserialize)]
struct Delivery {
    data: Created,
}

#[derive(Deserialize)]
struct Created {
    gym_id: Uuid,
}

#[async_trait::async_trait]
impl JobHandler for SeedDefaultProducts {
    fn kind(&self) -> &'static str {
        SEED_DEFAULT_PRODUCTS
    }

    async fn run(&self, job: &Job) -> anyhow::Result<()> {
        let Delivery { data } = serde_json::from_value(job.payload.clone())?;
        products::seed_defaults(&self.ctx, data.gym_id).await?;
        Ok(())
    }
}

pub fn end_lapsed_schedule() -> Schedule {
    Schedule {
        name: "payments.end_lapsed_subscriptions.hourly",
        every: Duration::from_secs(3600),
        kind: END_LAPSED,
        payload: serde_json::json!({}),
    }
}

/// Ends memberships whose grace or paid period is over ([`subscriptions::end_lapsed`]);
/// hourly.
pub struct EndLapsed {
    pub ctx: AppContext,
}

#[async_trait::async_trait]
impl JobHandler for EndLapsed {
    fn kind(&self) -> &'static str {
        END_LAPSED
    }

    async fn run(&self, _job: &Job) -> anyhow::Result<()> {
        let ended = subscriptions::end_lapsed(&self.ctx).await?;
        if ended > 0 {
            tracing::info!(ended, "ended lapsed memberships");
        }
        Ok(())
    }
}

/// Handles one stored provider webhook event ([`inbox::process`]); enqueued by the webhook
/// routes for each new event.
pub struct ProviderEvent {
    pub ctx: AppContext,
}

#[derive(Deserialize)]
struct StoredEvent {
    event_id: Uuid,
}

#[async_trait::async_trait]
impl JobHandler for ProviderEvent {
    fn kind(&self) -> &'static str {
        inbox::PROVIDER_EVENT
    }

    async fn run(&self, job: &Job) -> anyhow::Result<()> {
        let StoredEvent { event_id } = serde_json::from_value(job.payload.clone())?;
        inbox::process(&self.ctx, event_id).await
    }
}

/// Tells the provider that a membership cancelled through our API renews no more
/// ([`renewals::cancel_at_provider`]); enqueued with the cancellation.
pub struct CancelAtProvider {
    pub ctx: AppContext,
}

#[derive(Deserialize)]
struct Cancelled {
    gym_id: Uuid,
    subscription_id: Uuid,
}

#[async_trait::async_trait]
impl JobHandler for CancelAtProvider {
    fn kind(&self) -> &'static str {
        subscriptions::CANCEL_AT_PROVIDER
    }

    async fn run(&self, job: &Job) -> anyhow::Result<()> {
        let Cancelled {
            gym_id,
            subscription_id,
        } = serde_json::from_value(job.payload.clone())?;
        renewals::cancel_at_provider(&self.ctx, gym_id, subscription_id).await
    }
}

pub fn reconcile_schedule() -> Schedule {
    Schedule {
        name: "payments.reconcile.every_5_minutes",
        every: Duration::from_secs(300),
        kind: RECONCILE,
        payload: serde_json::json!({}),
    }
}

/// Asks the providers about payments pending for longer than `[payments]
/// reconcile_after_minutes` ([`reconcile::run`]); every five minutes.
pub struct Reconcile {
    pub ctx: AppContext,
}

#[async_trait::async_trait]
impl JobHandler for Reconcile {
    fn kind(&self) -> &'static str {
        RECONCILE
    }

    async fn run(&self, _job: &Job) -> anyhow::Result<()> {
        let moved = reconcile::run(&self.ctx).await?;
        if moved > 0 {
            tracing::info!(moved, "reconciled pending provider payments");
        }
        Ok(())
    }
}
