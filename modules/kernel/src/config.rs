//! Typed settings, layered with figment: the binary's embedded `config/default.toml`, then
//! `config/<build>.toml`, then the file named by `GYMAPI_CONFIG`, then `GYMAPI_*` environment
//! variables (`__` nests: `GYMAPI_SERVER__PORT=0`).

use std::fmt;
use std::sync::Arc;

use figment::Figment;
use figment::providers::{Env, Format, Toml};
use serde::Deserialize;

use crate::Mode;
use crate::auth::AuthSettings;
pub use crate::secret::Secret;

#[derive(Debug, Clone, Deserialize)]
pub struct Settings {
    pub app: AppSettings,
    pub server: ServerSettings,
    pub database: DatabaseSettings,
    pub redis: RedisSettings,
    pub auth: AuthSettings,
    pub log: LogSettings,
    pub cache: CacheSettings,
    pub jobs: crate::jobs::JobSettings,
    pub rate_limit: crate::ratelimit::RateLimitSettings,
    pub idempotency: crate::http::idempotency::IdempotencySettings,
    /// Checked when the context is built ([`crate::AppContext::new`]), with the modules'
    /// sections, so loading settings alone (tools, tests) does not need production keys.
    pub secrets: crate::secrets::SecretsSettings,
    /// Sections the kernel does not know (`[webhooks]`, ...): each module reads its own with
    /// [`Settings::section`] (whose type refuses unknown keys) and checks it at start-up
    /// ([`crate::Module::check_settings`]). Only sections the embedded defaults name are
    /// accepted, so a misspelt section stops start-up too.
    #[serde(flatten)]
    pub sections: Sections,
    /// Module sections parsed once, for [`Settings::parsed_section`].
    #[serde(skip)]
    parsed: ParsedSections,
}

/// Module sections already parsed, by section name. A clone starts empty, so a clone whose
/// sections are then changed (tests do) never serves the original's parse.
#[derive(Default)]
struct ParsedSections(
    std::sync::Mutex<std::collections::HashMap<String, Arc<dyn std::any::Any + Send + Sync>>>,
);

impl Clone for ParsedSections {
    fn clone(&self) -> Self {
        Self::default()
    }
}

impl std::fmt::Debug for ParsedSections {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ParsedSections")
    }
}

/// Module sections as read; `Debug` names them only, since they may hold secrets that only
/// the module's own type knows to redact.
#[derive(Clone, Default, Deserialize)]
#[serde(transparent)]
pub struct Sections(std::collections::HashMap<String, serde_json::Value>);

