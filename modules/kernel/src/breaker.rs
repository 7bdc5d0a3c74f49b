//! The way to Redis, shared by the cache, the rate limiter and pub/sub. Redis makes the API
//! faster and shares state across instances; it must never make a request wait or fail.
//!
//! Every call goes through one [`Breaker`] and `redis.timeout_ms`. The call that finds Redis
//! dead or slow waits at most that long; it opens the breaker, and while the breaker is open
//! no call is made at all: callers take their in-process fallback (the cache misses to
//! PostgreSQL, the rate limiter counts in process, pub/sub delivers locally). After
//! `redis.retry_after_ms` one call probes Redis; the breaker closes when the probe succeeds.
//!
//! The connection is a lazy [`ConnectionManager`] that makes one attempt per reconnection (the
//! breaker paces the retries), so creating it touches no network and a reconnection never
//! keeps calls waiting through a backoff. [`RedisLink::connect`] waits for the first
//! connection at most `redis.connect_timeout_ms`; past that the server starts degraded and the
//! attempt finishes in the background.

use std::collections::HashSet;
use std::fmt;
use std::future::Future;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use prometheus::core::Collector;
use prometheus::{IntCounter, IntGauge};
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{AsyncCommands, RedisError, RedisResult};

use crate::config::RedisSettings;

/// closed → open on a failure or timeout → after `retry_after`, one probe → closed when it
/// succeeds, open again when it fails. A new breaker is open with its probe due, so the first
/// call finds out whether Redis is there.
pub struct Breaker {
    inner: Mutex<Inner>,
    retry_after: Duration,
    /// 1 while calls go to Redis, 0 while the breaker is open or probing.
    up: IntGauge,
    /// Calls that failed or timed out (calls skipped while open are not counted).
    failures: IntCounter,
}

struct Inner {
    state: State,
    /// What the log last said (`None`: nothing yet), so it speaks once per change.
    announced_up: Option<bool>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Closed,
    Open {
        until: Instant,
    },
    /// One probe is under way; everyone else keeps to the fallback.
    Probing,
}

/// Leave to make one call. Settle it with [`Breaker::succeeded`] or [`Breaker::failed`]; a
/// probe dropped unsettled (its request went away) lets the next call probe.
pub struct Permit<'a> {
    breaker: &'a Breaker,
    probe: bool,
    settled: bool,
}

impl Permit<'_> {
    pub fn is_probe(&self) -> bool {
        self.probe
    }
}

impl Drop for Permit<'_> {
    fn drop(&mut self) {
        if self.probe && !self.settled {
            self.breaker.lock().state = State::Open {
                until: Instant::now(),
            };
        }
    }
}

impl Breaker {
    pub fn new(retry_after: Duration) -> Result<Self, prometheus::Error> {
        let up = IntGauge::new(
            "redis_up",
            "1 while Redis is used, 0 while its circuit breaker is open (in-process fallbacks)",
        )?;
        let failures = IntCounter::new(
            "redis_failures_total",
            "Redis calls that failed or timed out",
        )?;
        Ok(Self {
            inner: Mutex::new(Inner {
                state: State::Open {
                    until: Instant::now(),
                },
                announced_up: None,
            }),
            retry_after,
            up,
            failures,
        })
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // The lock guards plain values that every writer leaves consistent.
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Leave to call Redis now, or `None` while the breaker is open (or another call probes).
    pub fn permit(&self) -> Option<Permit<'_>> {
        let mut inner = self.lock();
        let probe = match inner.state {
            State::Closed => false,
            State::Open { until } if Instant::now() >= until => {
                inner.state = State::Probing;
                true
            }
            State::Open { .. } | State::Probing => return None,
        };
        Some(Permit {
            breaker: self,
            probe,
            settled: false,
        })
    }

    /// Whether calls go to Redis.
    pub fn is_closed(&self) -> bool {
        self.lock().state == State::Closed
    }

    pub fn retry_after(&self) -> Duration {
        self.retry_after
    }

    /// A probe's success closes the breaker. A call made while closed changes nothing: it may
    /// have started before another call found Redis gone.
    pub fn succeeded(&self, mut permit: Permit<'_>) {
        permit.settled = true;
        if !permit.probe {
            return;
        }
        let mut inner = self.lock();
        inner.state = State::Closed;
        self.up.set(1);
        if inner.announced_up != Some(true) {
            if inner.announced_up.is_none() {
                tracing::info!("Redis connected");
            } else {
                tracing::warn!("Redis answers again; leaving the in-process fallbacks");
            }
            inner.announced_up = Some(true);
        }
    }

