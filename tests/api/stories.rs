//! Stories: posting each kind, who sees what through every read path (the visibility
//! matrix), expiry without the job, deletion, follows and close friends, tenant isolation,
//! and bad input.

use serde_json::{Value, json};
use sqlx::PgPool;
use uuid::Uuid;

use crate::helpers::{
    MediaApp, Session, StoryWorld, TestApp, error_fields, expire, file, items, mp4, png, sorted,
    spawn_app, spawn_app_with, text_story, uuid_of,
};

/// Whether `viewer` sees `story` through each read path, in the order of [`PATHS`]. A path
/// that cannot see it must answer as if it did not exist.
async fn seen_through_each_path(
    app: &TestApp,
    world: &StoryWorld,
    viewer: &Session,
    gym: Uuid,
    story: Uuid,
) -> Vec<bool> {
    let single = match app.story(viewer, gym, story).send().await.status().as_u16() {
        200 => true,
        404 => false,
        other => panic!("GET story answered {other}"),
    };
    let listed = match app
        .user_stories(viewer, gym, world.author.user_id)
        .send()
        .await
    {
        answer if answer.status() == 200 => {
            let page: Value = answer.json().await.unwrap();
            items(&page).iter().any(|s| uuid_of(&s["id"]) == story)
        }
        answer if answer.status() == 404 => false,
        answer => panic!("GET user stories answered {}", answer.status()),
    };
    vec![single, listed]
}

const PATHS: [&str; 2] = ["GET /stories/{id}", "GET /users/{id}/stories"];

#[sqlx::test(migrator = "gymapi::MIGRATOR")]
async fn each_privacy_shows_a_story_to_exactly_the_people_it_names_on_every_read_path(
    pool: PgPool,
) {
    let app = spawn_app(pool).await;
    let world = StoryWorld::new(&app).await;
    // Who sees a story of each privacy: author, follower, close friend, other member, hidden
    // (follower and close friend, but in hidden_from), member of another tenant.
    let expected = [
        ("public", [true, true, true, true, false, false]),
        ("followers", [true, true, false, false, false, false]),
        ("close_friends", [true, false, true, false, false, false]),
        ("private", [true, false, false, false, false, false]),
    ];
    for (privacy, sees) in expected {
        let story = world.post(&app, privacy).await;
        let viewers = [
            ("author", &world.author, world.gym),
            ("follower", &world.follower, world.gym),
            ("close friend", &world.close_friend, world.gym),
            ("member", &world.member, world.gym),
            ("hidden", &world.hidden, world.gym),
            ("outsider", &world.outsider, world.other_gym),
        ];
        for ((who, viewer, gym), visible) in viewers.into_iter().zip(sees) {
            let seen = seen_through_each_path(&app, &world, viewer, gym, story).await;
            for (path, seen) in PATHS.iter().zip(seen) {
                assert_eq!(seen, visible, "{privacy} story, {who}, {path}");
            }
        }
    }
}

#[sqlx::test(migrator = "gymapi::MIGRATOR")]
async fn an_expired_story_is_gone_from_every_read_path_but_its_authors_archive(pool: PgPool) {
    let app = spawn_app(pool.clone()).await;
    let world = StoryWorld::new(&app).await;
    let story = world.post(&app, "public").await;
    let current = world.post(&app, "public").await;
    expire(&pool, story).await;

    for viewer in [&world.follower, &world.member] {
        let seen = seen_through_each_path(&app, &world, viewer, world.gym, story).await;
        assert_eq!(seen, [false, false], "expiry needs no job");
    }
    // Its author still has it: in the archive (not among the active ones) and by id.
    assert_eq!(
        app.user_story_ids(&world.author, world.gym, world.author.user_id)
            .await,
        [current]
    );
    let archive = app
        .as_(&world.author)
        .in_(world.gym)
        .get("/api/v1/stories/archive")
        .expect(200)
        .await;
    let archived: Vec<Uuid> = items(&archive).iter().map(|s| uuid_of(&s["id"])).collect();
    assert_eq!(archived, [story]);
    app.story(&world.author, world.gym, story).expect(200).await;
    // Nobody else has an archive of it.
    let theirs = app
        .as_(&world.member)
        .in_(world.gym)
        .get("/api/v1/stories/archive")
        .expect(200)
        .await;
    assert!(items(&theirs).is_empty());
}

