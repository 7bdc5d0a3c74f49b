//! Fan-out of live messages (notifications to open streams) across instances: Redis pub/sub
//! when `redis.url` is set, an in-process broadcast otherwise. Every instance forwards what it
//! hears into a local broadcast that its open streams subscribe to. Delivery is best effort:
//! a stream that misses a message catches up from the database (`Last-Event-ID`).

use futures_util::StreamExt;
use redis::AsyncCommands;
use redis::aio::ConnectionManager;
use tokio::sync::broadcast;

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
    redis: Option<ConnectionManager>,
}

impl PubSub {
    pub fn in_process() -> Self {
        Self {
            local: broadcast::channel(LOCAL_BUFFER).0,
            redis: None,
        }
    }

    /// Publishes through Redis and starts the subscriber that feeds local streams; it
    /// reconnects on its own when Redis goes away.
    pub async fn redis(url: &str) -> Result<Self, redis::RedisError> {
        let client = redis::Client::open(url)?;
        let publisher = ConnectionManager::new(client.clone()).await?;
        let local = broadcast::channel(LOCAL_BUFFER).0;
        let mut pubsub = client.get_async_pubsub().await?;
        pubsub.psubscribe(format!("{PREFIX}*")).await?;
        tokio::spawn(forward(client, pubsub, local.clone()));
        Ok(Self {
            local,
            redis: Some(publisher),
        })
    }

    pub async fn publish(&self, topic: &str, payload: String) {
        match &self.redis {
            Some(connection) => {
                let channel = format!("{PREFIX}{topic}");
                if let Err(err) = connection
                    .clone()
                    .publish::<_, _, ()>(channel, payload)
                    .await
                {
                    tracing::warn!(error = %err, topic, "publish failed; streams will catch up on reconnect");
                }
            }
            None => {
                let _ = self.local.send(Message {
                    topic: topic.to_string(),
                    payload,
                });
            }
        }
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Message> {
        self.local.subscribe()
    }
}

async fn forward(
    client: redis::Client,
    first: redis::aio::PubSub,
    local: broadcast::Sender<Message>,
) {
    let mut pubsub = Some(first);
    loop {
        if let Some(connection) = pubsub.take() {
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
            tracing::warn!("Redis pub/sub connection lost; reconnecting");
        }
        tokio::time::sleep(std::time::Duration::from_secs(1)).await;
        match client.get_async_pubsub().await {
            Ok(mut connection) => match connection.psubscribe(format!("{PREFIX}*")).await {
                Ok(()) => pubsub = Some(connection),
                Err(err) => tracing::warn!(error = %err, "Redis pub/sub subscribe failed"),
            },
            Err(err) => tracing::warn!(error = %err, "Redis pub/sub reconnect failed"),
        }
    }
}
