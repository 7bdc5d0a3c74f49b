//! Stripe Connect for the trainer build: each trainer workspace gets an Express account of the
//! platform (made with the deployment's Stripe key, never a tenant's), is onboarded through
//! single-use links, and its clients' checkouts become destination charges that settle on it
//! minus the platform's application fee.
//!
//! - The account is created by the `payments.create_connected_account` job on
//!   `workspace_created`, outside the registration transaction, or on demand by the owner's
//!   onboarding-link route: both through [`ensure_account`], with the idempotency key
//!   `connect-account:<gym_id>`, so Stripe makes one account whoever asks first.
//! - Its status (charges and payouts enabled, details submitted, requirements) is read from
//!   Stripe and stored: by the status route, and by [`account_updated`] when Stripe says it
//!   changed.
//! - [`destination`] tells a checkout where the money goes.

use std::sync::Arc;

use kernel::{ApiError, ApiResult, AppContext, Mode, Role, Tenant, db};
use sqlx::PgConnection;
use uuid::Uuid;

use crate::errors;
use crate::providers::{
    ConnectSplit, ConnectedAccountRequest, OnboardingLink, PaymentProvider, ProviderError,
    ProviderKind,
};
use crate::repo::connect::{self as repo, ConnectedAccountRow};
use crate::settings::PaymentSettings;

/// The idempotency key of a tenant's account creation: the same for the job and the route,
/// and across retries, so Stripe replays its first answer instead of making a second account.
pub fn account_key(gym_id: Uuid) -> String {
    format!("connect-account:{gym_id}")
}

/// The platform's cut of a destination charge of `amount_minor`: `basis_points` / 10 000 of
/// it, **rounded down** to a whole minor unit, and never more than the amount.
///
/// Down, because the fee is the platform's promise to the trainer ("we keep 5%"): rounding up
/// would keep a fraction of a cent more than promised on most payments, rounding down keeps
/// at most the promised share. The cap only matters for settings past 100%, which
/// [`crate::providers::settings::ProviderSettings::check`] refuses anyway; it keeps the
/// value valid for Stripe, which refuses a fee above the amount.
pub fn application_fee_minor(amount_minor: i64, basis_points: u32) -> i64 {
    if amount_minor <= 0 {
        return 0;
    }
    let fee = i128::from(amount_minor) * i128::from(basis_points) / 10_000;
    i64::try_from(fee).unwrap_or(amount_minor).min(amount_minor)
}

/// Where a checkout of `amount_minor` in tenant `gym_id` sends the money: `Some` only in the
/// trainer build, when the workspace has a connected account whose charges Stripe has enabled
/// (as last stored); `None` otherwise, and the checkout is an ordinary charge of the
/// platform or the tenant's own provider account.
///
/// `conn` is the caller's transaction (or read) scoped to `gym_id`. Reads the database only:
/// call it before creating the provider checkout, outside any lock.
///
/// Integrator: call it from the checkout service when building the `CheckoutRequest`, and put
/// the result in `CheckoutRequest::connect` for Stripe checkouts.
pub async fn destination(
    ctx: &AppContext,
    conn: &mut PgConnection,
    gym_id: Uuid,
    amount_minor: i64,
) -> Result<Option<ConnectSplit>, sqlx::Error> {
    if ctx.mode() != Mode::Trainer {
        return Ok(None);
    }
    let Some(account) = repo::find(conn, gym_id).await? else {
        return Ok(None);
    };
    if !account.charges_enabled {
        return Ok(None);
    }
    let basis_points = PaymentSettings::of(&ctx.settings)
        .providers
        .stripe
        .application_fee_basis_points;
    Ok(Some(ConnectSplit {
        account: account.account_id,
        application_fee_minor: application_fee_minor(amount_minor, basis_points),
    }))
}

/// Refreshes the stored status of connected account `account_ref` from Stripe, for Stripe's
/// `account.updated` (sent to the Connect webhook endpoint). The event's body is not trusted:
/// the account is read again. An account of no tenant here (another platform's, or a
/// workspace deleted since) is nothing to do: `Ok`.
///
/// Errors are worth retrying (Stripe unreachable, the database): the caller's job should fail
/// and run again. A refusal by Stripe, or no platform key, is logged and ends it.
///
/// Integrator: call it from the provider webhook job for `EventKind::AccountUpdated`, with
/// `NormalizedEvent::object_ref` (the `acct_…` id).
pub async fn account_updated(ctx: &AppContext, account_ref: &str) -> anyhow::Result<()> {
    let Some(gym_id) = repo::tenant_of(&ctx.db, account_ref).await? else {
        tracing::info!(
            account = account_ref,
            "account.updated for an account of no tenant"
        );
        return Ok(());
    };
    let Some(stripe) = platform(ctx)? else {
        tracing::warn!(
            account = account_ref,
            "account.updated, but no Stripe key is configured to read the account"
        );
        return Ok(());
    };
    match refresh(ctx, &*stripe, gym_id, account_ref).await {
        Ok(_) => Ok(()),
        Err(ConnectError::Provider(err)) if !err.is_retryable() => {
            tracing::error!(account = account_ref, %gym_id, error = %err, "Stripe refused to show a connected account");
            Ok(())
        }
        Err(ConnectError::Provider(err)) => Err(err.into()),
        Err(ConnectError::Database(err)) => Err(err.into()),
    }
}

