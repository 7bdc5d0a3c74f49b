//! A small cache facade: Redis when `redis.url` is set (shared by every instance), otherwise an
//! in-process moka cache. Redis holds JSON; the in-process cache holds the values themselves,
//! so a hit costs a clone, not a parse. A cache failure is logged and treated as a miss: the
//! cache may make requests faster, never make them fail.

use std::any::Any;
use std::sync::Arc;
use std::time::{Duration, Instant};

use redis::AsyncCommands;
use redis::aio::ConnectionManager;
use serde::Serialize;
use serde::de::DeserializeOwned;

#[derive(Clone)]
pub enum Cache {
    Memory(moka::future::Cache<String, Entry>),
    Redis(ConnectionManager),
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

    pub async fn redis(url: &str) -> Result<Self, redis::RedisError> {
        let client = redis::Client::open(url)?;
        Ok(Cache::Redis(ConnectionManager::new(client).await?))
    }

    pub fn backend(&self) -> &'static str {
        match self {
            Cache::Memory(_) => "memory",
            Cache::Redis(_) => "redis",
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
            Cache::Redis(conn) => match conn.clone().get::<_, Option<Vec<u8>>>(key).await {
                Ok(bytes) => bytes.and_then(|bytes| serde_json::from_slice(&bytes).ok()),
                Err(err) => {
                    tracing::warn!(error = %err, "cache read failed");
                    None
                }
            },
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
            Cache::Redis(conn) => {
                let Ok(bytes) = serde_json::to_vec(value) else {
                    return;
                };
                let seconds = ttl.as_secs().max(1);
                if let Err(err) = conn.clone().set_ex::<_, _, ()>(key, bytes, seconds).await {
                    tracing::warn!(error = %err, "cache write failed");
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
            Cache::Redis(conn) => {
                if keys.is_empty() {
                    return;
                }
                if let Err(err) = conn.clone().del::<_, ()>(keys).await {
                    tracing::warn!(error = %err, "cache delete failed");
                }
            }
        }
    }

    /// Whether the backend answers (readiness).
    pub async fn ping(&self) -> Result<(), String> {
        match self {
            Cache::Memory(_) => Ok(()),
            Cache::Redis(conn) => redis::cmd("PING")
                .query_async::<String>(&mut conn.clone())
                .await
                .map(|_| ())
                .map_err(|err| err.to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    //! The same behaviour is asserted for both backends. The Redis run needs `REDIS_URL`
    //! (the test script sets it); without it the Redis case fails loudly rather than skipping.
    use super::*;

    async fn backends() -> Vec<Cache> {
        let url = std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into());
        let redis = match Cache::redis(&url).await {
            Ok(cache) => cache,
            Err(err) => panic!("Redis at {url} is required for the cache tests: {err}"),
        };
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
}