#[sqlx::test(migrator = "gymapi::MIGRATOR")]
async fn a_text_story_comes_back_with_its_defaults_and_hides_its_hidden_list_from_others(
    pool: PgPool,
) {
    let app = spawn_app(pool).await;
    let world = StoryWorld::new(&app).await;
    let mut body = text_story("public");
    body["caption"] = json!("  Squats  ");
    body["hidden_from"] = json!([world.hidden.user_id, world.hidden.user_id]);
    let story = app
        .post_story(&world.author, world.gym, &body)
        .expect(201)
        .await;
    assert_eq!(story["kind"], "text");
    assert_eq!(story["caption"], "Squats");
    assert_eq!(story["display_seconds"], 5);
    assert_eq!(story["privacy"], "public");
    assert_eq!(story["text"]["background_color"], "#FF8800");
    assert_eq!(story["hidden_from"], json!([world.hidden.user_id]));
    let created: chrono::DateTime<chrono::Utc> =
        story["created_at"].as_str().unwrap().parse().unwrap();
    let expires: chrono::DateTime<chrono::Utc> =
        story["expires_at"].as_str().unwrap().parse().unwrap();
    assert_eq!((expires - created).num_hours(), 24, "the default lifetime");

    let seen_by_member = app
        .story(&world.member, world.gym, uuid_of(&story["id"]))
        .expect(200)
        .await;
    assert!(seen_by_member.get("hidden_from").is_none());
}

#[sqlx::test(migrator = "gymapi::MIGRATOR")]
async fn workout_and_achievement_stories_keep_their_structured_data(pool: PgPool) {
    let app = spawn_app(pool).await;
    let world = StoryWorld::new(&app).await;
    let workout = json!({
        "title": "Push day",
        "duration_minutes": 60,
        "exercises": [
            {"name": "Bench press", "sets": 5, "reps": 5, "weight_kg": 80.5},
            {"name": "Plank", "duration_seconds": 90},
        ],
    });
    let story = app
        .post_story(
            &world.author,
            world.gym,
            &json!({"kind": "workout", "workout": workout, "display_seconds": 15, "lifetime_hours": 48}),
        )
        .expect(201)
        .await;
    assert_eq!(story["workout"], workout);
    assert_eq!(story["display_seconds"], 15);

    let record =
        json!({"kind": "personal_record", "exercise": "Deadlift", "value": 180.0, "unit": "kg"});
    let story = app
        .post_story(
            &world.author,
            world.gym,
            &json!({"kind": "achievement", "achievement": record}),
        )
        .expect(201)
        .await;
    assert_eq!(story["achievement"], record);
    let streak = json!({"kind": "streak", "value": 30.0});
    app.post_story(
        &world.author,
        world.gym,
        &json!({"kind": "achievement", "achievement": streak}),
    )
    .expect(201)
    .await;
}

#[sqlx::test(migrator = "gymapi::MIGRATOR")]
async fn bad_stories_are_refused_naming_each_field(pool: PgPool) {
    let app = spawn_app(pool).await;
    let world = StoryWorld::new(&app).await;
    let refused = |body: Value| {
        let call = app.post_story(&world.author, world.gym, &body);
        async move {
            let problem = call.expect_problem(422, "validation_failed").await;
            sorted(error_fields(&problem))
        }
    };
    // Parts of other kinds, and the part of its own kind missing.
    assert_eq!(
        refused(json!({"kind": "text", "media_id": Uuid::now_v7(), "workout": {"exercises": [{"name": "Row"}]}})).await,
        ["media_id", "text", "workout"]
    );
    assert_eq!(
        refused(json!({"kind": "video", "media_id": Uuid::now_v7()})).await,
        ["thumbnail_media_id"]
    );
    assert_eq!(refused(json!({"kind": "image"})).await, ["media_id"]);
    // Ranges and lengths.
    let mut body = text_story("public");
    body["caption"] = json!("x".repeat(2201));
    body["display_seconds"] = json!(16);
    body["lifetime_hours"] = json!(0);
    assert_eq!(
        refused(body).await,
        ["caption", "display_seconds", "lifetime_hours"]
    );
    // Beyond the deployment's maximum (48 hours by default), within the schema's 720.
    let mut body = text_story("public");
    body["lifetime_hours"] = json!(49);
    assert_eq!(refused(body).await, ["lifetime_hours"]);
    // A text story's background: a colour or a gradient, each colour #RRGGBB.
    assert_eq!(
        refused(json!({"kind": "text", "text": {"text": " ", "background_color": "orange"}})).await,
        ["text.background_color", "text.text"]
    );
    assert_eq!(
        refused(json!({"kind": "text", "text": {"text": "Hi", "background_gradient": ["#000000", "#12345G"]}})).await,
        ["text.background_gradient[1]"]
    );
    assert_eq!(
        refused(json!({"kind": "text", "text": {"text": "Hi"}})).await,
        ["text.background_color"]
    );
    // Achievements: what a personal record needs, whole numbers for the others.
    assert_eq!(
        refused(
            json!({"kind": "achievement", "achievement": {"kind": "personal_record", "value": 100}})
        )
        .await,
        ["achievement.exercise", "achievement.unit"]
    );
    assert_eq!(
        refused(json!({"kind": "achievement", "achievement": {"kind": "class_count", "value": 2.5, "unit": "kg"}})).await,
        ["achievement.unit", "achievement.value"]
    );
    // Unknown kinds, privacy levels and fields.
    assert_eq!(
        refused(json!({"kind": "poem", "privacy": "friends", "mood": "happy"})).await,
        ["kind", "mood", "privacy"]
    );
}