/// The platform's Stripe provider (the deployment's secret key, built once and kept by
/// [`super::providers::for_platform`]); `None` when the deployment has no key.
pub(crate) fn platform(
    ctx: &AppContext,
) -> Result<Option<Arc<dyn PaymentProvider>>, ProviderError> {
    let settings = PaymentSettings::of(&ctx.settings);
    if settings.providers.stripe.secret_key.is_none() {
        return Ok(None);
    }
    super::providers::for_platform(ctx, ProviderKind::Stripe)
        .map(|resolved| Some(resolved.provider))
}

/// Why creating or reading a connected account did not finish.
#[derive(Debug)]
pub(crate) enum ConnectError {
    Provider(ProviderError),
    Database(ApiError),
}

impl From<sqlx::Error> for ConnectError {
    fn from(err: sqlx::Error) -> Self {
        ConnectError::Database(err.into())
    }
}

impl From<ApiError> for ConnectError {
    fn from(err: ApiError) -> Self {
        ConnectError::Database(err)
    }
}

/// The tenant's connected account: the stored one, else one created at Stripe now (for
/// `owner`, whose e-mail pre-fills onboarding) and stored.
pub(crate) async fn ensure_account(
    ctx: &AppContext,
    stripe: &dyn PaymentProvider,
    gym_id: Uuid,
    owner: Uuid,
) -> Result<ConnectedAccountRow, ConnectError> {
    let mut read = db::read_tenant(&ctx.db, gym_id).await?;
    if let Some(row) = repo::find(&mut read, gym_id).await? {
        return Ok(row);
    }
    let email = ctx
        .accounts
        .summaries(&mut read, &[owner])
        .await?
        .remove(&owner)
        .map(|person| person.email);
    drop(read);
    // No transaction is open while Stripe is asked.
    let account_id = stripe
        .create_connected_account(&ConnectedAccountRequest {
            idempotency_key: account_key(gym_id),
            gym_id,
            email,
            country: None,
        })
        .await
        .map_err(ConnectError::Provider)?;
    let mut tx = db::begin_tenant(&ctx.db, gym_id).await?;
    let row = repo::insert(&mut tx, gym_id, &account_id).await?;
    tx.commit().await?;
    tracing::info!(%gym_id, account = %row.account_id, "connected account stored");
    Ok(row)
}

/// Reads account `account_id` of tenant `gym_id` from Stripe and stores its status.
async fn refresh(
    ctx: &AppContext,
    stripe: &dyn PaymentProvider,
    gym_id: Uuid,
    account_id: &str,
) -> Result<Option<ConnectedAccountRow>, ConnectError> {
    let status = stripe
        .account_status(account_id)
        .await
        .map_err(ConnectError::Provider)?;
    let mut tx = db::begin_tenant(&ctx.db, gym_id).await?;
    let row = repo::store_status(&mut tx, gym_id, &status).await?;
    tx.commit().await?;
    Ok(row)
}

/// The answer to a provider failure seen by a route: 503 `provider_unavailable` when it is
/// worth trying again, 409 otherwise.
fn provider_problem(err: ProviderError) -> ApiError {
    if err.is_retryable() {
        tracing::warn!(error = %err, "Stripe unavailable");
        return ApiError::unavailable(
            errors::PROVIDER_UNAVAILABLE,
            "Stripe cannot be reached right now; try again in a minute",
        )
        .with_retry_after(60);
    }
    tracing::error!(error = %err, "Stripe refused a Connect request");
    match err {
        ProviderError::NotConfigured(_) => not_configured(),
        ProviderError::Rejected { message, .. } => ApiError::conflict(
            errors::PROVIDER_REJECTED,
            format!("Stripe refused the request: {message}"),
        ),
        other => ApiError::conflict(errors::PROVIDER_REJECTED, other.to_string()),
    }
}