impl fmt::Debug for Sections {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(self.0.keys()).finish()
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AppSettings {
    pub mode: Mode,
    pub environment: Environment,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Environment {
    Development,
    Test,
    Production,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerSettings {
    pub host: String,
    pub port: u16,
    /// Largest accepted request body; larger ones answer 413.
    pub body_limit_bytes: usize,
    /// After SIGTERM/SIGINT, how long readiness answers 503 while requests are still served,
    /// so the load balancer stops sending before the listener closes.
    pub pre_stop_delay_seconds: u64,
    /// Then, how long in-flight requests may take to finish.
    pub shutdown_timeout_seconds: u64,
    /// A request's headers must arrive within this (half-sent headers hold nothing longer).
    pub header_read_timeout_seconds: u64,
    /// A connection with no byte either way for this long is closed (a body that stops
    /// arriving, an idle keep-alive connection).
    pub idle_timeout_seconds: u64,
    /// Connections served at once; past it new ones wait in the listen backlog.
    pub max_connections: usize,
    /// Where clients reach this API (`https://api.example.com`): the OpenAPI document's
    /// `servers` entry, and the base of absolute media URLs.
    pub public_url: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DatabaseSettings {
    pub url: Secret<String>,
    pub max_connections: u32,
    pub min_connections: u32,
    pub acquire_timeout_seconds: u64,
    /// Applied to every pooled connection so no query can hold a connection forever.
    pub statement_timeout_ms: u64,
    /// Create the database on start when it does not exist.
    pub create_if_missing: bool,
}

/// Redis is an accelerator, never a dependency: every call has `timeout_ms` and goes through
/// one circuit breaker ([`crate::breaker`]); while it is open the cache misses to PostgreSQL,
/// rate limits are kept in process and pub/sub delivers locally. Defaults: config/default.toml.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RedisSettings {
    /// Unset: cache and friends run in-process.
    pub url: Option<Secret<String>>,
    /// Longest wait for one Redis call; a slower answer counts as a failure and opens the
    /// breaker.
    pub timeout_ms: u64,
    /// How long the breaker stays open before one call probes Redis again.
    pub retry_after_ms: u64,
    /// Longest wait for a new connection (at start-up, where the server goes on without Redis
    /// past it, and for each reconnection in the background).
    pub connect_timeout_ms: u64,
}

/// For the kernel's own tests; the app reads config/default.toml.
#[cfg(test)]
impl Default for RedisSettings {
    fn default() -> Self {
        Self {
            url: None,
            timeout_ms: 50,
            retry_after_ms: 1000,
            connect_timeout_ms: 1000,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogSettings {
    pub format: LogFormat,
    /// An `EnvFilter` directive, e.g. `info,sqlx=warn`; `RUST_LOG` wins when set.
    pub level: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LogFormat {
    Json,
    Pretty,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CacheSettings {
    /// Entries kept by the in-process cache.
    pub memory_capacity: u64,
    /// How long a resolved tenant membership stays cached (writes invalidate it at once).
    pub tenant_ttl_seconds: u64,
    /// With Redis: how long this instance keeps its own copy of what it read from Redis. The
    /// longest a write made elsewhere can go unseen here when its invalidation was missed;
    /// 0 turns the near cache off.
    pub near_ttl_ms: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("configuration is invalid: {0}")]
    Parse(#[from] Box<figment::Error>),
    #[error("{0}")]
    Invalid(String),
}

impl Settings {
    /// The standard layering. `default_toml` and `build_toml` are embedded in the binary so it
    /// starts from any working directory.
    pub fn figment(default_toml: &str, build_toml: &str) -> Figment {
        let mut figment = Figment::new()
            .merge(Toml::string(default_toml))
            .merge(Toml::string(build_toml));
        if let Ok(path) = std::env::var("GYMAPI_CONFIG") {
            figment = figment.merge(Toml::file_exact(path));
        }
        // GYMAPI_CONFIG names a file rather than a setting; GYMAPI_VENV is the scripts'
        // Python tools.
        figment.merge(
            Env::prefixed("GYMAPI_")
                .ignore(&["config", "venv"])
                .split("__"),
        )
    }

    /// Extracts and validates settings for a binary compiled as `build`. A key no settings
    /// type knows stops start-up with its name (`GYMAPI_SERVER__PROT=9000` is a typo, not a
    /// port); so does a section that `default_toml` (the embedded defaults, which name every
    /// module's section) does not have.
    pub fn from_figment(
        figment: Figment,
        build: Mode,
        default_toml: &str,
    ) -> Result<Self, ConfigError> {
        let settings: Settings = figment.extract().map_err(Box::new)?;
        let known: Figment = Figment::new().merge(Toml::string(default_toml));
        let known: std::collections::HashMap<String, serde_json::Value> =
            known.extract().map_err(Box::new)?;
        if let Some(unknown) = settings
            .sections
            .0
            .keys()
            .find(|section| !known.contains_key(*section))
        {
            return Err(ConfigError::Invalid(format!(
                "unknown configuration section `{unknown}` (from a file or a GYMAPI_{}__* variable)",
                unknown.to_uppercase()
            )));
        }
        settings.validate(build)?;
        Ok(settings)
    }

    /// A module's own section; an absent section reads as empty (serde defaults apply).
    pub fn section<T: serde::de::DeserializeOwned>(&self, name: &str) -> Result<T, ConfigError> {
        let value = self
            .sections
            .0
            .get(name)
            .cloned()
            .unwrap_or_else(|| serde_json::json!({}));
        serde_json::from_value(value)
            .map_err(|err| ConfigError::Invalid(format!("configuration section [{name}]: {err}")))
    }

    /// [`Settings::section`] parsed once per settings instance and shared afterwards: for
    /// sections read on hot paths (every webhook, checkout or feed read). Settings do not
    /// change once an app runs. Asking for one section under two types is a bug: the second
    /// answers an error.
    pub fn parsed_section<T>(&self, name: &str) -> Result<Arc<T>, ConfigError>
    where
        T: serde::de::DeserializeOwned + Send + Sync + 'static,
    {
        let mut parsed = self
            .parsed
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(section) = parsed.get(name) {
            return Arc::clone(section).downcast::<T>().map_err(|_| {
                ConfigError::Invalid(format!("configuration section [{name}] read as two types"))
            });
        }
        let section = Arc::new(self.section::<T>(name)?);
        parsed.insert(name.to_owned(), section.clone());
        Ok(section)
    }

    pub fn validate(&self, build: Mode) -> Result<(), ConfigError> {
        if self.app.mode != build {
            return Err(ConfigError::Invalid(format!(
                "this binary is the {build} build but app.mode is {}; run the {} build or set GYMAPI_APP__MODE={build}",
                self.app.mode, self.app.mode
            )));
        }
        match (&self.auth.jwt_secret, self.app.environment) {
            (None, Environment::Production) => {
                return Err(ConfigError::Invalid(
                    "auth.jwt_secret is required in production (set GYMAPI_AUTH__JWT_SECRET to at least 32 random bytes)".into(),
                ));
            }
            (Some(secret), _) if secret.expose().len() < 32 => {
                return Err(ConfigError::Invalid(
                    "auth.jwt_secret must be at least 32 bytes long".into(),
                ));
            }
            _ => {}
        }
        if self.auth.access_token_ttl_seconds <= 0 || self.auth.refresh_token_ttl_days <= 0 {
            return Err(ConfigError::Invalid(
                "auth token lifetimes must be positive".into(),
            ));
        }
        if self.database.max_connections == 0 {
            return Err(ConfigError::Invalid(
                "database.max_connections must be at least 1".into(),
            ));
        }
        if self.jobs.concurrency == 0 || self.jobs.lease_seconds == 0 {
            return Err(ConfigError::Invalid(
                "jobs.concurrency and jobs.lease_seconds must be at least 1".into(),
            ));
        }
        if self.server.header_read_timeout_seconds == 0
            || self.server.idle_timeout_seconds == 0
            || self.server.max_connections == 0
        {
            return Err(ConfigError::Invalid(
                "server.header_read_timeout_seconds, server.idle_timeout_seconds and server.max_connections must be at least 1".into(),
            ));
        }
        if self.redis.timeout_ms == 0
            || self.redis.retry_after_ms == 0
            || self.redis.connect_timeout_ms == 0
        {
            return Err(ConfigError::Invalid(
                "redis.timeout_ms, redis.retry_after_ms and redis.connect_timeout_ms must be at least 1".into(),
            ));
        }
        if let Some(url) = &self.server.public_url
            && !(url.starts_with("https://") || url.starts_with("http://"))
        {
            return Err(ConfigError::Invalid(format!(
                "server.public_url must be an http(s) URL, not `{url}`"
            )));
        }
        self.idempotency
            .validate(self.database.statement_timeout_ms)
            .map_err(ConfigError::Invalid)?;
        if self.server.body_limit_bytes == 0 {
            return Err(ConfigError::Invalid(
                "server.body_limit_bytes must be positive".into(),
            ));
        }
        Ok(())
    }
}
