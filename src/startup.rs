//! Building and running the application. `Application::build` binds the listener first, so
//! `GYMAPI_SERVER__PORT=0` works and tests learn the port before serving.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use kernel::breaker::RedisLink;
use kernel::cache::Near;
use kernel::http::idempotency::Idempotency;
use kernel::http::openapi::{self, RouteIndex};
use kernel::http::server::{self, Limits};
use kernel::http::{Authenticate, Observe, OperationsApi};
use kernel::jobs::{Housekeeping, JobHandler, JobRunner};
use kernel::ratelimit::RateLimit;
use kernel::routes::{OutsideRoute, RouteTable};
use kernel::{AppContext, Cache, PubSub, Registry, Settings, db};
use poem::endpoint::make_sync;
use poem::web::Html;
use poem::{EndpointExt, IntoResponse, Route};
use poem_openapi::OpenApiService;
use sqlx::PgPool;
use tokio::net::TcpListener;

use crate::meta::MetaApi;
use crate::modules;

pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

pub struct Application {
    port: u16,
    listener: Option<TcpListener>,
    ctx: AppContext,
    jobs: Arc<JobRunner>,
    roles: Roles,
}

/// Connects to PostgreSQL (creating the database if configured to) and applies migrations.
pub async fn prepare_database(settings: &Settings) -> anyhow::Result<PgPool> {
    let pool = db::connect(&settings.database)
        .await
        .context("cannot connect to PostgreSQL (database.url)")?;
    db::migrate(&pool, &MIGRATOR)
        .await
        .context("migrations failed")?;
    Ok(pool)
}

/// The shared context, without touching the network: used by the server and by `gymapi openapi`.
pub fn context(
    settings: Settings,
    db: PgPool,
    cache: Cache,
    pubsub: PubSub,
) -> anyhow::Result<AppContext> {
    let registry = Registry::new(modules::BUILD, modules::compiled())?;
    for module in registry.iter() {
        module
            .check_settings(&settings)
            .map_err(|message| anyhow::anyhow!(message))?;
    }
    AppContext::new(settings, db, cache, pubsub, registry)
}

/// Every module's route policies, and the routes they serve outside the API document.
pub fn module_routes(ctx: &AppContext) -> (RouteTable, Vec<OutsideRoute>) {
    let mut declared = Vec::new();
    let mut outside = Vec::new();
    for module in ctx.registry.iter() {
        let (policies, routes) = module.routes(ctx).into_parts();
        declared.extend(policies);
        outside.extend(routes);
    }
    (RouteTable::new(declared), outside)
}

/// The cache: in Redis when `redis.url` is set. Waits for Redis at most
/// `redis.connect_timeout_ms`; without it the process starts degraded (in-process fallbacks,
/// readiness says so) and connects in the background. Only a malformed URL stops start-up.
pub async fn connect_cache(settings: &Settings) -> anyhow::Result<Cache> {
    match &settings.redis.url {
        Some(url) => {
            let link = RedisLink::connect(url.expose(), &settings.redis)
                .await
                .context("redis.url is not a usable Redis URL")?;
            let near = Near::new(
                settings.cache.memory_capacity,
                Duration::from_millis(settings.cache.near_ttl_ms),
            );
            Ok(Cache::redis(link, near))
        }
        None => Ok(Cache::memory(settings.cache.memory_capacity)),
    }
}

/// The published API description: poem-openapi's document finalized by the kernel
/// (closed request bodies, the gym build's required tenant header, the declared route
/// policies), in every served form.
pub struct ApiDocument {
    pub json: String,
    pub yaml: String,
    pub docs_html: String,
    pub allowed: Arc<RouteIndex>,
}

