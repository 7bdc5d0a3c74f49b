//! Fan-out of live messages (notifications to open streams) across instances: Redis pub/sub
//! when `redis.url` is set, an in-process broadcast otherwise. Every instance forwards what it
//! hears into a local broadcast that its open streams subscribe to. Delivery is best effort:
//! a stream that misses a message catches up from the database (`Last-Event-ID`).
//!
//! Redis never holds a message up: publishing goes through the [`RedisLink`] (timeout and
//! breaker), and while Redis is unavailable, or this instance's subscriber is not listening,
//! messages are delivered locally. The subscriber reconnects in the background. A message
//! delivered twice (locally and through Redis, around a reconnection) is harmless: streams skip
//! what they have already sent.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use futures_util::StreamExt;
use redis::AsyncCommands;
use tokio::sync::{broadcast, oneshot};

use crate::breaker::RedisLink;

/// Channels are `gymapi:<topic>`; Redis subscribers match `gymapi:*`.
const PREFIX: &str = "gymapi:";
/// Messages a slow local subscriber may fall behind before it skips ahead.
const LOCAL_BUFFER: usize = 1024;

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
        Self {
            local,
            redis: Some(RedisSide {
                link: link.clone(),
                listening,
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
                    tracing::debug!(error = %err, topic, "publish through Redis skipped; delivering locally");
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
