//! In-app notifications: written by a job when someone joins a tenant, read over HTTP and
//! streamed as Server-Sent Events, across instances through Redis.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};
use sqlx::PgPool;
use uuid::Uuid;

use crate::helpers::{
    Session, TestApp, expect_json, expect_problem, owner_with_tenant, spawn_app, spawn_app_with,
};

/// Reads the next SSE event (skipping heartbeats) and returns its id and JSON data.
async fn next_event(stream: &mut reqwest::Response, buffer: &mut String) -> (String, Value) {
    let read = async {
        loop {
            if let Some(end) = buffer.find("\n\n") {
                let block: String = buffer.drain(..end + 2).collect();
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
            let chunk = stream
                .chunk()
                .await
                .unwrap()
                .expect("the stream stays open");
            buffer.push_str(&String::from_utf8_lossy(&chunk));
        }
    };
    tokio::time::timeout(Duration::from_secs(10), read)
        .await
        .expect("an event within 10 s")
}

async fn open_stream(
    app: &TestApp,
    session: &Session,
    gym: Uuid,
    last_event_id: Option<&str>,
) -> reqwest::Response {
    let mut request = app
        .get("/api/v1/notifications/stream")
        .bearer_auth(&session.token)
        .header("X-Gym-ID", gym.to_string())
        .header("Accept", "text/event-stream");
    if let Some(id) = last_event_id {
        request = request.header("Last-Event-ID", id);
    }
    let response = request.send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/event-stream")
    );
    response
}

