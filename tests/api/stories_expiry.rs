//! The expiry job: it marks expired stories once and publishes `story.expired`, however often
//! it runs, and releases their uploads after the grace period, so media's sweep can delete them.

use serde_json::json;
use sqlx::PgPool;
use uuid::Uuid;

use crate::helpers::{MediaApp, StoryWorld, expire, run_expiry, spawn_app, uuid_of};

async fn expired_events(pool: &PgPool) -> Vec<Uuid> {
    sqlx::query_scalar(
        "select (payload ->> 'story_id')::uuid from domain_events
         where event_type = 'story.expired' order by created_at",
    )
    .fetch_all(pool)
    .await
    .unwrap()
}

#[sqlx::test(migrator = "gymapi::MIGRATOR")]
async fn the_expiry_job_publishes_each_expired_story_once(pool: PgPool) {
    let app = spawn_app(pool.clone()).await;
    let world = StoryWorld::new(&app).await;
    let gone = world.post(&app, "public").await;
    let live = world.post(&app, "public").await;
    expire(&pool, gone).await;

    run_expiry(&app, &pool).await;
    run_expiry(&app, &pool).await;
    assert_eq!(expired_events(&pool).await, [gone]);
    let marked: Vec<Uuid> =
        sqlx::query_scalar("select id from stories where expired_at is not null")
            .fetch_all(&pool)
            .await
            .unwrap();
    assert_eq!(marked, [gone]);
    // The job changes nothing readers see: the live story is still there, the expired one
    // still only in its author's archive.
    app.story(&world.member, world.gym, live).expect(200).await;
    app.story(&world.member, world.gym, gone)
        .expect_problem(404, "not_found")
        .await;
    app.story(&world.author, world.gym, gone).expect(200).await;
}

#[sqlx::test(migrator = "gymapi::MIGRATOR")]
async fn an_expired_storys_uploads_are_released_after_the_grace_period(pool: PgPool) {
    let media = MediaApp::spawn(pool.clone()).await;
    let app = &media.app;
    let author = app
        .add_new_member(&media.owner, media.gym, "author", "member")
        .await;
    let image = media.upload_png(&author).await;
    let story = app
        .post_story(
            &author,
            media.gym,
            &json!({"kind": "image", "media_id": image["id"]}),
        )
        .expect(201)
        .await;
    let story = uuid_of(&story["id"]);
    let attached = || {
        app.as_(&author)
            .in_(media.gym)
            .get(&format!("/api/v1/media/{}", image["id"].as_str().unwrap()))
            .expect(200)
    };
    expire(&pool, story).await;

    // Expired an hour ago, within the default 24-hour grace: still held.
    run_expiry(app, &pool).await;
    assert!(attached().await["attached_at"].is_string());
    // Past the grace period: released, once.
    sqlx::query("update stories set expires_at = now() - interval '25 hours' where id = $1")
        .bind(story)
        .execute(&pool)
        .await
        .unwrap();
    run_expiry(app, &pool).await;
    assert!(attached().await.get("attached_at").is_none());
    let released: i64 =
        sqlx::query_scalar("select count(*) from stories where media_released_at is not null")
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(released, 1);
}
