//! Which provider serves a tenant, and the tenant's own credentials.
//!
//! [`for_tenant`] is the one way a checkout, refund, webhook or job gets a provider: the
//! tenant's own credentials when it stored some, else the deployment's defaults
//! (`[payments.providers]`), built by [`providers::build`]. Built providers (an HTTP client
//! each) are kept in a small in-process cache keyed by tenant and provider, so a burst of
//! webhooks or checkouts does not rebuild clients. An entry is reused only while what it was
//! built from is unchanged (a digest of the settings and the key), so an instance never keeps
//! using credentials another instance replaced; PUT and DELETE also drop it at once here.

use std::collections::HashMap;
use std::sync::{Arc, LazyLock, Mutex};

use kernel::config::Secret;
use kernel::{ApiError, ApiResult, AppContext, FieldError, Role, Tenant};
use poem::http::StatusCode;
use sha2::{Digest, Sha256};
use sqlx::PgConnection;
use uuid::Uuid;

use crate::errors;
use crate::providers::settings::{ProviderMode, ProviderSettings};
use crate::providers::{self, Credentials, PaymentProvider, ProviderError, ProviderKind};
use crate::repo::credentials::{self as repo, CredentialRow};
use crate::settings::PaymentSettings;

/// Most webhook signing secrets kept per provider (two during a rotation, one spare).
pub const MAX_WEBHOOK_SECRETS: usize = 3;
/// Longest key, token or secret accepted.
const MAX_SECRET_CHARS: usize = 255;
/// Built providers kept at most; past that the cache starts again empty.
const CACHE_CAPACITY: usize = 1024;

/// Whose credentials a provider runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    Tenant,
    Deployment,
}

/// A provider ready for calls, and the secrets its webhooks are signed with.
#[derive(Clone)]
pub struct Resolved {
    pub provider: Arc<dyn PaymentProvider>,
    pub webhook_secrets: Vec<Secret<String>>,
    /// The tenant's own credentials (not the deployment's): money goes to its own account, so
    /// never through Stripe Connect.
    pub own_credentials: bool,
}

struct Cached {
    fingerprint: [u8; 32],
    provider: Arc<dyn PaymentProvider>,
}

/// Keyed by tenant (`None`: the platform's own account) and provider.
type Cache = HashMap<(Option<Uuid>, ProviderKind), Cached>;

static BUILT: LazyLock<Mutex<Cache>> = LazyLock::new(|| Mutex::new(HashMap::new()));

/// A provider name from a path or body: 404 `unknown_provider` otherwise.
pub fn kind_of(name: &str) -> ApiResult<ProviderKind> {
    name.parse::<ProviderKind>().map_err(|err| {
        ApiError::new(
            StatusCode::NOT_FOUND,
            errors::UNKNOWN_PROVIDER,
            err.to_string(),
        )
    })
}

/// A provider's refusal or unavailability as the API answers it.
pub fn problem(err: ProviderError) -> ApiError {
    match err {
        err if err.is_retryable() => {
            tracing::warn!(error = %err, "payment provider unavailable");
            ApiError::unavailable(
                errors::PROVIDER_UNAVAILABLE,
                format!("{err}; nothing was charged by this request"),
            )
            .with_retry_after(5)
        }
        ProviderError::NotConfigured(detail) => {
            ApiError::conflict(errors::PROVIDER_NOT_CONFIGURED, detail)
        }
        ProviderError::Unsupported { .. } | ProviderError::Amount(_) => ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            errors::PROVIDER_UNSUPPORTED,
            err.to_string(),
        ),
        ProviderError::UnknownProvider(name) => ApiError::new(
            StatusCode::NOT_FOUND,
            errors::UNKNOWN_PROVIDER,
            format!("`{name}` is not a payment provider (stripe, mercadopago)"),
        ),
        other => ApiError::conflict(errors::PROVIDER_REJECTED, other.to_string()),
    }
}

/// The provider of `kind` for `gym_id`, read in the caller's tenant transaction.
pub async fn for_tenant(
    ctx: &AppContext,
    conn: &mut PgConnection,
    gym_id: Uuid,
    kind: ProviderKind,
) -> ApiResult<Resolved> {
    let payments = PaymentSettings::of(&ctx.settings);
    let settings = &payments.providers;
    let credentials = match repo::sealed(conn, gym_id, kind.as_str()).await? {
        Some(sealed) => {
            let sealed = sealed.parse().map_err(ApiError::internal)?;
            Some(
                Credentials::open(&ctx.secrets, gym_id, kind, &sealed)
                    .map_err(ApiError::internal)?,
            )
        }
        None => None,
    };
    let scope = credentials.as_ref().map(|_| gym_id);
    let provider = cached(scope, kind, settings, credentials.as_ref()).map_err(problem)?;
    Ok(Resolved {
        provider,
        webhook_secrets: providers::webhook_secrets(kind, settings, credentials.as_ref()),
        own_credentials: credentials.is_some(),
    })
}