#[sqlx::test(migrator = "gymapi::MIGRATOR")]
async fn image_and_video_stories_show_their_authors_own_uploads(pool: PgPool) {
    let media = MediaApp::spawn(pool).await;
    let app = &media.app;
    let author = app
        .add_new_member(&media.owner, media.gym, "author", "member")
        .await;
    let image = media.upload_png(&author).await;
    let video = media
        .upload(&author, file("clip.mp4", "video/mp4", &mp4()))
        .expect(201)
        .await;
    let thumbnail = media
        .upload(&author, file("t.png", "image/png", &png(4, 4, None)))
        .expect(201)
        .await;
    let someone_elses = media.upload_png(&media.owner).await;

    let story = app
        .post_story(
            &author,
            media.gym,
            &json!({"kind": "image", "media_id": image["id"], "caption": "PR!"}),
        )
        .expect(201)
        .await;
    assert_eq!(story["media"]["media_id"], image["id"]);
    assert_eq!(story["media"]["url"], image["url"]);
    assert_eq!(story["media"]["content_type"], "image/png");
    let attached = app
        .as_(&author)
        .in_(media.gym)
        .get(&format!("/api/v1/media/{}", image["id"].as_str().unwrap()))
        .expect(200)
        .await;
    assert!(attached["attached_at"].is_string(), "the story holds it");

    let story = app
        .post_story(
            &author,
            media.gym,
            &json!({"kind": "video", "media_id": video["id"], "thumbnail_media_id": thumbnail["id"]}),
        )
        .expect(201)
        .await;
    assert_eq!(story["media"]["content_type"], "video/mp4");
    assert_eq!(story["media"]["thumbnail_media_id"], thumbnail["id"]);
    assert_eq!(story["media"]["thumbnail_url"], thumbnail["url"]);

    // Someone else's upload, the wrong kind of upload, an unknown one.
    for (body, field) in [
        (
            json!({"kind": "image", "media_id": someone_elses["id"]}),
            "media_id",
        ),
        (
            json!({"kind": "image", "media_id": video["id"]}),
            "media_id",
        ),
        (
            json!({"kind": "video", "media_id": video["id"], "thumbnail_media_id": video["id"]}),
            "thumbnail_media_id",
        ),
        (
            json!({"kind": "image", "media_id": Uuid::now_v7()}),
            "media_id",
        ),
    ] {
        let problem = app
            .post_story(&author, media.gym, &body)
            .expect_problem(422, "validation_failed")
            .await;
        assert_eq!(error_fields(&problem), [field], "{body}");
    }
}

#[sqlx::test(migrator = "gymapi::MIGRATOR")]
async fn a_story_is_deleted_by_its_author_or_an_admin_and_no_one_else(pool: PgPool) {
    let app = spawn_app(pool).await;
    let world = StoryWorld::new(&app).await;
    let admin = app
        .add_new_member(&world.owner, world.gym, "admin", "admin")
        .await;
    let public = world.post(&app, "public").await;
    let private = world.post(&app, "private").await;

    app.delete_story(&world.member, world.gym, public)
        .expect_problem(403, "not_story_author")
        .await;
    // A story someone cannot see is not there for them.
    app.delete_story(&world.member, world.gym, private)
        .expect_problem(404, "not_found")
        .await;
    app.delete_story(&world.author, world.gym, public)
        .expect(204)
        .await;
    app.delete_story(&admin, world.gym, private)
        .expect(204)
        .await;
    for story in [public, private] {
        app.story(&world.author, world.gym, story)
            .expect_problem(404, "not_found")
            .await;
    }
}

