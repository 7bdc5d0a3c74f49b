use poem_openapi::payload::{Json, PlainText};
use poem_openapi::{ApiResponse, Object, OpenApi, Tags};

use crate::AppContext;

/// How long readiness waits for PostgreSQL: well inside the 1 s orchestrators usually allow
/// a probe.
const READY_DATABASE_TIMEOUT: std::time::Duration = std::time::Duration::from_millis(500);

#[derive(Tags)]
enum OpsTags {
    /// Liveness, readiness and metrics for orchestrators and monitoring.
    Operations,
}

#[derive(Debug, Object)]
pub struct Health {
    /// `ok`, or `unavailable` when a dependency failed or the process is shutting down.
    pub status: String,
    /// Per dependency: `ok`, `not_configured`, `shutting_down`, or the failure.
    pub checks: Vec<HealthCheck>,
}

#[derive(Debug, Object)]
pub struct HealthCheck {
    pub name: String,
    pub status: String,
}

#[derive(ApiResponse)]
pub enum ReadyResponse {
    /// Ready to serve traffic.
    #[oai(status = 200)]
    Ready(Json<Health>),
    /// A dependency is down or the process is draining; `checks` says which.
    #[oai(status = 503)]
    NotReady(Json<Health>),
}

pub struct OperationsApi {
    pub ctx: AppContext,
}

#[OpenApi(tag = "OpsTags::Operations")]
impl OperationsApi {
    /// Liveness: the process answers
    ///
    /// Touches no dependency, so a database blip never restarts every instance.
    #[oai(path = "/health/live", method = "get", operation_id = "health_live")]
    async fn live(&self) -> Json<Health> {
        Json(Health {
            status: "ok".into(),
            checks: vec![],
        })
    }

    /// Readiness: dependencies answer and the process is not shutting down
    ///
    /// Checks PostgreSQL (waiting at most 500 ms), and Redis when configured; 503 names what failed.
    #[oai(path = "/health/ready", method = "get", operation_id = "health_ready")]
    async fn ready(&self) -> ReadyResponse {
        let mut checks = Vec::new();
        let mut healthy = true;
        if self.ctx.shutdown.is_draining() {
            healthy = false;
            checks.push(HealthCheck {
                name: "process".into(),
                status: "shutting_down".into(),
            });
        }
        // Bounded: with the database down, acquiring a connection alone would wait for the
        // pool's acquire timeout, and probes give up long before that.
        let database = match crate::db::ping(&self.ctx.db, READY_DATABASE_TIMEOUT).await {
            Ok(()) => "ok".to_string(),
            Err(failure) => {
                healthy = false;
                failure
            }
        };
        checks.push(HealthCheck {
            name: "postgres".into(),
            status: database,
        });
        // Redis down is not a reason to leave the rotation: this instance serves correctly
        // without it (cache misses go to PostgreSQL, limits and fan-out run in process), so
        // readiness stays 200 with `status: degraded` and the Redis check saying why. The check
        // goes through the breaker: while it is open nothing is sent, otherwise it waits at
        // most `redis.timeout_ms`.
        let mut degraded = false;
        let redis = match &self.ctx.cache {
            crate::Cache::Memory(_) => "not_configured".to_string(),
            cache => match cache.ping().await {
                Ok(()) => "ok".to_string(),
                Err(err) => {
                    degraded = true;
                    format!("unavailable ({err}); serving with in-process fallbacks")
                }
            },
        };
        checks.push(HealthCheck {
            name: "redis".into(),
            status: redis,
        });
        let status = match (healthy, degraded) {
            (false, _) => "unavailable",
            (true, true) => "degraded",
            (true, false) => "ok",
        }
        .to_string();
        let health = Json(Health { status, checks });
        if healthy {
            ReadyResponse::Ready(health)
        } else {
            ReadyResponse::NotReady(health)
        }
    }

    /// Prometheus metrics in the text exposition format.
    #[oai(path = "/metrics", method = "get", operation_id = "metrics")]
    async fn metrics(&self) -> PlainText<String> {
        PlainText(self.ctx.metrics.render(&self.ctx.db))
    }
}
