use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use poem::Request;
use sqlx::PgPool;

use crate::accounts::Accounts;
use crate::auth::JwtKeys;
use crate::cache::Cache;
use crate::config::Settings;
use crate::metrics::Metrics;
use crate::module::Registry;
use crate::tenant::TenantDirectory;
use crate::{ApiError, Mode, PubSub};

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
    pub tenants: Arc<dyn TenantDirectory>,
    pub accounts: Arc<dyn Accounts>,
    /// Set on SIGTERM/SIGINT: readiness turns 503 while in-flight requests finish.
    pub draining: Arc<AtomicBool>,
}

impl AppContext {
    pub fn mode(&self) -> Mode {
        self.registry.mode()
    }

    /// The context attached to the route tree (`Route::data`).
    pub fn from_request(req: &Request) -> Result<&AppContext, ApiError> {
        req.data::<AppContext>()
            .ok_or_else(|| ApiError::internal("AppContext is not attached to the routes"))
    }
}