    /// Any failure (an error or a timeout) opens the breaker for `retry_after`.
    pub fn failed(&self, mut permit: Permit<'_>, error: &dyn fmt::Display) {
        permit.settled = true;
        self.failures.inc();
        let mut inner = self.lock();
        inner.state = State::Open {
            until: Instant::now() + self.retry_after,
        };
        self.up.set(0);
        if inner.announced_up != Some(false) {
            tracing::warn!(
                %error,
                retry_after_ms = self.retry_after.as_millis() as u64,
                "Redis unavailable; serving with in-process fallbacks until it answers again"
            );
            inner.announced_up = Some(false);
        } else {
            tracing::debug!(%error, "Redis still unavailable");
        }
    }

    /// The probe succeeded but left work undone: the next call probes again at once.
    fn probe_again(&self, mut permit: Permit<'_>) {
        permit.settled = true;
        self.lock().state = State::Open {
            until: Instant::now(),
        };
    }

    /// The breaker's gauge and failure counter, for the app's Prometheus registry.
    pub fn collectors(&self) -> Vec<Box<dyn Collector>> {
        vec![Box::new(self.up.clone()), Box::new(self.failures.clone())]
    }
}

/// Why a Redis call was not made or did not succeed; callers fall back either way.
#[derive(Debug, thiserror::Error)]
pub enum Unavailable {
    #[error("circuit open after a failure; Redis is tried again every {retry_after_ms} ms")]
    Open { retry_after_ms: u64 },
    #[error("no answer within {0} ms")]
    TimedOut(u64),
    #[error(transparent)]
    Failed(#[from] RedisError),
}

/// Deletes that could not reach Redis are kept to be made before Redis is used again.
///
/// Why: an entry written before an outage and invalidated during it would otherwise be served
/// from Redis after the outage until its TTL ends (up to `cache.tenant_ttl_seconds`, 300 s by
/// default: a removed member keeping access for minutes). Short TTLs would bound that only by
/// making the cache much less useful all the time, so the keys are kept instead, and the probe
/// that would close the breaker deletes them first: the breaker closes only with the list
/// empty, so no read goes to Redis before they are gone. Bounds: at most [`MAX_STALE_KEYS`]
/// keys (past that, and for an instance that stops during the outage, entries live until
/// their TTL, which the log says), and an instance that reaches Redis while this one cannot
/// (a partition, not a dead Redis) may serve the entry until this one reaches Redis again.
/// A Redis that restarts empty has nothing stale; deleting again is harmless.
#[derive(Default)]
struct StaleKeys {
    keys: HashSet<String>,
    overflowed: bool,
}

pub const MAX_STALE_KEYS: usize = 10_000;
/// Keys per DEL when clearing the stale keys.
const DELETE_BATCH: usize = 1000;

/// A Redis connection behind the breaker and the timeout. Cheap to clone.
#[derive(Clone)]
pub struct RedisLink(Arc<Link>);

struct Link {
    client: redis::Client,
    connection: ConnectionManager,
    breaker: Breaker,
    timeout: Duration,
    connect_timeout: Duration,
    stale: Mutex<StaleKeys>,
}

fn ms(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

async fn ping(mut connection: ConnectionManager) -> RedisResult<()> {
    redis::cmd("PING")
        .query_async::<String>(&mut connection)
        .await?;
    Ok(())
}

impl RedisLink {
    /// The link, after waiting at most `redis.connect_timeout_ms` for the first connection.
    /// Only a malformed URL is an error: an unreachable Redis starts the link degraded.
    pub async fn connect(url: &str, settings: &RedisSettings) -> anyhow::Result<Self> {
        let link = Self::lazy(url, settings)?;
        let first = tokio::spawn({
            let link = link.clone();
            async move { link.first_connection().await }
        });
        // Past the wait the attempt goes on (and settles the breaker) in the background.
        let _ = tokio::time::timeout(link.0.connect_timeout, first).await;
        Ok(link)
    }

    /// The link without any network call; the first call connects.
    pub fn lazy(url: &str, settings: &RedisSettings) -> anyhow::Result<Self> {
        let client = redis::Client::open(url)?;
        let connect_timeout = Duration::from_millis(settings.connect_timeout_ms);
        let config = ConnectionManagerConfig::new()
            .set_number_of_retries(0)
            .set_connection_timeout(Some(connect_timeout));
        let connection = ConnectionManager::new_lazy_with_config(client.clone(), config)?;
        Ok(Self(Arc::new(Link {
            client,
            connection,
            breaker: Breaker::new(Duration::from_millis(settings.retry_after_ms))?,
            timeout: Duration::from_millis(settings.timeout_ms),
            connect_timeout,
            stale: Mutex::new(StaleKeys::default()),
        })))
    }

    /// The start-up probe: like any probe, but with the connection's own time limit.
    async fn first_connection(&self) {
        let Some(permit) = self.0.breaker.permit() else {
            return;
        };
        let result =
            match tokio::time::timeout(self.0.connect_timeout, ping(self.0.connection.clone()))
                .await
            {
                Ok(result) => result.map_err(Unavailable::from),
                Err(_) => Err(Unavailable::TimedOut(ms(self.0.connect_timeout))),
            };
        self.settle(permit, &result);
    }

    /// Runs `op` on the connection, unless the breaker is open; at most `redis.timeout_ms`.
    pub async fn run<T, F, Fut>(&self, op: F) -> Result<T, Unavailable>
    where
        F: FnOnce(ConnectionManager) -> Fut,
        Fut: Future<Output = RedisResult<T>>,
    {
        let permit = self.permit()?;
        let result = self.call(&permit, op).await;
        self.settle(permit, &result);
        result
    }

    /// Whether Redis answers (readiness): a PING through the breaker.
    pub async fn ping(&self) -> Result<(), Unavailable> {
        self.run(ping).await
    }

    /// Deletes `keys`; one that cannot reach Redis now is deleted before Redis is read again
    /// (see [`StaleKeys`]).
    pub async fn delete(&self, keys: &[String]) {
        if keys.is_empty() {
            return;
        }
        let permit = {
            let mut stale = self.stale();
            match self.0.breaker.permit() {
                Some(permit) => permit,
                None => {
                    self.set_aside(&mut stale, keys);
                    return;
                }
            }
        };
        let result = self
            .call(&permit, |mut connection| async move {
                connection.del::<_, ()>(keys).await
            })
            .await;
        if result.is_err() {
            self.set_aside(&mut self.stale(), keys);
        }
        self.settle(permit, &result);
    }

    /// Whether calls go to Redis now (the breaker is closed).
    pub fn is_available(&self) -> bool {
        self.0.breaker.is_closed()
    }

    /// The client, for connections of another kind (the pub/sub subscriber).
    pub fn client(&self) -> &redis::Client {
        &self.0.client
    }

    pub fn connect_timeout(&self) -> Duration {
        self.0.connect_timeout
    }

    pub fn retry_after(&self) -> Duration {
        self.0.breaker.retry_after()
    }

    /// Prometheus collectors for the breaker's state and failures.
    pub fn collectors(&self) -> Vec<Box<dyn Collector>> {
        self.0.breaker.collectors()
    }

    /// Opens the breaker as a failed call would (tests simulate an outage with it).
    #[cfg(test)]
    pub(crate) fn trip(&self) {
        let breaker = &self.0.breaker;
        let permit = Permit {
            breaker,
            probe: false,
            settled: false,
        };
        breaker.failed(permit, &"tripped by hand");
    }

    fn permit(&self) -> Result<Permit<'_>, Unavailable> {
        self.0.breaker.permit().ok_or(Unavailable::Open {
            retry_after_ms: ms(self.0.breaker.retry_after()),
        })
    }

    fn stale(&self) -> MutexGuard<'_, StaleKeys> {
        self.0.stale.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn set_aside(&self, stale: &mut StaleKeys, keys: &[String]) {
        for key in keys {
            if stale.keys.len() >= MAX_STALE_KEYS && !stale.keys.contains(key) {
                if !stale.overflowed {
                    tracing::error!(
                        max = MAX_STALE_KEYS,
                        "too many cache deletes missed Redis; the rest may be served stale until their TTL ends"
                    );
                    stale.overflowed = true;
                }
                continue;
            }
            stale.keys.insert(key.clone());
        }
    }

    /// One call under `permit`, within `redis.timeout_ms`. A probe first makes sure Redis
    /// answers and deletes the stale keys.
    async fn call<T, F, Fut>(&self, permit: &Permit<'_>, op: F) -> Result<T, Unavailable>
    where
        F: FnOnce(ConnectionManager) -> Fut,
        Fut: Future<Output = RedisResult<T>>,
    {
        let work = async {
            if permit.is_probe() {
                self.reach().await?;
                self.delete_stale().await?;
            }
            op(self.0.connection.clone())
                .await
                .map_err(Unavailable::from)
        };
        match tokio::time::timeout(self.0.timeout, work).await {
            Ok(result) => result,
            Err(_) => Err(Unavailable::TimedOut(ms(self.0.timeout))),
        }
    }

    /// A broken connection is reported to the first call after it, and that call starts a new
    /// connection; a probe that meets the old error tries once more, on the new connection, so
    /// a Redis that is back is seen at the first probe rather than the second.
    async fn reach(&self) -> RedisResult<()> {
        if ping(self.0.connection.clone()).await.is_ok() {
            return Ok(());
        }
        ping(self.0.connection.clone()).await
    }

    async fn delete_stale(&self) -> RedisResult<()> {
        loop {
            let batch: Vec<String> = {
                let stale = self.stale();
                if stale.keys.is_empty() {
                    return Ok(());
                }
                stale.keys.iter().take(DELETE_BATCH).cloned().collect()
            };
            self.0.connection.clone().del::<_, ()>(&batch).await?;
            let mut stale = self.stale();
            for key in &batch {
                stale.keys.remove(key);
            }
        }
    }

    fn settle<T>(&self, permit: Permit<'_>, result: &Result<T, Unavailable>) {
        match result {
            Ok(_) if permit.is_probe() => {
                // Under the lock that deletes take to set keys aside: once closed, every
                // delete goes to Redis, so no key can be left behind.
                let mut stale = self.stale();
                if stale.keys.is_empty() {
                    stale.overflowed = false;
                    self.0.breaker.succeeded(permit);
                } else {
                    self.0.breaker.probe_again(permit);
                }
            }
            Ok(_) => self.0.breaker.succeeded(permit),
            Err(error) => self.0.breaker.failed(permit, error),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_breaker_opens_on_a_failure_and_closes_after_one_successful_probe() {
        let breaker = Breaker::new(Duration::from_millis(50)).unwrap();
        // New: the first call probes, and nobody else calls meanwhile.
        let probe = breaker.permit().unwrap();
        assert!(probe.is_probe());
        assert!(breaker.permit().is_none());
        breaker.succeeded(probe);
        assert!(breaker.is_closed());

        let call = breaker.permit().unwrap();
        assert!(!call.is_probe());
        breaker.failed(call, &"boom");
        assert!(!breaker.is_closed());
        assert!(breaker.permit().is_none(), "open: no call at all");

        std::thread::sleep(Duration::from_millis(60));
        let probe = breaker.permit().unwrap();
        assert!(probe.is_probe());
        assert!(breaker.permit().is_none(), "one probe at a time");
        breaker.failed(probe, &"still down");
        assert!(breaker.permit().is_none(), "a failed probe opens it again");

        std::thread::sleep(Duration::from_millis(60));
        let probe = breaker.permit().unwrap();
        drop(probe);
        let probe = breaker.permit().unwrap();
        assert!(
            probe.is_probe(),
            "a probe dropped unsettled lets the next call probe"
        );
        breaker.succeeded(probe);
        assert!(breaker.is_closed());
        assert!(!breaker.permit().unwrap().is_probe());
    }

    #[test]
    fn an_old_success_does_not_close_an_open_breaker() {
        let breaker = Breaker::new(Duration::from_secs(60)).unwrap();
        breaker.succeeded(breaker.permit().unwrap());
        let early = breaker.permit().unwrap();
        let late = breaker.permit().unwrap();
        breaker.failed(late, &"boom");
        breaker.succeeded(early);
        assert!(!breaker.is_closed());
    }

    #[tokio::test]
    async fn an_unreachable_redis_fails_fast_and_then_is_not_called() {
        // Nothing listens on port 1.
        let settings = RedisSettings::default();
        let started = Instant::now();
        let link = RedisLink::connect("redis://127.0.0.1:1", &settings)
            .await
            .unwrap();
        assert!(started.elapsed() < Duration::from_millis(1500));
        assert!(!link.is_available());
        assert!(matches!(link.ping().await, Err(Unavailable::Open { .. })));
        let started = Instant::now();
        link.delete(&["gone".to_string()]).await;
        assert!(started.elapsed() < Duration::from_millis(20));
        assert!(link.stale().keys.contains("gone"));
    }
}