/// Refuses a build whose modules declare a policy for a route the document does not have.
pub fn api_document(ctx: &AppContext, policies: &RouteTable) -> anyhow::Result<ApiDocument> {
    let service = openapi_service(ctx);
    let raw = service.spec();
    let mut document: serde_json::Value = serde_json::from_str(&raw)?;
    openapi::check_declarations(&document, policies).map_err(anyhow::Error::msg)?;
    openapi::finalize(&mut document, &ctx.registry, policies);
    let json = serde_json::to_string_pretty(&document)?;
    // Swagger UI embeds the document it was built from; embed the finalized one instead.
    let docs_html = service.swagger_ui_html().replacen(&raw, &json, 1);
    Ok(ApiDocument {
        yaml: serde_yaml::to_string(&document)?,
        allowed: Arc::new(RouteIndex::from_document(&document)),
        json,
        docs_html,
    })
}

/// The build's HTTP API: the operations endpoints, `/api/v1/meta`, and every module's API.
fn openapi_service(ctx: &AppContext) -> OpenApiService<impl poem_openapi::OpenApi, ()> {
    let title = match modules::BUILD {
        kernel::Mode::Gym => "GymAPI: gym build",
        kernel::Mode::Trainer => "GymAPI: trainer build",
    };
    let api = (
        OperationsApi { ctx: ctx.clone() },
        MetaApi { ctx: ctx.clone() },
        modules::module_apis(ctx),
    );
    let service = OpenApiService::new(api, title, env!("CARGO_PKG_VERSION")).description(
        "Backend for gyms and personal trainers. Errors are RFC 9457 problem+json with a stable `code`. \
         Lists are keyset-paginated (`limit`, `cursor`, `next_cursor`).",
    );
    // Generated clients take their base URL from here; the committed documents have none.
    match &ctx.settings.server.public_url {
        Some(url) => service.server(url.trim_end_matches('/')),
        None => service,
    }
}

/// What a process does: serve HTTP, run background jobs, or both (the default).
/// `gymapi serve --no-jobs` / `--no-http` split them across processes.
#[derive(Debug, Clone, Copy)]
pub struct Roles {
    pub http: bool,
    pub jobs: bool,
}

impl Default for Roles {
    fn default() -> Self {
        Self {
            http: true,
            jobs: true,
        }
    }
}

/// The job runner of this build: every compiled module's handlers, schedules and event
/// subscriptions, plus the queue's own housekeeping.
pub fn job_runner(ctx: &AppContext) -> anyhow::Result<JobRunner> {
    let mut handlers: Vec<Arc<dyn JobHandler>> = vec![Arc::new(Housekeeping {
        pool: ctx.db.clone(),
    })];
    let mut schedules = vec![Housekeeping::schedule()];
    for module in ctx.registry.iter() {
        handlers.extend(module.job_handlers(ctx));
        schedules.extend(module.schedules());
    }
    JobRunner::new(
        ctx.db.clone(),
        ctx.settings.jobs.clone(),
        handlers,
        schedules,
        ctx.registry.subscriptions(),
    )
    .map_err(anyhow::Error::msg)
}

impl Application {
    /// Connects, migrates and binds.
    pub async fn build(settings: Settings, roles: Roles) -> anyhow::Result<Self> {
        let pool = prepare_database(&settings).await?;
        Self::build_with_pool(settings, pool, roles).await
    }

    /// Binds (when serving HTTP) with an existing, migrated pool; tests hand in their
    /// per-test database and run jobs themselves through [`Application::jobs`].
    pub async fn build_with_pool(
        settings: Settings,
        pool: PgPool,
        roles: Roles,
    ) -> anyhow::Result<Self> {
        db::check_app_role(&pool).await?;
        let cache = connect_cache(&settings).await?;
        let listener = if roles.http {
            let address = format!("{}:{}", settings.server.host, settings.server.port);
            let listener = TcpListener::bind(&address)
                .await
                .with_context(|| format!("cannot listen on {address}"))?;
            Some(listener)
        } else {
            None
        };
        let port = listener
            .as_ref()
            .and_then(|listener| listener.local_addr().ok())
            .map_or(0, |addr| addr.port());
        let pubsub = match cache.redis_link() {
            Some(link) => PubSub::redis(link).await,
            None => PubSub::in_process(),
        };
        if let Some(near) = cache.near() {
            tokio::spawn(near.clone().follow(pubsub.subscribe()));
        }
        let ctx = context(settings, pool, cache, pubsub)?;
        if let Some(link) = ctx.cache.redis_link() {
            for collector in link.collectors() {
                ctx.metrics.register(collector)?;
            }
        }
        let jobs = Arc::new(job_runner(&ctx)?);
        Ok(Self {
            port,
            listener,
            ctx,
            jobs,
            roles,
        })
    }

