//! The near cache: a short-lived copy, in this process, of what Redis holds, so a request
//! whose lookups are warm does not ask Redis for them.
//!
//! Staleness is bounded twice. A key deleted through [`super::Cache::delete`] is dropped here
//! at once, and on every other instance as soon as the invalidation published through Redis
//! reaches it ([`INVALIDATE`], heard by [`Near::follow`]). A missed invalidation (pub/sub down
//! at that moment) lasts no longer than `cache.near_ttl_ms`; after the subscriber comes back
//! ([`crate::pubsub::RESYNC`]) every entry is dropped, since invalidations may have gone
//! unheard.
//!
//! A read that misses here and goes to Redis may race an invalidation: Redis answers with the
//! old value, the invalidation arrives, and then the old value would be stored here. Every
//! invalidation bumps a generation, and a value read from Redis is kept only if no
//! invalidation happened since the read began.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::sync::broadcast;

use super::{Entry, PerEntryTtl};
use crate::pubsub::{Message, RESYNC};

/// The pub/sub topic of cache invalidations; the payload is the keys, one per line.
pub const INVALIDATE: &str = "cache.invalidate";

#[derive(Clone)]
pub struct Near {
    entries: moka::future::Cache<String, Entry>,
    ttl: Duration,
    generation: Arc<AtomicU64>,
}

/// Taken before a read goes to Redis; see [`Near::keep`].
#[derive(Clone, Copy)]
pub struct Generation(u64);

impl Near {
    pub fn new(capacity: u64, ttl: Duration) -> Self {
        Self {
            entries: moka::future::Cache::builder()
                .max_capacity(capacity)
                .expire_after(PerEntryTtl)
                .build(),
            ttl,
            generation: Arc::new(AtomicU64::new(0)),
        }
    }

    pub fn is_enabled(&self) -> bool {
        !self.ttl.is_zero()
    }

    pub async fn get<T: Clone + Send + Sync + 'static>(&self, key: &str) -> Option<T> {
        if !self.is_enabled() {
            return None;
        }
        self.entries
            .get(key)
            .await
            .and_then(|entry| entry.value.downcast_ref::<T>().cloned())
    }

    pub fn generation(&self) -> Generation {
        Generation(self.generation.load(Ordering::Acquire))
    }

    /// Keeps `value`, read from Redis after `read_began`, unless a key was invalidated since.
    /// It never outlives the Redis entry's `ttl`.
    pub async fn keep<T: Send + Sync + 'static>(
        &self,
        key: &str,
        value: T,
        ttl: Duration,
        read_began: Generation,
    ) {
        if !self.is_enabled() || self.generation.load(Ordering::Acquire) != read_began.0 {
            return;
        }
        let entry = Entry {
            value: Arc::new(value),
            ttl: ttl.min(self.ttl),
        };
        self.entries.insert(key.to_string(), entry).await;
    }

    pub async fn forget(&self, keys: impl IntoIterator<Item = &str>) {
        self.generation.fetch_add(1, Ordering::AcqRel);
        for key in keys {
            self.entries.invalidate(key).await;
        }
    }

    pub fn forget_all(&self) {
        self.generation.fetch_add(1, Ordering::AcqRel);
        self.entries.invalidate_all();
    }

    /// Applies the invalidations other instances publish, until the pub/sub closes. A
    /// listener that fell behind has skipped invalidations, so it forgets everything, as it
    /// does when the subscriber subscribed again.
    pub async fn follow(self, mut messages: broadcast::Receiver<Message>) {
        loop {
            match messages.recv().await {
                Ok(message) if message.topic == INVALIDATE => {
                    self.forget(message.payload.lines()).await;
                }
                Ok(message) if message.topic == RESYNC => self.forget_all(),
                Ok(_) => {}
                Err(broadcast::error::RecvError::Lagged(_)) => self.forget_all(),
                Err(broadcast::error::RecvError::Closed) => return,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LONG: Duration = Duration::from_secs(60);

    #[tokio::test]
    async fn a_value_read_before_an_invalidation_is_not_kept() {
        let near = Near::new(100, LONG);
        let read_began = near.generation();
        near.forget(["gym:1:info"]).await;
        near.keep("gym:1:info", 7u32, LONG, read_began).await;
        assert_eq!(near.get::<u32>("gym:1:info").await, None);

        let read_began = near.generation();
        near.keep("gym:1:info", 8u32, LONG, read_began).await;
        assert_eq!(near.get::<u32>("gym:1:info").await, Some(8));
    }

    #[tokio::test]
    async fn entries_live_no_longer_than_the_near_ttl() {
        let near = Near::new(100, Duration::from_millis(50));
        near.keep("k", 1u8, LONG, near.generation()).await;
        assert_eq!(near.get::<u8>("k").await, Some(1));
        tokio::time::sleep(Duration::from_millis(80)).await;
        assert_eq!(near.get::<u8>("k").await, None);
    }

    #[tokio::test]
    async fn published_invalidations_and_a_resync_drop_entries() {
        let near = Near::new(100, LONG);
        let (sender, receiver) = broadcast::channel(16);
        tokio::spawn(near.clone().follow(receiver));
        for key in ["a", "b", "c"] {
            near.keep(key, 1u8, LONG, near.generation()).await;
        }
        let send = |topic: &str, payload: &str| {
            sender
                .send(Message {
                    topic: topic.into(),
                    payload: payload.into(),
                })
                .unwrap();
        };
        send(INVALIDATE, "a\nb");
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert_eq!(near.get::<u8>("a").await, None);
        assert_eq!(near.get::<u8>("b").await, None);
        assert_eq!(near.get::<u8>("c").await, Some(1));
        send(RESYNC, "");
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert_eq!(near.get::<u8>("c").await, None);
    }

    #[tokio::test]
    async fn a_zero_ttl_turns_it_off() {
        let near = Near::new(100, Duration::ZERO);
        near.keep("k", 1u8, LONG, near.generation()).await;
        assert_eq!(near.get::<u8>("k").await, None);
    }
}
