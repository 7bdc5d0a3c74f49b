//! HTTP of Stripe Connect onboarding (trainer build only): the workspace's onboarding link and
//! account status.

use chrono::{DateTime, Utc};
use kernel::{ApiResult, AppContext, Tenant};
use poem_openapi::payload::Json;
use poem_openapi::{Object, OpenApi};

use super::PaymentsTags;
use crate::Payments;
use crate::service::connect as service;

/// A single-use link to Stripe's onboarding for the workspace's payout account. Send the
/// trainer's browser there right away; mint a new one for every visit.
#[derive(Debug, Object)]
pub struct ConnectOnboardingLink {
    /// Stripe's hosted onboarding page. Usable once.
    pub url: String,
    /// The link stops working at this time (minutes from now).
    pub expires_at: DateTime<Utc>,
}

/// Where the workspace's Stripe account stands. Clients' card payments reach the trainer once
/// `charges_enabled` is true; until then they are charged by the platform without a split.
#[derive(Debug, Object)]
pub struct ConnectAccountStatus {
    /// Stripe's id of the account (`acct_…`).
    pub account_id: String,
    /// Stripe accepts payments for this account.
    pub charges_enabled: bool,
    /// Stripe pays out to the trainer's bank account.
    pub payouts_enabled: bool,
    /// The trainer has gone through onboarding (Stripe may still need more).
    pub details_submitted: bool,
    /// What Stripe still needs before it enables (or keeps enabling) the account, as Stripe
    /// names it, e.g. `individual.dob.day`, `external_account`. Empty when nothing is due.
    pub requirements: Vec<String>,
    /// When Stripe reported this.
    pub checked_at: DateTime<Utc>,
    /// True when Stripe could not be asked just now: this is what it said last, at
    /// `checked_at`. Ask again later.
    pub stale: bool,
}

impl From<service::KnownStatus> for ConnectAccountStatus {
    fn from(known: service::KnownStatus) -> Self {
        Self {
            account_id: known.account.account_id,
            charges_enabled: known.account.charges_enabled,
            payouts_enabled: known.account.payouts_enabled,
            details_submitted: known.account.details_submitted,
            requirements: known.account.requirements,
            checked_at: known.checked_at,
            stale: known.stale,
        }
    }
}

pub struct ConnectApi {
    pub ctx: AppContext,
}

#[OpenApi(prefix_path = "/api/v1", tag = "PaymentsTags::Payments")]
impl ConnectApi {
    /// A fresh onboarding link to the workspace's Stripe account (owner)
    ///
    /// Creates the account first when the workspace has none yet. Each link works once and
    /// for a few minutes: call this each time the trainer starts or resumes onboarding (also
    /// from the page at `payments.connect.refresh_url`, where Stripe sends an expired link).
    /// Reaching the return page does not mean onboarding is done: read the status. API keys
    /// are refused (403 `api_key_not_allowed`): the link is for the trainer's browser. 409
    /// `connect_not_configured` when the deployment has no Stripe key; 503
    /// `provider_unavailable` when Stripe cannot be reached.
    #[oai(
        path = "/payments/connect/onboarding-link",
        method = "get",
        operation_id = "payments_connect_onboarding_link"
    )]
    async fn onboarding_link(
        &self,
        #[oai(name = "X-Gym-ID")] tenant: Tenant<Payments>,
    ) -> ApiResult<Json<ConnectOnboardingLink>> {
        let link = service::onboarding_link(&self.ctx, &tenant).await?;
        Ok(Json(ConnectOnboardingLink {
            url: link.url,
            expires_at: link.expires_at,
        }))
    }

    /// The workspace's Stripe account status (owners and admins)
    ///
    /// Asked from Stripe now and remembered; when Stripe cannot be reached, the last answer
    /// with `stale: true` (503 `provider_unavailable` when there is none yet). 409
    /// `connect_account_missing` before the account exists (the owner's onboarding link
    /// creates it), `connect_not_configured` when the deployment has no Stripe key either.
    #[oai(
        path = "/payments/connect/status",
        method = "get",
        operation_id = "payments_connect_status"
    )]
    async fn status(
        &self,
        #[oai(name = "X-Gym-ID")] tenant: Tenant<Payments>,
    ) -> ApiResult<Json<ConnectAccountStatus>> {
        Ok(Json(service::status(&self.ctx, &tenant).await?.into()))
    }
}