#[sqlx::test(migrator = "gymapi::MIGRATOR")]
async fn another_tenants_people_and_stories_answer_404(pool: PgPool) {
    let app = spawn_app(pool).await;
    let world = StoryWorld::new(&app).await;
    let story = world.post(&app, "public").await;
    let (outsider, other) = (&world.outsider, world.other_gym);
    let theirs = app
        .post_story(outsider, other, &text_story("public"))
        .expect(201)
        .await;
    let theirs = uuid_of(&theirs["id"]);

    // From their own tenant, our ids are unknown.
    app.story(outsider, other, story)
        .expect_problem(404, "not_found")
        .await;
    app.delete_story(outsider, other, story)
        .expect_problem(404, "not_found")
        .await;
    let author = world.author.user_id;
    app.user_stories(outsider, other, author)
        .expect_problem(404, "not_found")
        .await;
    app.follow(outsider, other, author)
        .expect_problem(404, "not_found")
        .await;
    app.add_close_friend(outsider, other, author)
        .expect_problem(404, "not_found")
        .await;
    for list in ["followers", "following"] {
        app.as_(outsider)
            .in_(other)
            .get(&format!("/api/v1/users/{author}/{list}"))
            .expect_problem(404, "not_found")
            .await;
    }
    // And theirs are unknown to us.
    app.story(&world.owner, world.gym, theirs)
        .expect_problem(404, "not_found")
        .await;
    app.follow(&world.member, world.gym, outsider.user_id)
        .expect_problem(404, "not_found")
        .await;
    // Naming our tenant does not let them in.
    app.story(outsider, world.gym, story)
        .expect_problem(403, "not_a_member")
        .await;
}

#[sqlx::test(migrator = "gymapi::MIGRATOR")]
async fn follows_and_close_friends_are_listed_newest_first_and_undone(pool: PgPool) {
    let app = spawn_app(pool).await;
    let world = StoryWorld::new(&app).await;
    let gym = world.gym;
    let author = world.author.user_id;
    let ids = |page: &Value| -> Vec<Uuid> {
        items(page).iter().map(|p| uuid_of(&p["user_id"])).collect()
    };

    // Following twice keeps one follow; yourself is refused.
    app.follow(&world.follower, gym, author).expect(204).await;
    app.follow(&world.author, gym, author)
        .expect_problem(422, "validation_failed")
        .await;
    let followers = app
        .as_(&world.member)
        .in_(gym)
        .get(&format!("/api/v1/users/{author}/followers?limit=1"))
        .expect(200)
        .await;
    assert_eq!(ids(&followers), [world.hidden.user_id]);
    let next = followers["next_cursor"].as_str().unwrap();
    let rest = app
        .as_(&world.member)
        .in_(gym)
        .get(&format!(
            "/api/v1/users/{author}/followers?limit=1&cursor={next}"
        ))
        .expect(200)
        .await;
    assert_eq!(ids(&rest), [world.follower.user_id]);
    assert!(rest["next_cursor"].is_null());
    let following = app
        .as_(&world.member)
        .in_(gym)
        .get(&format!(
            "/api/v1/users/{}/following",
            world.follower.user_id
        ))
        .expect(200)
        .await;
    assert_eq!(ids(&following), [author]);

    // An unfollow takes followers-only stories away at once.
    let story = world.post(&app, "followers").await;
    app.story(&world.follower, gym, story).expect(200).await;
    app.unfollow(&world.follower, gym, author).expect(204).await;
    app.unfollow(&world.follower, gym, author).expect(204).await;
    app.story(&world.follower, gym, story)
        .expect_problem(404, "not_found")
        .await;

    // Close friends: only the author's own list.
    let list = app
        .as_(&world.author)
        .in_(gym)
        .get("/api/v1/close-friends")
        .expect(200)
        .await;
    assert_eq!(
        ids(&list),
        [world.hidden.user_id, world.close_friend.user_id]
    );
    let close = world.post(&app, "close_friends").await;
    app.remove_close_friend(&world.author, gym, world.close_friend.user_id)
        .expect(204)
        .await;
    app.story(&world.close_friend, gym, close)
        .expect_problem(404, "not_found")
        .await;
    let theirs = app
        .as_(&world.close_friend)
        .in_(gym)
        .get("/api/v1/close-friends")
        .expect(200)
        .await;
    assert!(items(&theirs).is_empty());
}

#[sqlx::test(migrator = "gymapi::MIGRATOR")]
async fn a_deployment_may_allow_longer_lives(pool: PgPool) {
    let app = spawn_app_with(
        pool,
        &[
            ("stories.default_lifetime_hours", json!(12)),
            ("stories.max_lifetime_hours", json!(72)),
        ],
    )
    .await;
    let world = StoryWorld::new(&app).await;
    let story = app
        .post_story(&world.author, world.gym, &text_story("public"))
        .expect(201)
        .await;
    let hours = |story: &Value| {
        let at = |key: &str| {
            story[key]
                .as_str()
                .unwrap()
                .parse::<chrono::DateTime<chrono::Utc>>()
                .unwrap()
        };
        (at("expires_at") - at("created_at")).num_hours()
    };
    assert_eq!(hours(&story), 12);
    let mut body = text_story("public");
    body["lifetime_hours"] = json!(72);
    let story = app
        .post_story(&world.author, world.gym, &body)
        .expect(201)
        .await;
    assert_eq!(hours(&story), 72);
}
