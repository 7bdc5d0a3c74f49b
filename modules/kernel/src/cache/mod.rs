//! A small cache facade: Redis when `redis.url` is set (shared by every instance), otherwise an
//! in-process moka cache. Redis holds JSON; the in-process cache holds the values themselves,
//! so a hit costs a clone, not a parse. The cache may make requests faster, never make them
//! wait or fail: Redis is reached through [`RedisLink`] (a short timeout and a circuit
//! breaker), and while it is unavailable reads are misses (callers go to PostgreSQL), writes
//! are skipped and deletes are kept to be made before Redis is read again.
//!
//! In front of Redis sits a [`Near`] cache: a copy in process for `cache.near_ttl_ms` (a few
//! seconds), dropped on every instance when a key is deleted, so that the lookups of most
//! requests never reach Redis.

mod near;

pub use near::{INVALIDATE, Near};

use std::any::Any;
use std::sync::Arc;
use std::time::{Duration, Instant};

use redis::AsyncCommands;
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::breaker::{RedisLink, Unavailable};

#[derive(Clone)]
pub enum Cache {
    Memory(moka::future::Cache<String, Entry>),
    Redis { link: RedisLink, near: Near },
}

#[derive(Clone)]
pub struct Entry {
    value: Arc<dyn Any + Send + Sync>,
    ttl: Duration,
}

struct PerEntryTtl;

impl moka::Expiry<String, Entry> for PerEntryTtl {
    fn expire_after_create(&self, _key: &String, value: &Entry, _now: Instant) -> Option<Duration> {
        Some(value.ttl)
    }
    fn expire_after_update(
        &self,
        _key: &String,
        value: &Entry,
        _now: Instant,
        _current: Option<Duration>,
    ) -> Option<Duration> {
        Some(value.ttl)
    }
}

impl Cache {
    pub fn memory(capacity: u64) -> Self {
        Cache::Memory(
            moka::future::Cache::builder()
                .max_capacity(capacity)
                .expire_after(PerEntryTtl)
                .build(),
        )
    }

    pub fn redis(link: RedisLink, near: Near) -> Self {
        Cache::Redis { link, near }
    }

    /// The near cache in front of Redis, which [`Near::follow`]s the instances'
    /// invalidations.
    pub fn near(&self) -> Option<&Near> {
        match self {
            Cache::Memory(_) => None,
            Cache::Redis { near, .. } => Some(near),
        }
    }

    /// The Redis link when the cache is in Redis.
    pub fn redis_link(&self) -> Option<&RedisLink> {
        match self {
            Cache::Memory(_) => None,
            Cache::Redis { link, .. } => Some(link),
        }
    }

    pub fn backend(&self) -> &'static str {
        match self {
            Cache::Memory(_) => "memory",
            Cache::Redis { .. } => "redis",
        }
    }

    /// The value under `key`, read as the type it was `set` with.
    pub async fn get<T>(&self, key: &str) -> Option<T>
    where
        T: DeserializeOwned + Clone + Send + Sync + 'static,
    {
        match self {
            // Another type under the key is a miss, as a JSON shape mismatch is for Redis.
            Cache::Memory(cache) => cache
                .get(key)
                .await
                .and_then(|entry| entry.value.downcast_ref::<T>().cloned()),
            Cache::Redis { link, near } => {
                if let Some(value) = near.get::<T>(key).await {
                    return Some(value);
                }
                let read_began = near.generation();
                let read = link
                    .run(|mut connection| async move {
                        let mut pipe = redis::pipe();
                        pipe.get(key).cmd("PTTL").arg(key);
                        pipe.query_async::<(Option<Vec<u8>>, i64)>(&mut connection)
                            .await
                    })
                    .await;
                match read {
                    Ok((Some(bytes), ttl_ms)) => {
                        let value: T = serde_json::from_slice(&bytes).ok()?;
                        let ttl = Duration::from_millis(u64::try_from(ttl_ms).unwrap_or(0));
                        near.keep(key, value.clone(), ttl, read_began).await;
                        Some(value)
                    }
                    Ok((None, _)) => None,
                    // The breaker logs the outage once; each miss is not news.
                    Err(err) => {
                        log_skipped("read", &err);
                        None
                    }
                }
            }
        }
    }

    pub async fn set<T>(&self, key: &str, value: &T, ttl: Duration)
    where
        T: Serialize + Clone + Send + Sync + 'static,
    {
        match self {
            Cache::Memory(cache) => {
                cache
                    .insert(
                        key.to_string(),
                        Entry {
                            value: Arc::new(value.clone()),
                            ttl,
                        },
                    )
                    .await;
            }
            Cache::Redis { link, near } => {
                let write_began = near.generation();
                let Ok(bytes) = serde_json::to_vec(value) else {
                    return;
                };
                let seconds = ttl.as_secs().max(1);
                let written = link
                    .run(|mut connection| async move {
                        connection.set_ex::<_, _, ()>(key, bytes, seconds).await
                    })
                    .await;
                match written {
                    Ok(()) => near.keep(key, value.clone(), ttl, write_began).await,
                    Err(err) => log_skipped("write", &err),
                }
            }
        }
    }

    pub async fn delete(&self, keys: &[String]) {
        match self {
            Cache::Memory(cache) => {
                for key in keys {
                    cache.invalidate(key).await;
                }
            }
            // A delete that misses Redis is made before Redis is read again (RedisLink). The
            // near copies go after Redis's, so a read racing the delete cannot bring the old
            // value back into the near cache (see `near`), and other instances hear of it last.
            Cache::Redis { link, near } => {
                link.delete(keys).await;
                near.forget(keys.iter().map(String::as_str)).await;
                let channel = format!("{}{INVALIDATE}", crate::pubsub::PREFIX);
                let payload = keys.join("\n");
                let published = link
                    .run(|mut connection| async move {
                        connection.publish::<_, _, ()>(channel, payload).await
                    })
                    .await;
                if let Err(err) = published {
                    // Other instances' near copies expire within `cache.near_ttl_ms`.
                    log_skipped("invalidation", &err);
                }
            }
        }
    }

    /// Whether the backend answers (readiness); never waits longer than `redis.timeout_ms`.
    pub async fn ping(&self) -> Result<(), String> {
        match self {
            Cache::Memory(_) => Ok(()),
            Cache::Redis { link, .. } => link.ping().await.map_err(|err| err.to_string()),
        }
    }
}

