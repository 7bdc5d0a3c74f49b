//! HTTP of a tenant's payment providers: its own credentials (owners only).

use chrono::{DateTime, Utc};
use kernel::http::JsonBody;
use kernel::{ApiResult, AppContext, Tenant};
use poem_openapi::param::Path;
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Enum, Object, OpenApi};

use super::PaymentsTags;
use crate::Payments;
use crate::providers::settings::ProviderMode;
use crate::service::providers::{self as service, Configured, CredentialsInput, Source};

/// Whose credentials a provider runs on for this tenant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
#[oai(rename_all = "snake_case")]
pub enum ConfiguredBy {
    /// The tenant's own account (stored with `PUT /api/v1/payments/providers/{provider}`).
    Tenant,
    /// The platform's account, shared by tenants without their own.
    Deployment,
    /// Neither: checkouts with this provider answer 409 `provider_not_configured`.
    NotConfigured,
}

/// Test or live keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
#[oai(rename_all = "snake_case")]
pub enum KeyMode {
    Test,
    Live,
}

/// A payment provider as configured for the tenant. Secrets are never shown.
#[derive(Debug, Object)]
pub struct ProviderConfiguration {
    /// `stripe` or `mercadopago`.
    pub provider: String,
    pub configured_by: ConfiguredBy,
    /// Whether the keys in use are test or live keys.
    pub mode: KeyMode,
    /// When the tenant's own credentials were stored or last replaced.
    #[oai(skip_serializing_if_is_none)]
    pub updated_at: Option<DateTime<Utc>>,
}

impl From<Configured> for ProviderConfiguration {
    fn from(configured: Configured) -> Self {
        Self {
            provider: configured.kind.as_str().to_string(),
            configured_by: match configured.source {
                Some(Source::Tenant) => ConfiguredBy::Tenant,
                Some(Source::Deployment) => ConfiguredBy::Deployment,
                None => ConfiguredBy::NotConfigured,
            },
            mode: match configured.mode {
                ProviderMode::Test => KeyMode::Test,
                ProviderMode::Live => KeyMode::Live,
            },
            updated_at: configured.updated_at,
        }
    }
}

#[derive(Debug, Object)]
pub struct ProviderConfigurations {
    /// Every provider of this build, in a fixed order.
    pub items: Vec<ProviderConfiguration>,
}

/// The tenant's own credentials for one provider. Stripe takes `secret_key` (`sk_test_…` or
/// a restricted `rk_test_…` in test mode, `sk_live_…`/`rk_live_…` in live mode); MercadoPago
/// takes `access_token` (`TEST-…` in test mode, `APP_USR-…` in live mode). Both take the
/// signing secrets of the webhook endpoint the tenant registered at the provider
/// (`/api/v1/webhooks/{provider}/{gym_id}`), two during a rotation.
#[derive(Debug, Object)]
#[oai(deny_unknown_fields)]
pub struct ProviderCredentialsRequest {
    /// Stripe only.
    #[oai(validator(max_length = 255))]
    pub secret_key: Option<String>,
    /// MercadoPago only.
    #[oai(validator(max_length = 255))]
    pub access_token: Option<String>,
    /// Stripe: `whsec_…` endpoint secrets; MercadoPago: the application's secret signature.
    #[oai(default, validator(max_items = 3))]
    pub webhook_secrets: Vec<String>,
}

#[derive(ApiResponse)]
enum Removed {
    /// The tenant's own credentials are gone; the deployment's apply again, if any.
    #[oai(status = 204)]
    Done,
}

pub struct ProvidersApi {
    pub ctx: AppContext,
}

#[OpenApi(prefix_path = "/api/v1", tag = "PaymentsTags::Payments")]
impl ProvidersApi {
    /// How each payment provider is configured for this tenant (owners)
    ///
    /// Configured by the tenant, by the deployment, or not at all, and in which mode. Secrets
    /// are never shown.
    #[oai(
        path = "/payments/providers",
        method = "get",
        operation_id = "payments_providers_list"
    )]
    async fn list(
        &self,
        #[oai(name = "X-Gym-ID")] tenant: Tenant<Payments>,
    ) -> ApiResult<Json<ProviderConfigurations>> {
        let items = service::list(&self.ctx, &tenant).await?;
        Ok(Json(ProviderConfigurations {
            items: items.into_iter().map(Into::into).collect(),
        }))
    }

    /// Store the tenant's own credentials for a provider (owners)
    ///
    /// They replace any stored before and take effect at once. A key of the wrong provider
    /// or mode is 422 naming the field; an unknown provider is 404 `unknown_provider`. The
    /// answer never contains the secrets.
    #[oai(
        path = "/payments/providers/:provider",
        method = "put",
        operation_id = "payments_providers_put"
    )]
    async fn put(
        &self,
        #[oai(name = "X-Gym-ID")] tenant: Tenant<Payments>,
        /// `stripe` or `mercadopago`.
        provider: Path<String>,
        body: JsonBody<ProviderCredentialsRequest>,
    ) -> ApiResult<Json<ProviderConfiguration>> {
        let kind = service::kind_of(&provider.0)?;
        let input = CredentialsInput {
            secret_key: body.secret_key.as_deref(),
            access_token: body.access_token.as_deref(),
            webhook_secrets: &body.webhook_secrets,
        };
        let configured = service::put(&self.ctx, &tenant, kind, input).await?;
        Ok(Json(configured.into()))
    }

    /// Remove the tenant's own credentials for a provider (owners)
    ///
    /// The deployment's credentials apply again, if it has any. 404 when the tenant had none.
    #[oai(
        path = "/payments/providers/:provider",
        method = "delete",
        operation_id = "payments_providers_delete"
    )]
    async fn delete(
        &self,
        #[oai(name = "X-Gym-ID")] tenant: Tenant<Payments>,
        /// `stripe` or `mercadopago`.
        provider: Path<String>,
    ) -> ApiResult<Removed> {
        let kind = service::kind_of(&provider.0)?;
        service::delete(&self.ctx, &tenant, kind).await?;
        Ok(Removed::Done)
    }
}
