//! The one place that says which modules each build compiles in, and how their APIs compose.

#[cfg(all(feature = "gym", feature = "trainer"))]
compile_error!("features `gym` and `trainer` are exclusive: build with one of them");
#[cfg(not(any(feature = "gym", feature = "trainer")))]
compile_error!(
    "choose a build: `--features gym` (default) or `--no-default-features --features trainer`"
);

use std::sync::Arc;

use identity::{Identity, IdentityAccounts, IdentityApi};
use kernel::http::OperationsApi;
use kernel::http::RouteBodyLimit;
use kernel::{AppContext, Mode, Module, Settings};
use media::{Media, MediaApi};
use notifications::{Notifications, NotificationsApi};
use poem_openapi::OpenApi;
use tenancy::{ApiKeysApi, Dashboard, DashboardApi, MembersApi, ModulesApi, Tenancy};
use webhooks::{Webhooks, WebhooksApi};

use crate::meta::MetaApi;

/// The product this binary is.
#[cfg(feature = "gym")]
pub const BUILD: Mode = Mode::Gym;
#[cfg(feature = "trainer")]
pub const BUILD: Mode = Mode::Trainer;

/// The build's configuration file, embedded so the binary starts from any directory.
#[cfg(feature = "gym")]
pub const BUILD_CONFIG: &str = include_str!("../config/gym.toml");
#[cfg(feature = "trainer")]
pub const BUILD_CONFIG: &str = include_str!("../config/trainer.toml");
pub const DEFAULT_CONFIG: &str = include_str!("../config/default.toml");

/// Modules compiled into this build, dependencies first.
pub fn compiled() -> Vec<&'static dyn Module> {
    vec![
        &Identity,
        &Tenancy,
        &Dashboard,
        &Notifications,
        &Webhooks,
        &Media,
    ]
}

/// The build's HTTP API. Gym-only and trainer-only parts stand in the last slot.
pub fn api(ctx: &AppContext, accounts: Arc<IdentityAccounts>) -> impl OpenApi + 'static {
    (
        OperationsApi { ctx: ctx.clone() },
        MetaApi { ctx: ctx.clone() },
        IdentityApi::new(ctx.clone(), accounts),
        MembersApi { ctx: ctx.clone() },
        ModulesApi { ctx: ctx.clone() },
        DashboardApi { ctx: ctx.clone() },
        NotificationsApi { ctx: ctx.clone() },
        ApiKeysApi { ctx: ctx.clone() },
        WebhooksApi {
            ctx: ctx.clone(),
            settings: webhooks::settings(ctx),
        },
        MediaApi::new(ctx.clone()),
        build_specific(ctx),
    )
}

/// Routes outside the API document: `GET /media/{key}` serves uploads by their key.
pub fn public_routes(ctx: &AppContext) -> poem::Route {
    poem::Route::new().at("/*key", poem::get(media::Files::new(ctx.clone())))
}

/// Routes allowed bodies larger than `server.body_limit_bytes` (they stream and check them).
pub fn body_limits(settings: &Settings) -> Vec<RouteBodyLimit> {
    vec![media::upload_route_limit(settings)]
}

#[cfg(feature = "gym")]
fn build_specific(ctx: &AppContext) -> impl OpenApi + 'static {
    tenancy::GymsApi { ctx: ctx.clone() }
}

#[cfg(feature = "trainer")]
fn build_specific(ctx: &AppContext) -> impl OpenApi + 'static {
    tenancy::WorkspaceApi { ctx: ctx.clone() }
}