fn log_skipped(what: &str, err: &Unavailable) {
    tracing::debug!(error = %err, "cache {what} skipped: Redis unavailable");
}

#[cfg(test)]
mod tests {
    //! The same behaviour is asserted for both backends. The Redis run needs `REDIS_URL`
    //! (the test script sets it); without it the Redis case fails loudly rather than skipping.
    use super::*;

    async fn redis_link(settings: &crate::config::RedisSettings) -> RedisLink {
        let url = std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into());
        let link = RedisLink::connect(&url, settings).await.unwrap();
        assert!(
            link.is_available(),
            "Redis at {url} is required for the cache tests"
        );
        link
    }

    async fn backends() -> Vec<Cache> {
        let redis = Cache::redis(
            redis_link(&Default::default()).await,
            Near::new(100, Duration::from_secs(2)),
        );
        vec![Cache::memory(100), redis]
    }

    fn key(name: &str) -> String {
        format!("test:{}:{name}", uuid::Uuid::new_v4())
    }

    #[tokio::test]
    async fn set_get_delete_round_trip() {
        for cache in backends().await {
            let key = key("round-trip");
            assert_eq!(
                cache.get::<Vec<u32>>(&key).await,
                None,
                "{}",
                cache.backend()
            );
            cache
                .set(&key, &vec![1u32, 2, 3], Duration::from_secs(30))
                .await;
            assert_eq!(
                cache.get::<Vec<u32>>(&key).await,
                Some(vec![1, 2, 3]),
                "{}",
                cache.backend()
            );
            cache.delete(std::slice::from_ref(&key)).await;
            assert_eq!(
                cache.get::<Vec<u32>>(&key).await,
                None,
                "{}",
                cache.backend()
            );
            assert!(cache.ping().await.is_ok());
        }
    }

    #[tokio::test]
    async fn entries_expire() {
        for cache in backends().await {
            let key = key("ttl");
            cache
                .set(&key, &"soon gone".to_string(), Duration::from_secs(1))
                .await;
            assert_eq!(
                cache.get::<String>(&key).await.as_deref(),
                Some("soon gone")
            );
            tokio::time::sleep(Duration::from_millis(1100)).await;
            assert_eq!(
                cache.get::<String>(&key).await,
                None,
                "{} kept an expired entry",
                cache.backend()
            );
        }
    }

    #[tokio::test]
    async fn a_value_of_another_shape_is_a_miss() {
        for cache in backends().await {
            let key = key("shape");
            cache.set(&key, &"text", Duration::from_secs(30)).await;
            assert_eq!(cache.get::<u64>(&key).await, None, "{}", cache.backend());
        }
    }

    #[tokio::test]
    async fn a_delete_made_during_an_outage_is_made_before_redis_is_read_again() {
        let settings = crate::config::RedisSettings {
            retry_after_ms: 100,
            ..Default::default()
        };
        let link = redis_link(&settings).await;
        let cache = Cache::redis(link.clone(), Near::new(100, Duration::from_secs(2)));
        let key = key("stale");
        cache
            .set(
                &key,
                &"before the outage".to_string(),
                Duration::from_secs(30),
            )
            .await;
        link.trip();
        // The outage: the delete cannot reach Redis (the entry is still there), reads miss.
        cache.delete(std::slice::from_ref(&key)).await;
        assert_eq!(cache.get::<String>(&key).await, None);
        tokio::time::sleep(Duration::from_millis(150)).await;
        // Back: the probe deletes the entry before anything is read.
        assert_eq!(
            cache.get::<String>(&key).await,
            None,
            "served a stale entry"
        );
        assert!(link.is_available());
        cache
            .set(&key, &"after".to_string(), Duration::from_secs(30))
            .await;
        assert_eq!(cache.get::<String>(&key).await.as_deref(), Some("after"));
    }
}