/// The platform's own provider of `kind` (the deployment's credentials), for webhooks on the
/// platform endpoint: its secrets are the endpoint's and, for Stripe, the Connect endpoint's.
pub fn for_platform(ctx: &AppContext, kind: ProviderKind) -> Result<Resolved, ProviderError> {
    let payments = PaymentSettings::of(&ctx.settings);
    let settings = &payments.providers;
    let provider = cached(None, kind, settings, None)?;
    let mut webhook_secrets = providers::webhook_secrets(kind, settings, None);
    if kind == ProviderKind::Stripe {
        webhook_secrets.extend(settings.stripe.connect_webhook_secrets.iter().cloned());
    }
    Ok(Resolved {
        provider,
        webhook_secrets,
        own_credentials: false,
    })
}

/// What a provider is built from, digested: settings (their `Debug` hides secrets) plus the
/// key it calls with.
fn fingerprint(
    kind: ProviderKind,
    settings: &ProviderSettings,
    credentials: Option<&Credentials>,
) -> [u8; 32] {
    let key = match (credentials, kind) {
        (Some(Credentials::Stripe { secret_key, .. }), _) => Some(secret_key),
        (Some(Credentials::MercadoPago { access_token, .. }), _) => Some(access_token),
        (None, ProviderKind::Stripe) => settings.stripe.secret_key.as_ref(),
        (None, ProviderKind::MercadoPago) => settings.mercadopago.access_token.as_ref(),
    };
    let mut digest = Sha256::new();
    digest.update(format!("{kind}\n{settings:?}\n").as_bytes());
    if let Some(key) = key {
        digest.update(key.expose().as_bytes());
    }
    digest.finalize().into()
}

fn cached(
    scope: Option<Uuid>,
    kind: ProviderKind,
    settings: &ProviderSettings,
    credentials: Option<&Credentials>,
) -> Result<Arc<dyn PaymentProvider>, ProviderError> {
    let fingerprint = fingerprint(kind, settings, credentials);
    if let Some(hit) = BUILT.lock().ok().and_then(|cache| {
        cache
            .get(&(scope, kind))
            .filter(|c| c.fingerprint == fingerprint)
            .map(|c| c.provider.clone())
    }) {
        return Ok(hit);
    }
    // Built outside the lock: building a client loads TLS roots.
    let provider = providers::build(kind, settings, credentials)?;
    if let Ok(mut cache) = BUILT.lock() {
        if cache.len() >= CACHE_CAPACITY {
            cache.clear();
        }
        cache.insert(
            (scope, kind),
            Cached {
                fingerprint,
                provider: provider.clone(),
            },
        );
    }
    Ok(provider)
}

fn forget(gym_id: Uuid, kind: ProviderKind) {
    if let Ok(mut cache) = BUILT.lock() {
        cache.remove(&(Some(gym_id), kind));
    }
}

/// How one provider is configured for a tenant.
#[derive(Debug, Clone)]
pub struct Configured {
    pub kind: ProviderKind,
    /// `None`: neither the tenant nor the deployment has credentials.
    pub source: Option<Source>,
    pub mode: ProviderMode,
    /// The tenant's own credentials: when they were stored or last replaced.
    pub updated_at: Option<chrono::DateTime<chrono::Utc>>,
}

fn mode_of(text: &str) -> ProviderMode {
    if text == "live" {
        ProviderMode::Live
    } else {
        ProviderMode::Test
    }
}

fn mode_name(mode: ProviderMode) -> &'static str {
    match mode {
        ProviderMode::Test => "test",
        ProviderMode::Live => "live",
    }
}

fn deployment_has(settings: &ProviderSettings, kind: ProviderKind) -> bool {
    match kind {
        ProviderKind::Stripe => settings.stripe.secret_key.is_some(),
        ProviderKind::MercadoPago => settings.mercadopago.access_token.is_some(),
    }
}

