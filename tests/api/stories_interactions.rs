//! Reactions and replies: one reaction per person, changeable, shown to the author with the
//! viewer; replies for the author's eyes only, delivered as notifications; neither on an
//! expired story (410), nor on one the caller cannot see (404).

use serde_json::{Value, json};
use sqlx::PgPool;
use uuid::Uuid;

use crate::helpers::{
    Session, StoryWorld, TestApp, error_fields, expire, items, spawn_app, uuid_of,
};

fn react(
    app: &TestApp,
    who: &Session,
    gym: Uuid,
    story: Uuid,
    emoji: &str,
) -> crate::helpers::Call {
    app.as_(who)
        .in_(gym)
        .post(&format!("/api/v1/stories/{story}/reactions"))
        .json(&json!({"emoji": emoji}))
}

fn reply(
    app: &TestApp,
    who: &Session,
    gym: Uuid,
    story: Uuid,
    message: &str,
) -> crate::helpers::Call {
    app.as_(who)
        .in_(gym)
        .post(&format!("/api/v1/stories/{story}/replies"))
        .json(&json!({"message": message}))
}

/// The kinds and bodies of `who`'s notifications in `gym`, oldest first, after the jobs ran.
async fn notifications(app: &TestApp, who: &Session, gym: Uuid) -> Vec<(String, String)> {
    app.jobs.drain().await.unwrap();
    let inbox = app
        .as_(who)
        .in_(gym)
        .get("/api/v1/notifications")
        .expect(200)
        .await;
    let mut found: Vec<(String, String)> = items(&inbox)
        .iter()
        .filter(|n| {
            n["kind"]
                .as_str()
                .is_some_and(|kind| kind.starts_with("story."))
        })
        .map(|n| {
            (
                n["kind"].as_str().unwrap().to_string(),
                n["body"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    found.reverse();
    found
}

#[sqlx::test(migrator = "gymapi::MIGRATOR")]
async fn a_reaction_is_one_per_person_changeable_and_the_author_sees_it_with_the_view(
    pool: PgPool,
) {
    let app = spawn_app(pool.clone()).await;
    let world = StoryWorld::new(&app).await;
    let story = world.post(&app, "public").await;
    let gym = world.gym;

    app.view_story(&world.member, gym, story).expect(204).await;
    let first = react(&app, &world.member, gym, story, "🔥")
        .expect(200)
        .await;
    let changed = react(&app, &world.member, gym, story, "💪")
        .expect(200)
        .await;
    assert_eq!(changed["emoji"], "💪");
    assert_eq!(changed["created_at"], first["created_at"]);
    assert_eq!(crate::helpers::rows_in(&pool, "story_reactions").await, 1);

    let viewers = app.viewers(&world.author, gym, story).expect(200).await;
    assert_eq!(items(&viewers)[0]["user_id"], json!(world.member.user_id));
    assert_eq!(items(&viewers)[0]["reaction"], "💪");
    // The author hears of the first reaction, not of the change.
    assert_eq!(
        notifications(&app, &world.author, gym).await,
        [("story.reaction".to_string(), "🔥".to_string())]
    );
}

#[sqlx::test(migrator = "gymapi::MIGRATOR")]
async fn a_reply_reaches_the_author_alone_as_a_notification(pool: PgPool) {
    let app = spawn_app(pool).await;
    let world = StoryWorld::new(&app).await;
    let story = world.post(&app, "followers").await;
    let gym = world.gym;

    let sent = reply(&app, &world.follower, gym, story, "  Great form!  ")
        .expect(201)
        .await;
    assert_eq!(sent["message"], "Great form!");
    assert_eq!(sent["user_id"], json!(world.follower.user_id));
    let replies = app
        .as_(&world.author)
        .in_(gym)
        .get(&format!("/api/v1/stories/{story}/replies"))
        .expect(200)
        .await;
    let ids: Vec<Uuid> = items(&replies).iter().map(|r| uuid_of(&r["id"])).collect();
    assert_eq!(ids, [uuid_of(&sent["id"])]);
    assert_eq!(
        notifications(&app, &world.author, gym).await,
        [("story.reply".to_string(), "Great form!".to_string())]
    );
    // Nobody else reads them; who cannot see the story cannot reply to it.
    app.as_(&world.follower)
        .in_(gym)
        .get(&format!("/api/v1/stories/{story}/replies"))
        .expect_problem(403, "not_story_author")
        .await;
    for (who, in_gym) in [
        (&world.member, gym),
        (&world.hidden, gym),
        (&world.outsider, world.other_gym),
    ] {
        reply(&app, who, in_gym, story, "Hi")
            .expect_problem(404, "not_found")
            .await;
        react(&app, who, in_gym, story, "👍")
            .expect_problem(404, "not_found")
            .await;
        app.as_(who)
            .in_(in_gym)
            .get(&format!("/api/v1/stories/{story}/replies"))
            .expect_problem(404, "not_found")
            .await;
    }
}

#[sqlx::test(migrator = "gymapi::MIGRATOR")]
async fn an_expired_story_takes_no_reactions_or_replies(pool: PgPool) {
    let app = spawn_app(pool.clone()).await;
    let world = StoryWorld::new(&app).await;
    let story = world.post(&app, "followers").await;
    expire(&pool, story).await;
    react(&app, &world.follower, world.gym, story, "🔥")
        .expect_problem(410, "story_expired")
        .await;
    reply(&app, &world.follower, world.gym, story, "Too late?")
        .expect_problem(410, "story_expired")
        .await;
    // Someone it never showed to still learns nothing.
    react(&app, &world.member, world.gym, story, "🔥")
        .expect_problem(404, "not_found")
        .await;
}

#[sqlx::test(migrator = "gymapi::MIGRATOR")]
async fn bad_reactions_and_replies_are_refused_naming_the_field(pool: PgPool) {
    let app = spawn_app(pool).await;
    let world = StoryWorld::new(&app).await;
    let story = world.post(&app, "public").await;
    let gym = world.gym;
    for emoji in ["", "two words", "🔥🔥🔥🔥🔥🔥🔥🔥🔥🔥🔥🔥🔥🔥🔥🔥🔥"]
    {
        let problem = react(&app, &world.member, gym, story, emoji)
            .expect_problem(422, "validation_failed")
            .await;
        assert_eq!(error_fields(&problem), ["emoji"], "{emoji:?}");
    }
    for body in [
        json!({"message": "   "}),
        json!({"message": "x".repeat(1001)}),
        json!({}),
    ] {
        let problem = app
            .as_(&world.member)
            .in_(gym)
            .post(&format!("/api/v1/stories/{story}/replies"))
            .json(&body)
            .expect_problem(422, "validation_failed")
            .await;
        assert_eq!(error_fields(&problem), ["message"], "{body}");
    }
    let problem: Value = app
        .as_(&world.member)
        .in_(gym)
        .post(&format!("/api/v1/stories/{story}/reactions"))
        .json(&json!({"emoji": "🔥", "message": "hi"}))
        .expect_problem(422, "validation_failed")
        .await;
    assert_eq!(error_fields(&problem), ["message"]);
}
