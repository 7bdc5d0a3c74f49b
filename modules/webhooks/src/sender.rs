//! Sends one delivery attempt and records its outcome. Failures (no answer, or an answer
//! other than 2xx) schedule the next attempt by `webhooks.retry_schedule_seconds` until
//! `retry_window_seconds` after the delivery was made; then the delivery is `failed` and can
//! be replayed by hand.

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use kernel::{AppContext, db, jobs};
use reqwest::Url;
use uuid::Uuid;

use crate::repo::{self, AttemptRecord, PendingDelivery};
use crate::settings::WebhookSettings;
use crate::targets::{self, GuardedResolver};
use crate::{jobs as webhook_jobs, signature};

enum Outcome {
    Answered(u16),
    NoAnswer(String),
}

impl Outcome {
    fn succeeded(&self) -> bool {
        matches!(self, Outcome::Answered(status) if (200..300).contains(status))
    }
}

pub struct Sender {
    /// An error only if the TLS backend could not start; attempts then fail (and are retried)
    /// rather than go out without the address guard.
    client: Result<reqwest::Client, String>,
    settings: WebhookSettings,
}

impl Sender {
    pub fn new(settings: WebhookSettings) -> Self {
        let client = reqwest::Client::builder()
            // A redirect could point anywhere, including inside our network: not followed.
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(settings.timeout_seconds))
            .connect_timeout(Duration::from_secs(settings.timeout_seconds.min(5)))
            .dns_resolver(Arc::new(GuardedResolver {
                allow_private: settings.allow_private_targets,
            }))
            .user_agent("GymAPI-Webhooks/1")
            .build()
            .map_err(|err| {
                tracing::error!(error = %err, "cannot build the webhook HTTP client");
                err.to_string()
            });
        Self { client, settings }
    }

    /// Runs one attempt of a pending delivery. Deliveries already settled (or whose endpoint
    /// was deleted) are left alone, so a repeated job sends nothing twice.
    pub async fn attempt(
        &self,
        ctx: &AppContext,
        gym_id: Uuid,
        delivery_id: Uuid,
    ) -> anyhow::Result<()> {
        let mut tx = db::begin_tenant(&ctx.db, gym_id).await?;
        let pending = repo::find_pending(&mut tx, gym_id, delivery_id).await?;
        tx.commit().await?;
        let Some(pending) = pending.filter(|p| p.status == "pending") else {
            return Ok(());
        };
        let client = self
            .client
            .as_ref()
            .map_err(|err| anyhow::anyhow!("{err}"))?;
        let outcome = if pending.enabled {
            self.post(client, delivery_id, &pending).await
        } else {
            Outcome::NoAnswer("the endpoint is disabled".into())
        };
        self.record(ctx, gym_id, delivery_id, &pending, outcome)
            .await
    }

    async fn post(
        &self,
        client: &reqwest::Client,
        delivery_id: Uuid,
        pending: &PendingDelivery,
    ) -> Outcome {
        let url = match Url::parse(&pending.url) {
            Ok(url) => url,
            Err(_) => return Outcome::NoAnswer("the endpoint URL is not valid".into()),
        };
        if let Err(reason) = targets::check_literal_host(&url, self.settings.allow_private_targets)
        {
            return Outcome::NoAnswer(format!("refused: the URL {reason}"));
        }
        let secrets =
            std::iter::once(pending.secret.as_str()).chain(pending.previous_secret.as_deref());
        let signature =
            signature::header_value(secrets, Utc::now().timestamp(), pending.body.as_bytes());
        let sent = client
            .post(url)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header(signature::HEADER, signature)
            .header("X-GymAPI-Event", &pending.event_type)
            .header("X-GymAPI-Delivery", delivery_id.to_string())
            .body(pending.body.clone())
            .send()
            .await;
        // Only the status is kept: the receiver's body is never read back or shown.
        match sent {
            Ok(response) => Outcome::Answered(response.status().as_u16()),
            Err(err) => Outcome::NoAnswer(describe(&err, self.settings.timeout_seconds)),
        }
    }

    async fn record(
        &self,
        ctx: &AppContext,
        gym_id: Uuid,
        delivery_id: Uuid,
        pending: &PendingDelivery,
        outcome: Outcome,
    ) -> anyhow::Result<()> {
        let attempts = pending.attempts + 1;
        let window_ends = pending.created_at
            + chrono::Duration::seconds(
                i64::try_from(self.settings.retry_window_seconds).unwrap_or(i64::MAX / 2),
            );
        let (status, next_attempt_at) = if outcome.succeeded() {
            ("succeeded", None)
        } else {
            let next =
                Utc::now() + chrono::Duration::from_std(self.settings.retry_delay(attempts))?;
            if next <= window_ends {
                ("pending", Some(next))
            } else {
                ("failed", None)
            }
        };
        let (status_code, error) = match outcome {
            Outcome::Answered(code) if (200..300).contains(&code) => (Some(i32::from(code)), None),
            Outcome::Answered(code) => {
                (Some(i32::from(code)), Some(format!("answered HTTP {code}")))
            }
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
        if recorded && let Some(at) = next_attempt_at {
            jobs::enqueue(
                &mut tx,
                webhook_jobs::send_job(gym_id, delivery_id, Some(at)),
            )
            .await?;
        }
        tx.commit().await?;
        tracing::info!(%delivery_id, attempts, status, ?status_code, "webhook delivery attempt");
        Ok(())
    }
}

/// Why no answer came, without the URL or anything the receiver sent.
fn describe(err: &reqwest::Error, timeout_seconds: u64) -> String {
    if err.is_timeout() {
        format!("no answer within {timeout_seconds} s")
    } else if err.is_connect() {
        let mut cause = std::error::Error::source(err);
        let mut deepest = String::from("could not connect");
        while let Some(inner) = cause {
            deepest = format!("could not connect: {inner}");
            cause = inner.source();
        }
        deepest.chars().take(300).collect()
    } else {
        "the request failed".into()
    }
}