fn configured(
    settings: &ProviderSettings,
    kind: ProviderKind,
    own: Option<&CredentialRow>,
) -> Configured {
    match own {
        Some(row) => Configured {
            kind,
            source: Some(Source::Tenant),
            mode: mode_of(&row.mode),
            updated_at: Some(row.updated_at),
        },
        None => Configured {
            kind,
            source: deployment_has(settings, kind).then_some(Source::Deployment),
            mode: settings.mode,
            updated_at: None,
        },
    }
}

/// Every provider of this build, as configured for the tenant (owners only).
pub async fn list<M>(ctx: &AppContext, tenant: &Tenant<M>) -> ApiResult<Vec<Configured>> {
    tenant.require(Role::Owner)?;
    let payments = PaymentSettings::of(&ctx.settings);
    let settings = &payments.providers;
    let mut tx = tenant.read(&ctx.db).await?;
    let rows = repo::list(&mut tx, tenant.gym_id).await?;
    Ok(ProviderKind::ALL
        .into_iter()
        .map(|kind| {
            let own = rows.iter().find(|row| row.provider == kind.as_str());
            configured(settings, kind, own)
        })
        .collect())
}

/// Credentials as an owner sends them; which fields apply depends on the provider.
pub struct CredentialsInput<'a> {
    pub secret_key: Option<&'a str>,
    pub access_token: Option<&'a str>,
    pub webhook_secrets: &'a [String],
}

/// The tenant's own credentials for `kind`, checked against the deployment's mode (owners
/// only); they replace any stored before.
pub async fn put<M>(
    ctx: &AppContext,
    tenant: &Tenant<M>,
    kind: ProviderKind,
    input: CredentialsInput<'_>,
) -> ApiResult<Configured> {
    tenant.require(Role::Owner)?;
    let payments = PaymentSettings::of(&ctx.settings);
    let settings = &payments.providers;
    let credentials = checked(kind, settings.mode, &input)?;
    let sealed = credentials
        .seal(&ctx.secrets, tenant.gym_id)
        .map_err(ApiError::internal)?;
    let mut tx = tenant.begin(&ctx.db).await?;
    let row = repo::upsert(
        &mut tx,
        tenant.gym_id,
        kind.as_str(),
        sealed.as_str(),
        mode_name(settings.mode),
    )
    .await?;
    tx.commit().await?;
    forget(tenant.gym_id, kind);
    Ok(configured(settings, kind, Some(&row)))
}

/// Removes the tenant's own credentials for `kind` (owners only): the deployment's defaults
/// apply again. 404 when it had none.
pub async fn delete<M>(ctx: &AppContext, tenant: &Tenant<M>, kind: ProviderKind) -> ApiResult<()> {
    tenant.require(Role::Owner)?;
    let mut tx = tenant.begin(&ctx.db).await?;
    let removed = repo::delete(&mut tx, tenant.gym_id, kind.as_str()).await?;
    if !removed {
        return Err(ApiError::not_found(format!(
            "this tenant has no {kind} credentials of its own"
        )));
    }
    tx.commit().await?;
    forget(tenant.gym_id, kind);
    Ok(())
}

/// The prefixes a key of `kind` has in `mode`.
fn key_prefixes(kind: ProviderKind, mode: ProviderMode) -> &'static [&'static str] {
    match (kind, mode) {
        (ProviderKind::Stripe, ProviderMode::Test) => &["sk_test_", "rk_test_"],
        (ProviderKind::Stripe, ProviderMode::Live) => &["sk_live_", "rk_live_"],
        (ProviderKind::MercadoPago, ProviderMode::Test) => &["TEST-"],
        (ProviderKind::MercadoPago, ProviderMode::Live) => &["APP_USR-"],
    }
}

fn plausible_secret(value: &str) -> bool {
    !value.is_empty()
        && value.chars().count() <= MAX_SECRET_CHARS
        && value.chars().all(|c| c.is_ascii_graphic())
}

