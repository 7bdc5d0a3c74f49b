//! In-app notifications: written by a job when someone joins a tenant, read over HTTP and
//! streamed as Server-Sent Events, across instances through Redis.

use serde_json::json;
use sqlx::PgPool;

use crate::helpers::{redis, rows_in, spawn_app, spawn_app_with};

#[sqlx::test(migrator = "gymapi::MIGRATOR")]
async fn joining_a_tenant_sends_a_notification(pool: PgPool) {
    let app = spawn_app(pool.clone()).await;
    let (owner, gym) = app.owner_with_tenant("notif").await;
    let member = app.add_new_member(&owner, gym, "member", "member").await;
    app.jobs.drain().await.unwrap();
    // Jobs run at least once: a second delivery of the same event writes nothing new.
    sqlx::query(
        "update jobs set status = 'queued', attempts = 0 where kind = 'notifications.member_added'",
    )
    .execute(&pool)
    .await
    .unwrap();
    app.jobs.drain().await.unwrap();
    assert_eq!(rows_in(&pool, "notifications").await, 1);

    let as_member = app.as_(&member).in_(gym);
    let inbox = as_member.get("/api/v1/notifications").expect(200).await;
    assert_eq!(inbox["unread_count"], 1);
    let item = &inbox["items"][0];
    assert_eq!(item["kind"], "member.added");
    assert!(item["title"].as_str().unwrap().contains("notif"), "{item}");
    assert!(item["read_at"].is_null());
    let read_path = format!(
        "/api/v1/notifications/{}/read",
        item["id"].as_str().unwrap()
    );

    let read = as_member.post(&read_path).expect(200).await;
    assert!(read["read_at"].is_string());
    let unread = as_member
        .get("/api/v1/notifications?unread=true")
        .expect(200)
        .await;
    assert_eq!(unread["items"], json!([]));
    assert_eq!(unread["unread_count"], 0);
    let all = as_member
        .post("/api/v1/notifications/read-all")
        .expect(200)
        .await;
    assert_eq!(all["updated"], 0);
    // The owner's inbox is their own.
    let as_owner = app.as_(&owner).in_(gym);
    let theirs = as_owner.get("/api/v1/notifications").expect(200).await;
    assert_eq!(theirs["items"], json!([]));
    as_owner
        .post(&read_path)
        .expect_problem(404, "not_found")
        .await;
}

#[sqlx::test(migrator = "gymapi::MIGRATOR")]
async fn the_stream_delivers_live_and_resumes_from_the_table(pool: PgPool) {
    let app = spawn_app(pool).await;
    let (owner, gym) = app.owner_with_tenant("live").await;
    let member = app.add_new_member(&owner, gym, "member", "member").await;

    let mut stream = app.notification_stream(&member, gym, None).await;
    app.jobs.drain().await.unwrap();
    let (id, data) = stream.next_event().await;
    assert_eq!(data["kind"], "member.added");
    assert_eq!(
        data["id"],
        id.as_str(),
        "the event id is the notification id"
    );

    // A client that reconnects with an older Last-Event-ID gets what came after it first.
    let mut resumed = app
        .notification_stream(&member, gym, Some("00000000-0000-7000-8000-000000000000"))
        .await;
    let (replayed, _) = resumed.next_event().await;
    assert_eq!(replayed, id);

    app.as_(&member)
        .in_(gym)
        .get("/api/v1/notifications/stream")
        .header("Last-Event-ID", "yesterday")
        .expect_problem(400, "invalid_parameter")
        .await;
    app.anon()
        .in_(gym)
        .get("/api/v1/notifications/stream")
        .expect_problem(401, "unauthorized")
        .await;
}

#[sqlx::test(migrator = "gymapi::MIGRATOR")]
async fn a_notification_written_on_one_instance_reaches_a_stream_on_another(pool: PgPool) {
    let a = spawn_app_with(pool.clone(), &[redis()]).await;
    let b = spawn_app_with(pool, &[redis()]).await;
    let (owner, gym) = a.owner_with_tenant("fanout").await;
    let member = a.add_new_member(&owner, gym, "member", "member").await;

    let mut stream = b.notification_stream(&member, gym, None).await;
    // The event is handled, and the notification written and published, on instance A.
    a.jobs.drain().await.unwrap();
    let (_, data) = stream.next_event().await;
    assert_eq!(data["kind"], "member.added");
}