fn refresh_problem(err: ConnectError) -> ApiError {
    match err {
        ConnectError::Provider(err) => provider_problem(err),
        ConnectError::Database(err) => err,
    }
}

fn not_configured() -> ApiError {
    ApiError::conflict(
        errors::CONNECT_NOT_CONFIGURED,
        "this deployment has no Stripe platform key, so payouts to your own account cannot be set up yet",
    )
}

fn platform_or_problem(ctx: &AppContext) -> ApiResult<Option<Arc<dyn PaymentProvider>>> {
    platform(ctx).map_err(provider_problem)
}

/// A fresh single-use onboarding link for the caller's workspace (its owner in person, not an
/// API key), creating its connected account first when the job has not.
pub async fn onboarding_link<M>(ctx: &AppContext, tenant: &Tenant<M>) -> ApiResult<OnboardingLink> {
    tenant.require(Role::Owner)?;
    // The link opens the trainer's payout identity and bank details: for the trainer's own
    // browser, never an integrator's key (which would also create the account on a read).
    tenant.require_person()?;
    let stripe = platform_or_problem(ctx)?.ok_or_else(not_configured)?;
    let account = ensure_account(ctx, &*stripe, tenant.gym_id, tenant.user_id)
        .await
        .map_err(refresh_problem)?;
    let payments = PaymentSettings::of(&ctx.settings);
    let urls = &payments.connect;
    stripe
        .onboarding_link(&account.account_id, &urls.refresh_url, &urls.return_url)
        .await
        .map_err(provider_problem)
}

/// The workspace's account status, and whether it is `stale` (Stripe could not be asked, so
/// this is what it said last).
pub struct KnownStatus {
    pub account: ConnectedAccountRow,
    /// When Stripe said it.
    pub checked_at: chrono::DateTime<chrono::Utc>,
    pub stale: bool,
}

/// The workspace's account status, read from Stripe now and stored (admins and up).
pub async fn status<M>(ctx: &AppContext, tenant: &Tenant<M>) -> ApiResult<KnownStatus> {
    tenant.require(Role::Admin)?;
    let stripe = platform_or_problem(ctx)?;
    let mut read = tenant.read(&ctx.db).await?;
    let stored = repo::find(&mut read, tenant.gym_id).await?;
    drop(read);
    let Some(stored) = stored else {
        return Err(match stripe {
            None => not_configured(),
            Some(_) => ApiError::conflict(
                errors::CONNECT_ACCOUNT_MISSING,
                "this workspace has no Stripe account yet: the owner's onboarding link creates it",
            ),
        });
    };
    let fresh = match &stripe {
        Some(stripe) => match refresh(ctx, &**stripe, tenant.gym_id, &stored.account_id).await {
            Ok(Some(row)) => Some(row),
            // Replaced meanwhile: what is stored now is the truth to show.
            Ok(None) => None,
            Err(ConnectError::Database(err)) => return Err(err),
            Err(ConnectError::Provider(err)) => {
                tracing::warn!(gym_id = %tenant.gym_id, error = %err, "connected account status not refreshed");
                None
            }
        },
        None => None,
    };
    match fresh {
        Some(account) => Ok(KnownStatus {
            checked_at: account.updated_at.unwrap_or_else(chrono::Utc::now),
            account,
            stale: false,
        }),
        None => match stored.updated_at {
            Some(checked_at) => Ok(KnownStatus {
                account: stored,
                checked_at,
                stale: true,
            }),
            None => Err(ApiError::unavailable(
                errors::PROVIDER_UNAVAILABLE,
                "Stripe cannot be reached right now and has not reported on this account yet; try again in a minute",
            )
            .with_retry_after(60)),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_fee_is_its_share_of_the_amount_rounded_down() {
        assert_eq!(application_fee_minor(10_000, 500), 500);
        // 5% of 9.99 is 0.4995: the platform keeps 0.49, never 0.50.
        assert_eq!(application_fee_minor(999, 500), 49);
        assert_eq!(application_fee_minor(19, 500), 0);
        // 2.5% of 1.01 is 0.02525.
        assert_eq!(application_fee_minor(101, 250), 2);
    }

    #[test]
    fn the_fee_never_exceeds_the_amount() {
        assert_eq!(application_fee_minor(1234, 10_000), 1234);
        assert_eq!(application_fee_minor(1234, 20_000), 1234);
        assert_eq!(application_fee_minor(i64::MAX, u32::MAX), i64::MAX);
        assert_eq!(application_fee_minor(0, 500), 0);
        assert_eq!(application_fee_minor(-100, 500), 0);
    }

    #[test]
    fn no_fee_without_basis_points() {
        assert_eq!(application_fee_minor(10_000, 0), 0);
    }
}
