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
