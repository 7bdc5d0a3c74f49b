//! Sending: each `webhooks.send` job makes one attempt at a pending delivery and records its
//! outcome. Failures (no answer, or an answer other than 2xx) schedule the next attempt by
//! `webhooks.retry_schedule_seconds` until `retry_window_seconds` after the delivery was made;
//! then the delivery is `failed` and can be replayed by hand.

use chrono::{DateTime, Utc};
use kernel::jobs::{self, NewJob};
use kernel::{AppContext, db};
use uuid::Uuid;

use crate::repo::{self, AttemptRecord, PendingDelivery};
use crate::sender::{Outcome, Sender};
use crate::settings::WebhookSettings;

/// The job kind of one attempt; every delivery is made with one, and each failed attempt that
/// is retried schedules the next.
pub const SEND: &str = "webhooks.send";

/// The job that attempts the delivery, at once or at `run_at`.
pub fn send_job(gym_id: Uuid, delivery_id: Uuid, run_at: Option<DateTime<Utc>>) -> NewJob {
    let job =
        NewJob::new(SEND, serde_json::json!({ "delivery_id": delivery_id })).for_tenant(gym_id);
    match run_at {
        Some(at) => job.run_at(at),
        None => job,
    }
}

/// Runs one attempt of a pending delivery. Deliveries already settled (or whose endpoint was
/// deleted) are left alone, so a repeated job sends nothing twice.
pub async fn attempt(
    ctx: &AppContext,
    sender: &Sender,
    gym_id: Uuid,
    delivery_id: Uuid,
) -> anyhow::Result<()> {
    let mut tx = db::begin_tenant(&ctx.db, gym_id).await?;
    let pending = repo::find_pending(&mut tx, gym_id, delivery_id).await?;
    tx.commit().await?;
    let Some(pending) = pending.filter(|p| p.status == "pending") else {
        return Ok(());
    };
    let secrets = super::secrets::signing_secrets(&ctx.secrets, gym_id, &pending)?;
    let outcome = sender.send(delivery_id, &pending, &secrets).await?;
    record(
        ctx,
        sender.settings(),
        gym_id,
        delivery_id,
        &pending,
        outcome,
    )
    .await
}

async fn record(
    ctx: &AppContext,
    settings: &WebhookSettings,
    gym_id: Uuid,
    delivery_id: Uuid,
    pending: &PendingDelivery,
    outcome: Outcome,
) -> anyhow::Result<()> {
    let attempts = pending.attempts + 1;
    let window_ends = pending.created_at
        + chrono::Duration::seconds(
            i64::try_from(settings.retry_window_seconds).unwrap_or(i64::MAX / 2),
        );
    let (status, next_attempt_at) = if outcome.succeeded() {
        ("succeeded", None)
    } else {
        let next = Utc::now() + chrono::Duration::from_std(settings.retry_delay(attempts))?;
        if next <= window_ends {
            ("pending", Some(next))
        } else {
            ("failed", None)
        }
    };
    let (status_code, error) = match outcome {
        Outcome::Answered(code) if (200..300).contains(&code) => (Some(i32::from(code)), None),
        Outcome::Answered(code) => (Some(i32::from(code)), Some(format!("answered HTTP {code}"))),
        Outcome::NoAnswer(reason) => (None, Some(reason)),
    };
    let mut tx = db::begin_tenant(&ctx.db, gym_id).await?;
    let recorded = repo::record_attempt(
        &mut tx,
        gym_id,
        delivery_id,
        &AttemptRecord {
            attempts,
            status,
            status_code,
            error: error.as_deref(),
            next_attempt_at,
        },
    )
    .await?;
    // Only the run that recorded this attempt schedules the next one.
    if recorded && let Some(at) = next_attempt_at {
        jobs::enqueue(&mut tx, send_job(gym_id, delivery_id, Some(at))).await?;
    }
    tx.commit().await?;
    tracing::info!(%delivery_id, attempts, status, ?status_code, "webhook delivery attempt");
    Ok(())
}
