//! Outgoing webhooks: a receiver on 127.0.0.1 that records what arrives, the documented
//! signature check, and endpoints with their delivery logs.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use hmac::{Hmac, Mac};
use poem::http::StatusCode as PoemStatus;
use poem::listener::{Acceptor, Listener, TcpListener};
use poem::{Body, EndpointExt, Request, Route, handler, post};
use serde_json::{Value, json};
use sha2::Sha256;
use uuid::Uuid;

use super::{Call, Session, TestApp, items};

/// One request the receiver got.
#[derive(Debug, Clone)]
pub struct Received {
    pub signature: String,
    pub event: String,
    pub delivery: String,
    pub body: String,
}

/// A receiver on 127.0.0.1 that records each request and answers with the next queued status
/// (200 once the queue is empty).
#[derive(Clone, Default)]
pub struct Receiver {
    received: Arc<Mutex<Vec<Received>>>,
    answers: Arc<Mutex<VecDeque<u16>>>,
}

impl Receiver {
    /// Starts a receiver and returns it with its URL.
    pub async fn start() -> (Self, String) {
        let receiver = Receiver::default();
        let acceptor = TcpListener::bind("127.0.0.1:0")
            .into_acceptor()
            .await
            .unwrap();
        let port = acceptor.local_addr()[0].as_socket_addr().unwrap().port();
        let app = Route::new()
            .at("/hook", post(receive))
            .data(receiver.clone());
        tokio::spawn(poem::Server::new_with_acceptor(acceptor).run(app));
        (receiver, format!("http://127.0.0.1:{port}/hook"))
    }

    /// Queues the statuses the next requests are answered with.
    pub fn answer_with(&self, statuses: &[u16]) {
        self.answers.lock().unwrap().extend(statuses);
    }

    pub fn received(&self) -> Vec<Received> {
        self.received.lock().unwrap().clone()
    }
}

#[handler]
async fn receive(req: &Request, body: Body, data: poem::web::Data<&Receiver>) -> PoemStatus {
    let header = |name: &str| {
        req.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string()
    };
    let received = Received {
        signature: header("x-gymapi-signature"),
        event: header("x-gymapi-event"),
        delivery: header("x-gymapi-delivery"),
        body: body.into_string().await.unwrap(),
    };
    data.0.received.lock().unwrap().push(received);
    let status = data.0.answers.lock().unwrap().pop_front().unwrap_or(200);
    PoemStatus::from_u16(status).unwrap()
}

/// Checks the documented scheme: `t=<unix>,v1=<hex HMAC-SHA256(secret, "t.body")>`.
pub fn signed_with(received: &Received, secret: &str) -> bool {
    let mut parts = received.signature.split(',');
    let t = parts.next().unwrap().strip_prefix("t=").unwrap();
    let age = chrono::Utc::now().timestamp() - t.parse::<i64>().unwrap();
    assert!((0..300).contains(&age), "timestamp is current");
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(format!("{t}.{}", received.body).as_bytes());
    let expected = hex::encode(mac.finalize().into_bytes());
    parts.any(|part| part.strip_prefix("v1=") == Some(expected.as_str()))
}

/// How many signatures a request carries.
pub fn v1_count(received: &Received) -> usize {
    received.signature.matches("v1=").count()
}

impl TestApp {
    /// A new local receiver, and a new owner and tenant with an endpoint (for members added
    /// and removed) pointed at it: `(receiver, owner, gym, endpoint)`, secret included.
    pub async fn tenant_with_webhook_receiver(&self) -> (Receiver, Session, Uuid, Value) {
        let (receiver, url) = Receiver::start().await;
        let (owner, gym) = self.owner_with_tenant("hooks").await;
        let endpoint = self.create_webhook_endpoint(&owner, gym, &url).await;
        (receiver, owner, gym, endpoint)
    }

    /// `owner` asks for an endpoint at `url` receiving `event_types`.
    pub fn request_webhook_endpoint(
        &self,
        owner: &Session,
        gym: Uuid,
        url: &str,
        event_types: &[&str],
    ) -> Call {
        self.as_(owner)
            .in_(gym)
            .post("/api/v1/webhook-endpoints")
            .json(&json!({"url": url, "event_types": event_types}))
    }

    /// `owner` creates an endpoint at `url` for members added and removed; returns it, secret
    /// included.
    pub async fn create_webhook_endpoint(&self, owner: &Session, gym: Uuid, url: &str) -> Value {
        self.request_webhook_endpoint(owner, gym, url, &["member_added", "member_removed"])
            .expect(201)
            .await
    }

    /// The delivery log of `endpoint`.
    pub async fn webhook_deliveries(
        &self,
        owner: &Session,
        gym: Uuid,
        endpoint: &Value,
    ) -> Vec<Value> {
        let path = format!("{}/deliveries", endpoint_path(endpoint));
        let page = self.as_(owner).in_(gym).get(&path).expect(200).await;
        items(&page).clone()
    }
}

/// `/api/v1/webhook-endpoints/{id}` of `endpoint`.
pub fn endpoint_path(endpoint: &Value) -> String {
    format!(
        "/api/v1/webhook-endpoints/{}",
        endpoint["id"].as_str().expect("endpoint id")
    )
}
