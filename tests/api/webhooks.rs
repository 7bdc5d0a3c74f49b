//! Outgoing webhooks against a local receiver: signatures, retries, the delivery log, replay,
//! secret rotation, pings, and refusal of private targets.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use hmac::{Hmac, Mac};
use poem::http::StatusCode as PoemStatus;
use poem::listener::{Acceptor, Listener, TcpListener};
use poem::{Body, EndpointExt, Request, Route, handler, post};
use reqwest::StatusCode;
use serde_json::{Value, json};
use sha2::Sha256;
use sqlx::PgPool;
use uuid::Uuid;

use crate::helpers::{
    Session, TestApp, error_fields, expect_json, expect_problem, owner_with_tenant, spawn_app,
    spawn_app_with,
};

#[derive(Debug, Clone)]
struct Received {
    signature: String,
    event: String,
    delivery: String,
    body: String,
}

/// A receiver on 127.0.0.1 that records each request and answers with the next queued status
/// (200 once the queue is empty).
#[derive(Clone, Default)]
struct Receiver {
    received: Arc<Mutex<Vec<Received>>>,
    answers: Arc<Mutex<VecDeque<u16>>>,
}

impl Receiver {
    async fn start() -> (Self, String) {
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

    fn answer_with(&self, statuses: &[u16]) {
        self.answers.lock().unwrap().extend(statuses);
    }

    fn received(&self) -> Vec<Received> {
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
fn signed_with(received: &Received, secret: &str) -> bool {
    let mut parts = received.signature.split(',');
    let t = parts.next().unwrap().strip_prefix("t=").unwrap();
    let age = chrono::Utc::now().timestamp() - t.parse::<i64>().unwrap();
    assert!((0..300).contains(&age), "timestamp is current");
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(format!("{t}.{}", received.body).as_bytes());
    let expected = hex::encode(mac.finalize().into_bytes());
    parts.any(|part| part.strip_prefix("v1=") == Some(expected.as_str()))
}

fn v1_count(received: &Received) -> usize {
    received.signature.matches("v1=").count()
}

async fn create_endpoint(app: &TestApp, owner: &Session, gym: Uuid, url: &str) -> Value {
    let response = app
        .post("/api/v1/webhook-endpoints")
        .bearer_auth(&owner.token)
        .header("X-Gym-ID", gym.to_string())
        .json(&json!({"url": url, "event_types": ["member_added", "member_removed"]}))
        .send()
        .await
        .unwrap();
    expect_json(response, StatusCode::CREATED).await
}

async fn deliveries(app: &TestApp, owner: &Session, gym: Uuid, endpoint: &Value) -> Vec<Value> {
    let path = format!(
        "/api/v1/webhook-endpoints/{}/deliveries",
        endpoint["id"].as_str().unwrap()
    );
    let page = expect_json(app.get_in(owner, gym, &path).await, StatusCode::OK).await;
    page["items"].as_array().unwrap().clone()
}

#[sqlx::test(migrator = "gymapi::MIGRATOR")]
async fn events_arrive_signed_as_documented(pool: PgPool) {
    let app = spawn_app(pool).await;
    let (receiver, url) = Receiver::start().await;
    let (owner, gym) = owner_with_tenant(&app, "hooks").await;
    let endpoint = create_endpoint(&app, &owner, gym, &url).await;
    let secret = endpoint["secret"].as_str().unwrap().to_string();
    assert!(secret.starts_with("whsec_"));
    let member = app.register("member").await;
    expect_json(
        app.add_member(&owner, gym, &member, "member").await,
        StatusCode::CREATED,
    )
    .await;
    app.jobs.drain().await.unwrap();

    let received = receiver.received();
    let added: Vec<&Received> = received
        .iter()
        .filter(|r| r.event == "member_added")
        .collect();
    assert_eq!(added.len(), 1, "one delivery per event");
    let delivery = added[0];
    assert!(signed_with(delivery, &secret));
    assert_eq!(v1_count(delivery), 1);
    let body: Value = serde_json::from_str(&delivery.body).unwrap();
    assert_eq!(body["type"], "member_added");
    assert_eq!(body["gym_id"], gym.to_string());
    assert_eq!(body["data"]["user_id"], member.user_id.to_string());

    let log = deliveries(&app, &owner, gym, &endpoint).await;
    let logged = log
        .iter()
        .find(|d| d["event_type"] == "member_added")
        .unwrap();
    assert_eq!(logged["status"], "succeeded");
    assert_eq!(logged["attempts"], 1);
    assert_eq!(logged["last_status_code"], 200);
    assert_eq!(logged["id"], delivery.delivery.as_str());
    assert_eq!(logged["payload"], body);
    // The secret is never shown again.
    let listed = expect_json(
        app.get_in(&owner, gym, "/api/v1/webhook-endpoints").await,
        StatusCode::OK,
    )
    .await;
    assert!(listed[0].get("secret").is_none());
}

#[sqlx::test(migrator = "gymapi::MIGRATOR")]
async fn a_receiver_error_is_retried_until_it_answers(pool: PgPool) {
    let app = spawn_app_with(pool, &[("webhooks.retry_window_seconds", json!(3600))]).await;
    let (receiver, url) = Receiver::start().await;
    let (owner, gym) = owner_with_tenant(&app, "hooks").await;
    let endpoint = create_endpoint(&app, &owner, gym, &url).await;
    receiver.answer_with(&[500, 503]);
    let member = app.register("member").await;
    app.add_member(&owner, gym, &member, "member").await;
    app.jobs.drain().await.unwrap();

    let received = receiver.received();
    assert_eq!(received.len(), 3);
    // Every attempt carries the same event and body.
    assert!(received.iter().all(|r| r.body == received[0].body));
    let log = deliveries(&app, &owner, gym, &endpoint).await;
    assert_eq!(log.len(), 1);
    assert_eq!(log[0]["status"], "succeeded");
    assert_eq!(log[0]["attempts"], 3);
}

#[sqlx::test(migrator = "gymapi::MIGRATOR")]
async fn a_failed_delivery_can_be_replayed(pool: PgPool) {
    // The test settings allow no retries: the first 500 fails the delivery.
    let app = spawn_app(pool).await;
    let (receiver, url) = Receiver::start().await;
    let (owner, gym) = owner_with_tenant(&app, "hooks").await;
    let endpoint = create_endpoint(&app, &owner, gym, &url).await;
    receiver.answer_with(&[500]);
    let member = app.register("member").await;
    app.add_member(&owner, gym, &member, "member").await;
    app.jobs.drain().await.unwrap();
    let log = deliveries(&app, &owner, gym, &endpoint).await;
    assert_eq!(log[0]["status"], "failed");
    assert_eq!(log[0]["last_status_code"], 500);
    assert_eq!(log[0]["last_error"], "answered HTTP 500");

    let replay = app
        .post(&format!(
            "/api/v1/webhook-endpoints/{}/deliveries/{}/replay",
            endpoint["id"].as_str().unwrap(),
            log[0]["id"].as_str().unwrap()
        ))
        .bearer_auth(&owner.token)
        .header("X-Gym-ID", gym.to_string())
        .send()
        .await
        .unwrap();
    let replay = expect_json(replay, StatusCode::ACCEPTED).await;
    assert_eq!(replay["replay_of"], log[0]["id"]);
    assert_eq!(replay["event_id"], log[0]["event_id"]);
    app.jobs.drain().await.unwrap();
    let received = receiver.received();
    assert_eq!(received.len(), 2);
    assert_eq!(received[0].body, received[1].body);
    let log = deliveries(&app, &owner, gym, &endpoint).await;
    assert_eq!(log[0]["status"], "succeeded");
}

#[sqlx::test(migrator = "gymapi::MIGRATOR")]
async fn during_a_rotation_both_secrets_sign(pool: PgPool) {
    let app = spawn_app(pool).await;
    let (receiver, url) = Receiver::start().await;
    let (owner, gym) = owner_with_tenant(&app, "hooks").await;
    let endpoint = create_endpoint(&app, &owner, gym, &url).await;
    let old_secret = endpoint["secret"].as_str().unwrap().to_string();
    let id = endpoint["id"].as_str().unwrap();
    let rotate = |overlap: u64| {
        app.post(&format!("/api/v1/webhook-endpoints/{id}/rotate-secret"))
            .bearer_auth(&owner.token)
            .header("X-Gym-ID", gym.to_string())
            .json(&json!({"overlap_seconds": overlap}))
            .send()
    };
    let ping = || {
        app.post(&format!("/api/v1/webhook-endpoints/{id}/ping"))
            .bearer_auth(&owner.token)
            .header("X-Gym-ID", gym.to_string())
            .send()
    };
    let rotated = expect_json(rotate(3600).await.unwrap(), StatusCode::OK).await;
    let new_secret = rotated["secret"].as_str().unwrap().to_string();
    assert_ne!(new_secret, old_secret);
    assert!(rotated["previous_secret_expires_at"].is_string());
    let queued = expect_json(ping().await.unwrap(), StatusCode::ACCEPTED).await;
    assert_eq!(queued["event_type"], "webhook.ping");
    app.jobs.drain().await.unwrap();
    let during = receiver.received().pop().unwrap();
    assert_eq!(during.event, "webhook.ping");
    assert_eq!(v1_count(&during), 2);
    assert!(signed_with(&during, &new_secret));
    assert!(signed_with(&during, &old_secret));

    // Ending the overlap: only the newest secret signs.
    let latest = expect_json(rotate(0).await.unwrap(), StatusCode::OK).await;
    let latest_secret = latest["secret"].as_str().unwrap();
    expect_json(ping().await.unwrap(), StatusCode::ACCEPTED).await;
    app.jobs.drain().await.unwrap();
    let after = receiver.received().pop().unwrap();
    assert_eq!(v1_count(&after), 1);
    assert!(signed_with(&after, latest_secret));
    assert!(!signed_with(&after, &new_secret));
}

#[sqlx::test(migrator = "gymapi::MIGRATOR")]
async fn private_targets_are_refused_unless_allowed(pool: PgPool) {
    let app = spawn_app_with(pool, &[("webhooks.allow_private_targets", json!(false))]).await;
    let (receiver, url) = Receiver::start().await;
    let (owner, gym) = owner_with_tenant(&app, "hooks").await;
    let port = url.rsplit(':').next().unwrap().split('/').next().unwrap();
    for target in [
        url.clone(),
        format!("https://127.0.0.1:{port}/hook"),
        "https://127.0.0.1/hook".into(),
        "https://10.0.0.8/hook".into(),
        "https://169.254.169.254/latest/meta-data/".into(),
        "https://[::1]/hook".into(),
        "https://2130706433/hook".into(),
        "https://localhost/hook".into(),
    ] {
        let response = app
            .post("/api/v1/webhook-endpoints")
            .bearer_auth(&owner.token)
            .header("X-Gym-ID", gym.to_string())
            .json(&json!({"url": target, "event_types": ["member_added"]}))
            .send()
            .await
            .unwrap();
        let problem = expect_problem(
            response,
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
        )
        .await;
        assert_eq!(error_fields(&problem), vec!["url"], "{target}");
    }
    assert!(
        receiver.received().is_empty(),
        "the receiver was never contacted"
    );
}

#[sqlx::test(migrator = "gymapi::MIGRATOR")]
async fn endpoints_belong_to_their_tenant_and_its_admins(pool: PgPool) {
    let app = spawn_app(pool).await;
    let (_receiver, url) = Receiver::start().await;
    let (alice, alice_gym) = owner_with_tenant(&app, "alice").await;
    let (bob, bob_gym) = owner_with_tenant(&app, "bob").await;
    let endpoint = create_endpoint(&app, &alice, alice_gym, &url).await;
    let path = format!(
        "/api/v1/webhook-endpoints/{}",
        endpoint["id"].as_str().unwrap()
    );
    expect_problem(
        app.get_in(&bob, bob_gym, &path).await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    let member = app.register("member").await;
    app.add_member(&alice, alice_gym, &member, "member").await;
    expect_problem(
        app.get_in(&member, alice_gym, &path).await,
        StatusCode::FORBIDDEN,
        "insufficient_role",
    )
    .await;

    let bad = app
        .post("/api/v1/webhook-endpoints")
        .bearer_auth(&alice.token)
        .header("X-Gym-ID", alice_gym.to_string())
        .json(&json!({"url": url, "event_types": ["gym_teleported"]}))
        .send()
        .await
        .unwrap();
    let problem = expect_problem(bad, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
    assert_eq!(error_fields(&problem), vec!["event_types"]);

    let catalog = expect_json(
        app.get_in(&alice, alice_gym, "/api/v1/webhook-endpoints/event-types")
            .await,
        StatusCode::OK,
    )
    .await;
    let types: Vec<&str> = catalog
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["event_type"].as_str().unwrap())
        .collect();
    assert!(types.contains(&"member_added"));

    // An integrator's key with the scope manages endpoints too.
    let key = app
        .post("/api/v1/api-keys")
        .bearer_auth(&alice.token)
        .header("X-Gym-ID", alice_gym.to_string())
        .json(&json!({"name": "crm", "scopes": ["webhook-endpoints:write"]}))
        .send()
        .await
        .unwrap();
    let key = expect_json(key, StatusCode::CREATED).await["key"]
        .as_str()
        .unwrap()
        .to_string();
    let disabled = app
        .patch(&path)
        .bearer_auth(&key)
        .json(&json!({"enabled": false}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        expect_json(disabled, StatusCode::OK).await["enabled"],
        false
    );
}

#[sqlx::test(migrator = "gymapi::MIGRATOR")]
async fn a_tenant_has_at_most_sixteen_endpoints(pool: PgPool) {
    let app = spawn_app(pool).await;
    let (_receiver, url) = Receiver::start().await;
    let (owner, gym) = owner_with_tenant(&app, "hooks").await;
    for _ in 0..16 {
        create_endpoint(&app, &owner, gym, &url).await;
    }
    let response = app
        .post("/api/v1/webhook-endpoints")
        .bearer_auth(&owner.token)
        .header("X-Gym-ID", gym.to_string())
        .json(&json!({"url": url, "event_types": ["member_added"]}))
        .send()
        .await
        .unwrap();
    expect_problem(response, StatusCode::CONFLICT, "too_many_endpoints").await;
}
