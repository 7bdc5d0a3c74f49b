//! Typed settings, layered with figment: the binary's embedded `config/default.toml`, then
//! `config/<build>.toml`, then the file named by `GYMAPI_CONFIG`, then `GYMAPI_*` environment
//! variables (`__` nests: `GYMAPI_SERVER__PORT=0`).

use std::fmt;

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
    #[serde(default)]
    pub redis: RedisSettings,
    pub auth: AuthSettings,
    pub log: LogSettings,
    pub cache: CacheSettings,
    pub jobs: crate::jobs::JobSettings,
    pub rate_limit: crate::ratelimit::RateLimitSettings,
    /// Sections the kernel does not know (`[webhooks]`, ...): each module reads its own with
    /// [`Settings::section`] and checks it at start-up ([`crate::Module::check_settings`]).
    #[serde(flatten)]
    pub sections: Sections,
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
pub struct ServerSettings {
    pub host: String,
    pub port: u16,
    /// Largest accepted request body; larger ones answer 413.
    pub body_limit_bytes: usize,
    /// How long in-flight requests may take to finish after SIGTERM/SIGINT.
    pub shutdown_timeout_seconds: u64,
    /// Public base URL written into the OpenAPI `servers` list.
    pub public_url: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
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
/// rate limits are kept in process and pub/sub delivers locally.
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
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
pub struct CacheSettings {
    /// Entries kept by the in-process cache.
    pub memory_capacity: u64,
    /// How long a resolved tenant membership stays cached (writes invalidate it at once).
    pub tenant_ttl_seconds: u64,
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
        figment.merge(Env::prefixed("GYMAPI_").split("__"))
    }

    /// Extracts and validates settings for a binary compiled as `build`.
    pub fn from_figment(figment: Figment, build: Mode) -> Result<Self, ConfigError> {
        let settings: Settings = figment.extract().map_err(Box::new)?;
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
        if self.redis.timeout_ms == 0
            || self.redis.retry_after_ms == 0
            || self.redis.connect_timeout_ms == 0
        {
            return Err(ConfigError::Invalid(
                "redis.timeout_ms, redis.retry_after_ms and redis.connect_timeout_ms must be at least 1".into(),
            ));
        }
        if self.server.body_limit_bytes == 0 {
            return Err(ConfigError::Invalid(
                "server.body_limit_bytes must be positive".into(),
            ));
        }
        Ok(())
    }
}
