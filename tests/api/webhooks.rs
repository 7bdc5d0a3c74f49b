//! Outgoing webhooks against a local receiver: signatures, retries, the delivery log, replay,
//! secret rotation, pings, and refusal of private targets.

use serde_json::{Value, json};
use sqlx::PgPool;

use crate::helpers::{
    Received, Receiver, endpoint_path, error_fields, signed_with, spawn_app, spawn_app_with,
    v1_count,
};

#[sqlx::test(migrator = "gymapi::MIGRATOR")]
async fn events_arrive_signed_as_documented(pool: PgPool) {
    let app = spawn_app(pool).await;
    let (receiver, owner, gym, endpoint) = app.tenant_with_webhook_receiver().await;
    let secret = endpoint["secret"].as_str().unwrap().to_string();
    assert!(secret.starts_with("whsec_"));
    let member = app.add_new_member(&owner, gym, "member", "member").await;
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

    let log = app.webhook_deliveries(&owner, gym, &endpoint).await;
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
    let listed = app
        .as_(&owner)
        .in_(gym)
        .get("/api/v1/webhook-endpoints")
        .expect(200)
        .await;
    assert!(listed[0].get("secret").is_none());
}

#[sqlx::test(migrator = "gymapi::MIGRATOR")]
async fn a_receiver_error_is_retried_until_it_answers(pool: PgPool) {
    let app = spawn_app_with(pool, &[("webhooks.retry_window_seconds", json!(3600))]).await;
    let (receiver, owner, gym, endpoint) = app.tenant_with_webhook_receiver().await;
    receiver.answer_with(&[500, 503]);
    app.add_new_member(&owner, gym, "member", "member").await;
    app.jobs.drain().await.unwrap();

    let received = receiver.received();
    assert_eq!(received.len(), 3);
    // Every attempt carries the same event and body.
    assert!(received.iter().all(|r| r.body == received[0].body));
    let log = app.webhook_deliveries(&owner, gym, &endpoint).await;
    assert_eq!(log.len(), 1);
    assert_eq!(log[0]["status"], "succeeded");
    assert_eq!(log[0]["attempts"], 3);
}

#[sqlx::test(migrator = "gymapi::MIGRATOR")]
async fn a_failed_delivery_can_be_replayed(pool: PgPool) {
    // The test settings allow no retries: the first 500 fails the delivery.
    let app = spawn_app(pool).await;
    let (receiver, owner, gym, endpoint) = app.tenant_with_webhook_receiver().await;
    receiver.answer_with(&[500]);
    app.add_new_member(&owner, gym, "member", "member").await;
    app.jobs.drain().await.unwrap();
    let log = app.webhook_deliveries(&owner, gym, &endpoint).await;
    assert_eq!(log[0]["status"], "failed");
    assert_eq!(log[0]["last_status_code"], 500);
    assert_eq!(log[0]["last_error"], "answered HTTP 500");

    let replay = app
        .as_(&owner)
        .in_(gym)
        .post(&format!(
            "{}/deliveries/{}/replay",
            endpoint_path(&endpoint),
            log[0]["id"].as_str().unwrap()
        ))
        .expect(202)
        .await;
    assert_eq!(replay["replay_of"], log[0]["id"]);
    assert_eq!(replay["event_id"], log[0]["event_id"]);
    app.jobs.drain().await.unwrap();
    let received = receiver.received();
    assert_eq!(received.len(), 2);
    assert_eq!(received[0].body, received[1].body);
    let log = app.webhook_deliveries(&owner, gym, &endpoint).await;
    assert_eq!(log[0]["status"], "succeeded");
}