    /// The listening port (0 when not serving HTTP).
    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn context(&self) -> &AppContext {
        &self.ctx
    }

    /// This build's job runner, for tests that drain the queue deterministically.
    pub fn jobs(&self) -> Arc<JobRunner> {
        self.jobs.clone()
    }

    /// Runs until SIGTERM/SIGINT, then goes down in two steps (see [`kernel::shutdown`]):
    /// readiness turns 503 for `server.pre_stop_delay_seconds` while everything is still
    /// served; then the listener closes, event streams end with a `reconnect` event, job
    /// workers finish what they hold without claiming more, and in-flight requests get
    /// `server.shutdown_timeout_seconds`.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let shutdown = self.ctx.shutdown.clone();
        let pre_stop = Duration::from_secs(self.ctx.settings.server.pre_stop_delay_seconds);
        tokio::spawn(async move {
            shutdown_signal().await;
            shutdown.drain();
            tracing::info!(
                pre_stop_seconds = pre_stop.as_secs(),
                "shutdown requested; readiness is 503 while requests are still served"
            );
            tokio::time::sleep(pre_stop).await;
            tracing::info!("draining: no new connections, streams told to reconnect");
            shutdown.stop();
        });
        let workers = self
            .roles
            .jobs
            .then(|| tokio::spawn(self.jobs.clone().run(self.ctx.shutdown.subscribe())));
        let served = match self.listener {
            Some(listener) => serve(self.ctx.clone(), listener, self.port).await,
            None => {
                self.ctx.shutdown.stopping().await;
                Ok(())
            }
        };
        if let Some(workers) = workers {
            let _ = workers.await;
        }
        served
    }
}

async fn serve(ctx: AppContext, listener: TcpListener, port: u16) -> std::io::Result<()> {
    let (policies, outside) = module_routes(&ctx);
    let document =
        api_document(&ctx, &policies).map_err(|err| std::io::Error::other(err.to_string()))?;
    let ApiDocument {
        json,
        yaml,
        docs_html,
        allowed,
    } = document;
    let mut routes = Route::new()
        .at(
            "/openapi.json",
            make_sync(move |_| json.clone().with_content_type("application/json")),
        )
        .at(
            "/openapi.yaml",
            make_sync(move |_| yaml.clone().with_content_type("application/yaml")),
        )
        .at("/docs", make_sync(move |_| Html(docs_html.clone())));
    for route in outside {
        routes = routes.at(route.path, route.endpoint);
    }
    // Outermost first: the shared context, the observer (request id, policy lookup, body
    // limit, problems, metrics), then credentials read once, rate limits, and Idempotency-Key.
    let app = routes
        .nest("/", openapi_service(&ctx))
        .with(Idempotency::new(ctx.db.clone(), &ctx.settings.idempotency))
        .with(RateLimit::new(ctx.limits.clone()))
        .with(Authenticate)
        .with(Observe::new(
            ctx.metrics.clone(),
            ctx.settings.server.body_limit_bytes,
            Arc::new(policies),
            allowed,
        ))
        .data(ctx.clone());
    let settings = &ctx.settings.server;
    let limits = Limits {
        header_read_timeout: Duration::from_secs(settings.header_read_timeout_seconds),
        idle_timeout: Duration::from_secs(settings.idle_timeout_seconds),
        max_connections: settings.max_connections,
        shutdown_timeout: Duration::from_secs(settings.shutdown_timeout_seconds),
    };
    tracing::info!(port, build = %ctx.mode(), cache = ctx.cache.backend(), "serving");
    let shutdown = ctx.shutdown.clone();
    server::serve(
        listener,
        app,
        limits,
        async move { shutdown.stopping().await },
    )
    .await
}

async fn shutdown_signal() {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = interrupt => {},
        _ = terminate => {},
    }
}