/// The credentials of `input` for `kind`, or 422 naming every field that is wrong.
fn checked(
    kind: ProviderKind,
    mode: ProviderMode,
    input: &CredentialsInput<'_>,
) -> ApiResult<Credentials> {
    let mut errors = Vec::new();
    let (key_field, key, other_field, other) = match kind {
        ProviderKind::Stripe => (
            "secret_key",
            input.secret_key,
            "access_token",
            input.access_token,
        ),
        ProviderKind::MercadoPago => (
            "access_token",
            input.access_token,
            "secret_key",
            input.secret_key,
        ),
    };
    if other.is_some() {
        errors.push(FieldError::new(
            other_field,
            format!("is not a {kind} credential; send {key_field}"),
        ));
    }
    let prefixes = key_prefixes(kind, mode);
    match key {
        None => errors.push(FieldError::new(key_field, "is required")),
        Some(key) if !plausible_secret(key) => errors.push(FieldError::new(
            key_field,
            format!("must be 1 to {MAX_SECRET_CHARS} printable characters without spaces"),
        )),
        Some(key) if !prefixes.iter().any(|prefix| key.starts_with(prefix)) => {
            errors.push(FieldError::new(
                key_field,
                format!(
                    "this deployment runs in {} mode: the key must start with {}",
                    mode_name(mode),
                    prefixes.join(" or ")
                ),
            ))
        }
        Some(_) => {}
    }
    if input.webhook_secrets.len() > MAX_WEBHOOK_SECRETS {
        errors.push(FieldError::new(
            "webhook_secrets",
            format!("at most {MAX_WEBHOOK_SECRETS} (two while rotating)"),
        ));
    }
    for (index, secret) in input.webhook_secrets.iter().enumerate() {
        let shaped = match kind {
            ProviderKind::Stripe => secret.starts_with("whsec_"),
            ProviderKind::MercadoPago => true,
        };
        if !plausible_secret(secret) || !shaped {
            let expected = match kind {
                ProviderKind::Stripe => "a Stripe endpoint secret (whsec_...)",
                ProviderKind::MercadoPago => "MercadoPago's secret signature, printable characters",
            };
            errors.push(FieldError::new(
                format!("webhook_secrets[{index}]"),
                format!("must be {expected}"),
            ));
        }
    }
    if !errors.is_empty() {
        return Err(ApiError::validation(errors));
    }
    let key = Secret::new(key.unwrap_or_default().to_string());
    let webhook_secrets = input
        .webhook_secrets
        .iter()
        .map(|secret| Secret::new(secret.clone()))
        .collect();
    Ok(match kind {
        ProviderKind::Stripe => Credentials::Stripe {
            secret_key: key,
            webhook_secrets,
        },
        ProviderKind::MercadoPago => Credentials::MercadoPago {
            access_token: key,
            webhook_secrets,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input<'a>(
        secret_key: Option<&'a str>,
        access_token: Option<&'a str>,
        webhook_secrets: &'a [String],
    ) -> CredentialsInput<'a> {
        CredentialsInput {
            secret_key,
            access_token,
            webhook_secrets,
        }
    }

    fn fields(err: ApiError) -> Vec<String> {
        err.problem().errors.into_iter().map(|e| e.field).collect()
    }

    #[test]
    fn keys_must_match_the_deployment_mode() {
        let secrets = ["whsec_abc".to_string()];
        assert!(
            checked(
                ProviderKind::Stripe,
                ProviderMode::Test,
                &input(Some("sk_test_1"), None, &secrets)
            )
            .is_ok()
        );
        assert!(
            checked(
                ProviderKind::Stripe,
                ProviderMode::Test,
                &input(Some("rk_test_1"), None, &[])
            )
            .is_ok()
        );
        let live = checked(
            ProviderKind::Stripe,
            ProviderMode::Test,
            &input(Some("sk_live_1"), None, &[]),
        );
        assert_eq!(fields(live.unwrap_err()), ["secret_key"]);
        assert!(
            checked(
                ProviderKind::MercadoPago,
                ProviderMode::Test,
                &input(None, Some("TEST-123"), &[])
            )
            .is_ok()
        );
        let prod = checked(
            ProviderKind::MercadoPago,
            ProviderMode::Test,
            &input(None, Some("APP_USR-1"), &[]),
        );
        assert_eq!(fields(prod.unwrap_err()), ["access_token"]);
        assert!(
            checked(
                ProviderKind::MercadoPago,
                ProviderMode::Live,
                &input(None, Some("APP_USR-1"), &[])
            )
            .is_ok()
        );
    }

    #[test]
    fn every_wrong_field_is_named() {
        let secrets = ["not-a-whsec".to_string(), String::new()];
        let err = checked(
            ProviderKind::Stripe,
            ProviderMode::Test,
            &input(None, Some("TEST-1"), &secrets),
        )
        .unwrap_err();
        assert_eq!(
            fields(err),
            [
                "access_token",
                "secret_key",
                "webhook_secrets[0]",
                "webhook_secrets[1]"
            ]
        );
    }
}