#[sqlx::test(migrator = "gymapi::MIGRATOR")]
async fn during_a_rotation_both_secrets_sign(pool: PgPool) {
    let app = spawn_app(pool).await;
    let (receiver, owner, gym, endpoint) = app.tenant_with_webhook_receiver().await;
    let old_secret = endpoint["secret"].as_str().unwrap().to_string();
    let path = endpoint_path(&endpoint);
    let owner_in_gym = app.as_(&owner).in_(gym);
    let rotate = |overlap: u64| {
        owner_in_gym
            .post(&format!("{path}/rotate-secret"))
            .json(&json!({"overlap_seconds": overlap}))
    };
    let ping = || owner_in_gym.post(&format!("{path}/ping"));
    let rotated = rotate(3600).expect(200).await;
    let new_secret = rotated["secret"].as_str().unwrap().to_string();
    assert_ne!(new_secret, old_secret);
    assert!(rotated["previous_secret_expires_at"].is_string());
    let queued = ping().expect(202).await;
    assert_eq!(queued["event_type"], "webhook.ping");
    app.jobs.drain().await.unwrap();
    let during = receiver.received().pop().unwrap();
    assert_eq!(during.event, "webhook.ping");
    assert_eq!(v1_count(&during), 2);
    assert!(signed_with(&during, &new_secret));
    assert!(signed_with(&during, &old_secret));

    // Ending the overlap: only the newest secret signs.
    let latest = rotate(0).expect(200).await;
    let latest_secret = latest["secret"].as_str().unwrap();
    ping().expect(202).await;
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
    let (owner, gym) = app.owner_with_tenant("hooks").await;
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
        let problem = app
            .request_webhook_endpoint(&owner, gym, &target, &["member_added"])
            .expect_problem(422, "validation_failed")
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
    let (alice, alice_gym) = app.owner_with_tenant("alice").await;
    let (bob, bob_gym) = app.owner_with_tenant("bob").await;
    let endpoint = app.create_webhook_endpoint(&alice, alice_gym, &url).await;
    let path = endpoint_path(&endpoint);
    app.as_(&bob)
        .in_(bob_gym)
        .get(&path)
        .expect_problem(404, "not_found")
        .await;
    let member = app
        .add_new_member(&alice, alice_gym, "member", "member")
        .await;
    app.as_(&member)
        .in_(alice_gym)
        .get(&path)
        .expect_problem(403, "insufficient_role")
        .await;

    let problem = app
        .request_webhook_endpoint(&alice, alice_gym, &url, &["gym_teleported"])
        .expect_problem(422, "validation_failed")
        .await;
    assert_eq!(error_fields(&problem), vec!["event_types"]);

    let catalog = app
        .as_(&alice)
        .in_(alice_gym)
        .get("/api/v1/webhook-endpoints/event-types")
        .expect(200)
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
        .create_api_key(&alice, alice_gym, &["webhook-endpoints:write"])
        .await;
    let disabled = app
        .as_(&key)
        .patch(&path)
        .json(&json!({"enabled": false}))
        .expect(200)
        .await;
    assert_eq!(disabled["enabled"], false);
}

#[sqlx::test(migrator = "gymapi::MIGRATOR")]
async fn a_tenant_has_at_most_sixteen_endpoints(pool: PgPool) {
    let app = spawn_app(pool).await;
    let (_receiver, url) = Receiver::start().await;
    let (owner, gym) = app.owner_with_tenant("hooks").await;
    for _ in 0..16 {
        app.create_webhook_endpoint(&owner, gym, &url).await;
    }
    app.request_webhook_endpoint(&owner, gym, &url, &["member_added"])
        .expect_problem(409, "too_many_endpoints")
        .await;
}

#[sqlx::test(migrator = "gymapi::MIGRATOR")]
async fn an_event_reaches_each_subscribed_endpoint_once(pool: PgPool) {
    let app = spawn_app(pool).await;
    let (first, owner, gym, _) = app.tenant_with_webhook_receiver().await;
    let (second, url) = Receiver::start().await;
    app.create_webhook_endpoint(&owner, gym, &url).await;
    let (elsewhere, url) = Receiver::start().await;
    app.request_webhook_endpoint(&owner, gym, &url, &["member_removed"])
        .expect(201)
        .await;
    app.add_new_member(&owner, gym, "member", "member").await;
    app.jobs.drain().await.unwrap();

    let added = |receiver: &Receiver| {
        receiver
            .received()
            .into_iter()
            .filter(|r| r.event == "member_added")
            .count()
    };
    assert_eq!(
        (added(&first), added(&second), added(&elsewhere)),
        (1, 1, 0)
    );
}