#[sqlx::test(migrator = "gymapi::MIGRATOR")]
async fn a_role_change_is_announced_to_the_person_live(pool: PgPool) {
    let app = spawn_app(pool).await;
    let (owner, gym) = app.owner_with_tenant("notif").await;
    let member = app.add_new_member(&owner, gym, "member", "member").await;
    app.jobs.drain().await.unwrap();
    let mut stream = app.notification_stream(&member, gym, None).await;
    app.change_role(&owner, gym, &member, "trainer")
        .expect(200)
        .await;
    app.jobs.drain().await.unwrap();
    let (_, data) = stream.next_event().await;
    assert_eq!(data["kind"], "member.role_changed");
    assert_eq!(data["data"]["previous_role"], "member");
    assert_eq!(data["data"]["role"], "trainer");
    assert!(data["title"].as_str().unwrap().ends_with("is now trainer"));
}

#[sqlx::test(migrator = "gymapi::MIGRATOR")]
async fn a_browser_opens_the_stream_once_with_a_ticket(pool: PgPool) {
    let app = spawn_app(pool.clone()).await;
    let (owner, gym) = app.owner_with_tenant("ticket").await;
    let member = app.add_new_member(&owner, gym, "member", "member").await;
    app.jobs.drain().await.unwrap();
    let issue = || {
        app.as_(&member)
            .in_(gym)
            .post("/api/v1/notifications/stream-ticket")
    };
    let issued = issue().expect(201).await;
    let ticket = issued["ticket"].as_str().unwrap().to_string();
    assert_eq!(issued["expires_in"], 30);

    // The ticket alone opens the member's own stream, live.
    let mut stream = app.notification_stream_by_ticket(&ticket).await;
    app.change_role(&owner, gym, &member, "trainer")
        .expect(200)
        .await;
    app.jobs.drain().await.unwrap();
    let (_, data) = stream.next_event().await;
    assert_eq!(data["kind"], "member.role_changed");

    // Once only.
    let reused = format!("/api/v1/notifications/stream?ticket={ticket}");
    app.anon()
        .get(&reused)
        .expect_problem(401, "invalid_token")
        .await;
    // Not after it expired.
    let late = issue().expect(201).await["ticket"]
        .as_str()
        .unwrap()
        .to_string();
    sqlx::query("update notification_stream_tickets set expires_at = now() - interval '1 second'")
        .execute(&pool)
        .await
        .unwrap();
    app.anon()
        .get(&format!("/api/v1/notifications/stream?ticket={late}"))
        .expect_problem(401, "invalid_token")
        .await;
    // A made-up ticket of the right shape, and one of another shape.
    let forged = format!("nst_{}_{}", gym.simple(), "A".repeat(43));
    app.anon()
        .get(&format!("/api/v1/notifications/stream?ticket={forged}"))
        .expect_problem(401, "invalid_token")
        .await;
    app.anon()
        .get("/api/v1/notifications/stream?ticket=nope")
        .expect_problem(401, "invalid_token")
        .await;
    // Tickets are for people: an integrator's key cannot get one.
    let key = app.create_api_key(&owner, gym, &["members:read"]).await;
    app.as_(&key)
        .post("/api/v1/notifications/stream-ticket")
        .expect_problem(403, "api_key_not_allowed")
        .await;
}

#[sqlx::test(migrator = "gymapi::MIGRATOR")]
async fn one_stream_too_many_is_refused_until_another_closes(pool: PgPool) {
    let app = spawn_app_with(pool, &[("notifications.max_streams_per_user", json!(2))]).await;
    let (owner, gym) = app.owner_with_tenant("cap").await;
    let first = app.notification_stream(&owner, gym, None).await;
    let _second = app.notification_stream(&owner, gym, None).await;
    app.as_(&owner)
        .in_(gym)
        .get("/api/v1/notifications/stream")
        .expect_problem(429, "too_many_streams")
        .await;
    drop(first);
    // The server notices the closed connection on its next write (a heartbeat at the
    // latest); poll until the slot is free again.
    let mut reopened = None;
    for _ in 0..40 {
        let response = app
            .as_(&owner)
            .in_(gym)
            .get("/api/v1/notifications/stream")
            .send()
            .await;
        if response.status() == 200 {
            reopened = Some(response);
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    }
    assert!(reopened.is_some(), "the slot was never freed");
}

#[sqlx::test(migrator = "gymapi::MIGRATOR")]
async fn stopping_ends_open_streams_with_a_reconnect_event(pool: PgPool) {
    let app = spawn_app(pool).await;
    let (owner, gym) = app.owner_with_tenant("drain").await;
    let mut stream = app.notification_stream(&owner, gym, None).await;
    app.ctx.shutdown.stop();
    let retry = stream.next_sent().await.expect("a retry hint");
    assert_eq!(retry.retry.as_deref(), Some("500"));
    let last = stream.next_sent().await.expect("a last event");
    assert_eq!(last.event.as_deref(), Some("reconnect"));
    assert_eq!(
        last.data.as_deref(),
        Some(r#"{"reason":"server_stopping"}"#)
    );
    assert_eq!(stream.next_sent().await, None, "then a clean end");
}
