//! `payments.create_connected_account`: a new trainer workspace's Stripe Express account,
//! made after the registration committed (the sign-up never waits on Stripe, nor fails with
//! it).

use kernel::jobs::{Job, JobHandler};
use kernel::{AppContext, Mode};
use poem::http::StatusCode;
use serde::Deserialize;
use uuid::Uuid;

use crate::service::connect::{self, ConnectError};

pub const CREATE_CONNECTED_ACCOUNT: &str = "payments.create_connected_account";

/// Subscribed to tenancy's `workspace_created`. Idempotent: a workspace with an account
/// already is left alone, and Stripe replays the first creation for the same key
/// (`connect-account:<gym_id>`). Stripe unreachable: the job fails and the queue retries it
/// with backoff. No platform key, or Stripe refusing: logged, and the job ends; the owner's
/// onboarding-link route creates the account once that is fixed.
pub struct CreateConnectedAccount {
    pub ctx: AppContext,
}

#[derive(Deserialize)]
struct Delivery {
    data: WorkspaceCreated,
}

#[derive(Deserialize)]
struct WorkspaceCreated {
    gym_id: Uuid,
    owner_user_id: Uuid,
}

#[async_trait::async_trait]
impl JobHandler for CreateConnectedAccount {
    fn kind(&self) -> &'static str {
        CREATE_CONNECTED_ACCOUNT
    }

    async fn run(&self, job: &Job) -> anyhow::Result<()> {
        // Workspaces are the trainer build's; a gym deployment pays gyms directly.
        if self.ctx.mode() != Mode::Trainer {
            return Ok(());
        }
        let Delivery { data } = serde_json::from_value(job.payload.clone())?;
        match self.ctx.tenants.tenant(&self.ctx, data.gym_id).await {
            Ok(_) => {}
            // Deleted before the job ran: no account to make.
            Err(err) if err.status() == StatusCode::NOT_FOUND => return Ok(()),
            Err(err) => return Err(err.into()),
        }
        let Some(stripe) = connect::platform(&self.ctx)? else {
            tracing::warn!(
                gym_id = %data.gym_id,
                "no connected account made: payments.providers.stripe.secret_key is not set \
                 (the owner's onboarding link makes it once a key is configured)"
            );
            return Ok(());
        };
        match connect::ensure_account(&self.ctx, &*stripe, data.gym_id, data.owner_user_id).await {
            Ok(_) => Ok(()),
            Err(ConnectError::Provider(err)) if !err.is_retryable() => {
                tracing::error!(
                    gym_id = %data.gym_id, error = %err,
                    "Stripe refused to create the connected account; the owner's onboarding \
                     link tries again"
                );
                Ok(())
            }
            Err(ConnectError::Provider(err)) => Err(err.into()),
            Err(ConnectError::Database(err)) => Err(err.into()),
        }
    }
}
