mod state;

use std::sync::Arc;

use poem::Request;
use sqlx::PgPool;

use crate::accounts::Accounts;
use crate::attachments::Attachments;
use crate::auth::JwtKeys;
use crate::cache::Cache;
use crate::config::Settings;
use crate::metrics::Metrics;
use crate::module::Registry;
use crate::ratelimit::RateLimiter;
use crate::secrets::Secrets;
use crate::shutdown::Shutdown;
use crate::tenant::{EveryTenant, TenantDirectory};
use crate::{ApiError, ApiResult, Mode, PubSub};

pub use state::ModuleState;

/// What every module's handlers share. Cheap to clone.
#[derive(Clone)]
pub struct AppContext {
    pub settings: Arc<Settings>,
    pub db: PgPool,
    pub cache: Cache,
    /// Live fan-out across instances (notification streams).
    pub pubsub: PubSub,
    pub jwt: Arc<JwtKeys>,
    pub registry: Arc<Registry>,
    pub metrics: Arc<Metrics>,
    /// The tenants port (tenancy module).
    pub tenants: &'static dyn TenantDirectory,
    /// The accounts port (identity module).
    pub accounts: &'static dyn Accounts,
    /// Rate limits: the HTTP layer's, and the ones modules apply themselves (sign-in attempts
    /// per account).
    pub limits: Arc<RateLimiter>,
    /// SIGTERM/SIGINT: readiness turns 503, then streams, workers and the listener wind down.
    pub shutdown: Shutdown,
    /// Seals and opens values stored at rest (`[secrets]` keys).
    pub secrets: Secrets,
    /// What modules keep for the life of this context (see [`ModuleState`]).
    pub state: ModuleState,
}

impl AppContext {
    /// The shared context of a build; refuses a build whose modules leave a required port
    /// (tenants, accounts) without an implementation.
    pub fn new(
        settings: Settings,
        db: PgPool,
        cache: Cache,
        pubsub: PubSub,
        registry: Registry,
    ) -> anyhow::Result<Self> {
        let ports = registry.ports();
        let tenants = ports
            .tenants
            .ok_or_else(|| anyhow::anyhow!("no module of this build provides the tenants port"))?;
        let accounts = ports
            .accounts
            .ok_or_else(|| anyhow::anyhow!("no module of this build provides the accounts port"))?;
        let secrets = Secrets::from_settings(&settings.secrets, settings.app.environment)
            .map_err(anyhow::Error::msg)?;
        Ok(Self {
            secrets,
            jwt: Arc::new(JwtKeys::from_settings(&settings.auth)),
            limits: Arc::new(RateLimiter::for_cache(settings.rate_limit.clone(), &cache)),
            settings: Arc::new(settings),
            db,
            cache,
            pubsub,
            registry: Arc::new(registry),
            metrics: Arc::new(Metrics::new()?),
            tenants,
            accounts,
            shutdown: Shutdown::default(),
            state: ModuleState::default(),
        })
    }

    pub fn mode(&self) -> Mode {
        self.registry.mode()
    }

    /// The attachments port; an internal error in a build without a module providing it
    /// (modules that use it list that module in [`crate::Module::depends_on`]).
    pub fn attachments(&self) -> ApiResult<&'static dyn Attachments> {
        self.registry
            .ports()
            .attachments
            .ok_or_else(|| ApiError::internal("no module of this build provides attachments"))
    }

    /// Every tenant's id, a batch at a time (for periodic sweeps).
    pub fn every_tenant(&self) -> EveryTenant<'_> {
        EveryTenant::new(self)
    }

    /// The context attached to the route tree (`Route::data`).
    pub fn from_request(req: &Request) -> Result<&AppContext, ApiError> {
        req.data::<AppContext>()
            .ok_or_else(|| ApiError::internal("AppContext is not attached to the routes"))
    }
}