#[sqlx::test(migrator = "gymapi::MIGRATOR")]
async fn joining_a_tenant_sends_a_notification(pool: PgPool) {
    let app = spawn_app(pool.clone()).await;
    let (owner, gym) = owner_with_tenant(&app, "notif").await;
    let member = app.register("member").await;
    expect_json(
        app.add_member(&owner, gym, &member, "member").await,
        StatusCode::CREATED,
    )
    .await;
    app.jobs.drain().await.unwrap();
    // Jobs run at least once: a second delivery of the same event writes nothing new.
    sqlx::query(
        "update jobs set status = 'queued', attempts = 0 where kind = 'notifications.member_added'",
    )
    .execute(&pool)
    .await
    .unwrap();
    app.jobs.drain().await.unwrap();
    let written: i64 = sqlx::query_scalar("select count(*) from notifications")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(written, 1);

    let inbox = expect_json(
        app.get_in(&member, gym, "/api/v1/notifications").await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(inbox["unread_count"], 1);
    let item = &inbox["items"][0];
    assert_eq!(item["kind"], "member.added");
    assert!(item["title"].as_str().unwrap().contains("notif"), "{item}");
    assert!(item["read_at"].is_null());
    let id = item["id"].as_str().unwrap();

    let read = app
        .post(&format!("/api/v1/notifications/{id}/read"))
        .bearer_auth(&member.token)
        .header("X-Gym-ID", gym.to_string())
        .send()
        .await
        .unwrap();
    let read = expect_json(read, StatusCode::OK).await;
    assert!(read["read_at"].is_string());
    let unread = expect_json(
        app.get_in(&member, gym, "/api/v1/notifications?unread=true")
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(unread["items"], json!([]));
    assert_eq!(unread["unread_count"], 0);
    let all = app
        .post("/api/v1/notifications/read-all")
        .bearer_auth(&member.token)
        .header("X-Gym-ID", gym.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(expect_json(all, StatusCode::OK).await["updated"], 0);
    // The owner's inbox is their own.
    let theirs = expect_json(
        app.get_in(&owner, gym, "/api/v1/notifications").await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(theirs["items"], json!([]));
    let not_yours = app
        .post(&format!("/api/v1/notifications/{id}/read"))
        .bearer_auth(&owner.token)
        .header("X-Gym-ID", gym.to_string())
        .send()
        .await
        .unwrap();
    expect_problem(not_yours, StatusCode::NOT_FOUND, "not_found").await;
}

#[sqlx::test(migrator = "gymapi::MIGRATOR")]
async fn the_stream_delivers_live_and_resumes_from_the_table(pool: PgPool) {
    let app = spawn_app(pool).await;
    let (owner, gym) = owner_with_tenant(&app, "live").await;
    let member = app.register("member").await;
    expect_json(
        app.add_member(&owner, gym, &member, "member").await,
        StatusCode::CREATED,
    )
    .await;

    let mut stream = open_stream(&app, &member, gym, None).await;
    let mut buffer = String::new();
    app.jobs.drain().await.unwrap();
    let (id, data) = next_event(&mut stream, &mut buffer).await;
    assert_eq!(data["kind"], "member.added");
    assert_eq!(
        data["id"],
        id.as_str(),
        "the event id is the notification id"
    );

    // A client that reconnects with an older Last-Event-ID gets what came after it first.
    let mut resumed = open_stream(
        &app,
        &member,
        gym,
        Some("00000000-0000-7000-8000-000000000000"),
    )
    .await;
    let mut buffer = String::new();
    let (replayed, _) = next_event(&mut resumed, &mut buffer).await;
    assert_eq!(replayed, id);

    let bad = app
        .get("/api/v1/notifications/stream")
        .bearer_auth(&member.token)
        .header("X-Gym-ID", gym.to_string())
        .header("Last-Event-ID", "yesterday")
        .send()
        .await
        .unwrap();
    expect_problem(bad, StatusCode::BAD_REQUEST, "invalid_parameter").await;
    let anonymous = app
        .get("/api/v1/notifications/stream")
        .header("X-Gym-ID", gym.to_string())
        .send()
        .await
        .unwrap();
    expect_problem(anonymous, StatusCode::UNAUTHORIZED, "unauthorized").await;
}

#[sqlx::test(migrator = "gymapi::MIGRATOR")]
async fn a_notification_written_on_one_instance_reaches_a_stream_on_another(pool: PgPool) {
    let redis = std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into());
    let a = spawn_app_with(pool.clone(), &[("redis.url", json!(redis))]).await;
    let b = spawn_app_with(pool, &[("redis.url", json!(redis))]).await;
    let (owner, gym) = owner_with_tenant(&a, "fanout").await;
    let member = a.register("member").await;
    expect_json(
        a.add_member(&owner, gym, &member, "member").await,
        StatusCode::CREATED,
    )
    .await;

    let mut stream = open_stream(&b, &member, gym, None).await;
    let mut buffer = String::new();
    // The event is handled, and the notification written and published, on instance A.
    a.jobs.drain().await.unwrap();
    let (_, data) = next_event(&mut stream, &mut buffer).await;
    assert_eq!(data["kind"], "member.added");
}

#[sqlx::test(migrator = "gymapi::MIGRATOR")]
async fn a_role_change_is_announced_to_the_person_live(pool: PgPool) {
    let app = spawn_app(pool).await;
    let (owner, gym) = owner_with_tenant(&app, "notif").await;
    let member = app.register("member").await;
    app.add_member(&owner, gym, &member, "member").await;
    app.jobs.drain().await.unwrap();
    let mut stream = open_stream(&app, &member, gym, None).await;
    let mut buffer = String::new();
    let promoted = app
        .patch(&format!("/api/v1/members/{}", member.user_id))
        .bearer_auth(&owner.token)
        .header("X-Gym-ID", gym.to_string())
        .json(&json!({"role": "trainer"}))
        .send()
        .await
        .unwrap();
    expect_json(promoted, StatusCode::OK).await;
    app.jobs.drain().await.unwrap();
    let (_, data) = next_event(&mut stream, &mut buffer).await;
    assert_eq!(data["kind"], "member.role_changed");
    assert_eq!(data["data"]["previous_role"], "member");
    assert_eq!(data["data"]["role"], "trainer");
    assert!(data["title"].as_str().unwrap().ends_with("is now trainer"));
}
