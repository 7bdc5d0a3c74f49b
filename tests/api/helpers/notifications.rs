//! The notification stream (Server-Sent Events), read one event at a time.

use std::time::Duration;

use reqwest::Response;
use serde_json::Value;
use uuid::Uuid;

use super::{Session, TestApp};

/// An open `GET /api/v1/notifications/stream`.
pub struct EventStream {
    response: Response,
    buffer: String,
}

/// One server-sent event, its fields as sent.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct SentEvent {
    pub event: Option<String>,
    pub id: Option<String>,
    pub data: Option<String>,
    pub retry: Option<String>,
}

impl TestApp {
    /// Opens `session`'s notification stream in `gym`, resuming after `last_event_id` when
    /// given, and asserts that it is one.
    pub async fn notification_stream(
        &self,
        session: &Session,
        gym: Uuid,
        last_event_id: Option<&str>,
    ) -> EventStream {
        let mut request = self
            .as_(session)
            .in_(gym)
            .get("/api/v1/notifications/stream")
            .header("Accept", "text/event-stream");
        if let Some(id) = last_event_id {
            request = request.header("Last-Event-ID", id);
        }
        EventStream::open(request.send().await)
    }

    /// Opens a notification stream with a stream ticket and nothing else (as a browser's
    /// EventSource does).
    pub async fn notification_stream_by_ticket(&self, ticket: &str) -> EventStream {
        let response = self
            .anon()
            .get(&format!("/api/v1/notifications/stream?ticket={ticket}"))
            .header("Accept", "text/event-stream")
            .send()
            .await;
        EventStream::open(response)
    }
}

impl EventStream {
    fn open(response: Response) -> EventStream {
        assert_eq!(response.status(), 200);
        assert!(
            response.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with("text/event-stream")
        );
        EventStream {
            response,
            buffer: String::new(),
        }
    }

    /// The next block of fields (heartbeat comments skipped); `None` once the stream ended
    /// cleanly. Waits at most 10 s.
    pub async fn next_sent(&mut self) -> Option<SentEvent> {
        let read = async {
            loop {
                if let Some(end) = self.buffer.find("\n\n") {
                    let block: String = self.buffer.drain(..end + 2).collect();
                    let field = |name: &str| {
                        block.lines().find_map(|line| {
                            line.strip_prefix(name)
                                .map(|value| value.trim().to_string())
                        })
                    };
                    let sent = SentEvent {
                        event: field("event:"),
                        id: field("id:"),
                        data: field("data:"),
                        retry: field("retry:"),
                    };
                    if sent != SentEvent::default() {
                        return Some(sent);
                    }
                    continue;
                }
                // An error here (a cut connection) fails the test: only a clean end is `None`.
                let chunk = self
                    .response
                    .chunk()
                    .await
                    .expect("the stream ends cleanly")?;
                self.buffer.push_str(&String::from_utf8_lossy(&chunk));
            }
        };
        tokio::time::timeout(Duration::from_secs(10), read)
            .await
            .expect("an event or the end within 10 s")
    }

    /// The next event (heartbeats skipped): its id and JSON data. Waits at most 10 s.
    pub async fn next_event(&mut self) -> (String, Value) {
        let read = async {
            loop {
                if let Some(end) = self.buffer.find("\n\n") {
                    let block: String = self.buffer.drain(..end + 2).collect();
                    let field = |name: &str| {
                        block.lines().find_map(|line| {
                            line.strip_prefix(name)
                                .map(|value| value.trim().to_string())
                        })
                    };
                    if let Some(data) = field("data:") {
                        return (
                            field("id:").unwrap_or_default(),
                            serde_json::from_str(&data).unwrap(),
                        );
                    }
                    continue;
                }
                let chunk = self
                    .response
                    .chunk()
                    .await
                    .unwrap()
                    .expect("the stream stays open");
                self.buffer.push_str(&String::from_utf8_lossy(&chunk));
            }
        };
        tokio::time::timeout(Duration::from_secs(10), read)
            .await
            .expect("an event within 10 s")
    }
}
