//! The HTTP client side of a delivery attempt: one signed POST, through the address guard of
//! [`crate::targets`], and what came of it. Only the receiver's status is kept, never its
//! body. The rules around an attempt (when to retry, when to give up) are in
//! [`crate::service::attempts`].

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use kernel::config::Secret;
use reqwest::Url;
use uuid::Uuid;

use crate::repo::PendingDelivery;
use crate::settings::WebhookSettings;
use crate::signature;
use crate::targets::{self, GuardedResolver};

/// What came of one attempt.
pub enum Outcome {
    /// The receiver answered with this HTTP status.
    Answered(u16),
    /// Why no answer came, or why nothing was sent.
    NoAnswer(String),
}

impl Outcome {
    pub fn succeeded(&self) -> bool {
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

    pub fn settings(&self) -> &WebhookSettings {
        &self.settings
    }

    /// Sends `pending` once, signed with each of `secrets`; nothing goes to a disabled endpoint.
    /// An error only when the HTTP client could not start: the attempt is then not made, and
    /// the job is retried.
    pub async fn send(
        &self,
        delivery_id: Uuid,
        pending: &PendingDelivery,
        secrets: &[Secret<String>],
    ) -> anyhow::Result<Outcome> {
        let client = self
            .client
            .as_ref()
            .map_err(|err| anyhow::anyhow!("{err}"))?;
        if !pending.enabled {
            return Ok(Outcome::NoAnswer("the endpoint is disabled".into()));
        }
        Ok(self.post(client, delivery_id, pending, secrets).await)
    }

    async fn post(
        &self,
        client: &reqwest::Client,
        delivery_id: Uuid,
        pending: &PendingDelivery,
        secrets: &[Secret<String>],
    ) -> Outcome {
        let url = match Url::parse(&pending.url) {
            Ok(url) => url,
            Err(_) => return Outcome::NoAnswer("the endpoint URL is not valid".into()),
        };
        if let Err(reason) = targets::check_literal_host(&url, self.settings.allow_private_targets)
        {
            return Outcome::NoAnswer(format!("refused: the URL {reason}"));
        }
        let secrets = secrets.iter().map(|secret| secret.expose().as_str());
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
