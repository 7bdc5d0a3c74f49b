//! Fan-out of live messages (notifications to open streams) across instances: Redis pub/sub
//! when `redis.url` is set, an in-process broadcast otherwise. Every instance forwards what it
//! hears into a local broadcast that its open streams subscribe to. Delivery is best effort:
//! a stream that misses a message catches up from the database (`Last-Event-ID`).
//!
//! Redis never holds a message up: publishing goes through the [`RedisLink`] (timeout and
//! breaker), and while Redis is unavailable, or this instance's subscriber is not listening,
//! messages are delivered locally. The subscriber reconnects in the background. A message that
//! could not go through Redis is kept (up to [`PENDING_LIMIT`]) and published once Redis
//! answers again, so other instances' streams get it late rather than only on their client's
//! next reconnect. A message delivered twice (locally and through Redis) is harmless: streams
//! skip what they have already sent.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use futures_util::StreamExt;
use redis::AsyncCommands;
use tokio::sync::{broadcast, oneshot};

use crate::breaker::RedisLink;

/// Channels are `gymapi:<topic>`; Redis subscribers match `gymapi:*`.
pub(crate) const PREFIX: &str = "gymapi:";
/// Messages a slow local subscriber may fall behind before it skips ahead.
const LOCAL_BUFFER: usize = 1024;
/// The topic of the message the subscriber sends local listeners after it subscribed again:
/// messages published meanwhile never reached this instance, so listeners catch up from
/// their tables.
pub const RESYNC: &str = "pubsub.resync";
/// Messages kept for Redis while it is unavailable; past this the oldest are dropped (their
/// streams catch up from the table when the client reconnects).
pub const PENDING_LIMIT: usize = 10_000;

#[derive(Debug, Clone)]
pub struct Message {
    pub topic: String,
    pub payload: String,
}

#[derive(Clone)]
pub struct PubSub {
    local: broadcast::Sender<Message>,
    redis: Option<RedisSide>,
}

#[derive(Clone)]
struct RedisSide {
    link: RedisLink,
    /// Whether this instance's subscriber hears Redis now.
    listening: Arc<AtomicBool>,
    /// Published locally while Redis was unavailable, waiting to go through it: (channel,
    /// payload), oldest first.
    pending: Arc<Mutex<VecDeque<(String, String)>>>,
}

impl PubSub {
    pub fn in_process() -> Self {
        Self {
            local: broadcast::channel(LOCAL_BUFFER).0,
            redis: None,
        }
    }

    /// Publishes through Redis and starts the subscriber that feeds local streams. Waits for
    /// the first subscription at most `redis.connect_timeout_ms` (not at all when Redis
    /// refuses): without it the subscriber keeps trying in the background.
    pub async fn redis(link: &RedisLink) -> Self {
        let local = broadcast::channel(LOCAL_BUFFER).0;
        let listening = Arc::new(AtomicBool::new(false));
        let (first, first_done) = oneshot::channel();
        tokio::spawn(listen(
            link.clone(),
            local.clone(),
            listening.clone(),
            first,
        ));
        let _ = tokio::time::timeout(link.connect_timeout(), first_done).await;
        let pending = Arc::new(Mutex::new(VecDeque::new()));
        tokio::spawn(flush_pending(link.clone(), pending.clone()));
        Self {
            local,
            redis: Some(RedisSide {
                link: link.clone(),
                listening,
                pending,
            }),
        }
    }

    pub async fn publish(&self, topic: &str, payload: String) {
        if let Some(redis) = &self.redis {
            let channel = format!("{PREFIX}{topic}");
            let sent = redis
                .link
                .run(|mut connection| {
                    let payload = payload.as_str();
                    async move { connection.publish::<_, _, ()>(channel, payload).await }
                })
                .await;
            match sent {
                // This instance's streams hear it from its own subscriber.
                Ok(()) if redis.listening.load(Ordering::Acquire) => return,
                Ok(()) => {}
                Err(err) => {
                    tracing::debug!(error = %err, topic, "publish through Redis deferred; delivering locally");
                    let mut pending = redis.pending.lock().unwrap_or_else(|p| p.into_inner());
                    if pending.len() >= PENDING_LIMIT {
                        pending.pop_front();
                    }
                    pending.push_back((format!("{PREFIX}{topic}"), payload.clone()));
                }
            }
        }
        let _ = self.local.send(Message {
            topic: topic.to_string(),
            payload,
        });
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Message> {
        self.local.subscribe()
    }
}

/// Publishes what could not go through Redis, oldest first, once it answers again: every
/// `redis.retry_after_ms` while anything waits (the attempt is also the breaker's probe).
async fn flush_pending(link: RedisLink, pending: Arc<Mutex<VecDeque<(String, String)>>>) {
    loop {
        tokio::time::sleep(link.retry_after()).await;
        loop {
            let next = pending
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .front()
                .cloned();
            let Some((channel, payload)) = next else {
                break;
            };
            let sent = link
                .run(|mut connection| async move {
                    connection.publish::<_, _, ()>(channel, payload).await
                })
                .await;
            if sent.is_err() {
                break;
            }
            pending
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .pop_front();
        }
    }
}

/// The subscriber: forwards what Redis carries into the local broadcast, and reconnects every
/// `redis.retry_after_ms` while Redis is away. Logs once per change.
async fn listen(
    link: RedisLink,
    local: broadcast::Sender<Message>,
    listening: Arc<AtomicBool>,
    first: oneshot::Sender<()>,
) {
    let mut first = Some(first);
    let mut announced_down = false;
    loop {
        let subscribed = tokio::time::timeout(link.connect_timeout(), async {
            let mut connection = link.client().get_async_pubsub().await?;
            connection.psubscribe(format!("{PREFIX}*")).await?;
            Ok::<_, redis::RedisError>(connection)
        })
        .await;
        match subscribed {
            Ok(Ok(connection)) => {
                listening.store(true, Ordering::Release);
                if announced_down {
                    tracing::warn!("Redis pub/sub subscribed again");
                }
                if first.is_none() {
                    let _ = local.send(Message {
                        topic: RESYNC.to_string(),
                        payload: String::new(),
                    });
                }
                if let Some(first) = first.take() {
                    let _ = first.send(());
                }
                let mut messages = connection.into_on_message();
                while let Some(message) = messages.next().await {
                    let channel = message.get_channel_name().to_string();
                    let Some(topic) = channel.strip_prefix(PREFIX) else {
                        continue;
                    };
                    if let Ok(payload) = message.get_payload::<String>() {
                        let _ = local.send(Message {
                            topic: topic.to_string(),
                            payload,
                        });
                    }
                }
                listening.store(false, Ordering::Release);
                tracing::warn!(
                    "Redis pub/sub connection lost; delivering locally until it is back"
                );
                announced_down = true;
            }
            failed => {
                if !announced_down {
                    let error = match failed {
                        Ok(Err(err)) => err.to_string(),
                        _ => "timed out".to_string(),
                    };
                    tracing::warn!(%error, "Redis pub/sub unavailable; delivering locally and retrying in the background");
                    announced_down = true;
                }
                if let Some(first) = first.take() {
                    let _ = first.send(());
                }
            }
        }
        tokio::time::sleep(link.retry_after()).await;
    }
}
