//! Highlights: creating, reading, changing, reordering, pinning, archiving and deleting them;
//! each story in a highlight shown only to the people its own privacy names (highlights and
//! insights as read paths of the visibility matrix); and highlighted stories keeping their
//! media after expiry until they leave their last highlight.

use serde_json::{Value, json};
use sqlx::PgPool;
use uuid::Uuid;

use crate::helpers::{
    MediaApp, Session, StoryWorld, TestApp, error_fields, expire, run_expiry, spawn_app, uuid_of,
};

fn create_highlight(app: &TestApp, who: &Session, gym: Uuid, body: &Value) -> crate::helpers::Call {
    app.as_(who).in_(gym).post("/api/v1/highlights").json(body)
}

fn highlight(app: &TestApp, who: &Session, gym: Uuid, id: Uuid) -> crate::helpers::Call {
    app.as_(who)
        .in_(gym)
        .get(&format!("/api/v1/highlights/{id}"))
}

/// `who`'s view of `owner`'s highlights: their ids, in list order.
async fn highlight_ids(app: &TestApp, who: &Session, gym: Uuid, owner: Uuid) -> Vec<Uuid> {
    let list = app
        .as_(who)
        .in_(gym)
        .get(&format!("/api/v1/users/{owner}/highlights"))
        .expect(200)
        .await;
    ids(&list["items"])
}

fn ids(items: &Value) -> Vec<Uuid> {
    items
        .as_array()
        .expect("a list")
        .iter()
        .map(|item| uuid_of(&item["id"]))
        .collect()
}

/// The author's new highlight titled `title` with `stories` in it, an emoji for its cover.
async fn new_highlight(app: &TestApp, world: &StoryWorld, title: &str, stories: &[Uuid]) -> Uuid {
    let body =
        json!({"title": title, "cover": {"kind": "emoji", "emoji": "🔥"}, "story_ids": stories});
    let created = create_highlight(app, &world.author, world.gym, &body)
        .expect(201)
        .await;
    uuid_of(&created["id"])
}

#[sqlx::test(migrator = "gymapi::MIGRATOR")]
async fn a_highlight_is_created_changed_reordered_pinned_archived_and_deleted(pool: PgPool) {
    let app = spawn_app(pool).await;
    let world = StoryWorld::new(&app).await;
    let (gym, author) = (world.gym, &world.author);
    let first = world.post(&app, "public").await;
    let second = world.post(&app, "public").await;

    let legs = create_highlight(
        &app,
        author,
        gym,
        &json!({
            "title": " Leg days ",
            "description": "Every one of them",
            "cover": {"kind": "story", "story_id": second},
            "story_ids": [second, first, second],
        }),
    )
    .expect(201)
    .await;
    assert_eq!(legs["title"], "Leg days");
    assert_eq!(legs["description"], "Every one of them");
    assert_eq!(legs["cover"], json!({"kind": "story", "story_id": second}));
    assert_eq!(ids(&legs["stories"]), [second, first]);
    assert_eq!(legs["story_count"], 2);
    assert_eq!(legs["position"], 1);
    assert_eq!(legs["pinned"], false);
    let legs = uuid_of(&legs["id"]);
    let prs = create_highlight(
        &app,
        author,
        gym,
        &json!({"title": "PRs", "cover": {"kind": "color", "color": "#FF8800"}, "story_ids": [first]}),
    )
    .expect(201)
    .await;
    assert_eq!(prs["cover"], json!({"kind": "color", "color": "#FF8800"}));
    assert_eq!(prs["position"], 2);
    let prs = uuid_of(&prs["id"]);
    assert_eq!(
        highlight_ids(&app, author, gym, author.user_id).await,
        [legs, prs]
    );

    // Pinned first, whatever the order.
    let pinned = app
        .as_(author)
        .in_(gym)
        .patch(&format!("/api/v1/highlights/{prs}"))
        .json(&json!({"pinned": true, "title": "Records"}))
        .expect(200)
        .await;
    assert_eq!(
        (pinned["pinned"].clone(), pinned["title"].clone()),
        (json!(true), json!("Records"))
    );
    assert_eq!(
        highlight_ids(&app, author, gym, author.user_id).await,
        [prs, legs]
    );
    app.as_(author)
        .in_(gym)
        .patch(&format!("/api/v1/highlights/{prs}"))
        .json(&json!({"pinned": false, "description": ""}))
        .expect(200)
        .await;
    assert_eq!(
        highlight_ids(&app, author, gym, author.user_id).await,
        [legs, prs]
    );

    // Reordering names every highlight of the caller's exactly once.
    let reordered = app
        .as_(author)
        .in_(gym)
        .post("/api/v1/highlights/reorder")
        .json(&json!({"highlight_ids": [prs, legs]}))
        .expect(200)
        .await;
    assert_eq!(ids(&reordered["items"]), [prs, legs]);
    assert_eq!(
        highlight_ids(&app, &world.member, gym, author.user_id).await,
        [prs, legs]
    );
    for wrong in [
        json!([prs]),
        json!([prs, legs, legs]),
        json!([prs, legs, first]),
    ] {
        let problem = app
            .as_(author)
            .in_(gym)
            .post("/api/v1/highlights/reorder")
            .json(&json!({"highlight_ids": wrong}))
            .expect_problem(422, "validation_failed")
            .await;
        assert_eq!(error_fields(&problem), ["highlight_ids"], "{wrong}");
    }

    // Stories come and go; only the owner's own count.
    let added = app
        .as_(author)
        .in_(gym)
        .post(&format!("/api/v1/highlights/{prs}/stories"))
        .json(&json!({"story_ids": [second]}))
        .expect(200)
        .await;
    assert_eq!(ids(&added["stories"]), [first, second]);
    let removed = app
        .as_(author)
        .in_(gym)
        .delete(&format!("/api/v1/highlights/{prs}/stories"))
        .json(&json!({"story_ids": [first]}))
        .expect(200)
        .await;
    assert_eq!(ids(&removed["stories"]), [second]);
    let someone_elses = app
        .post_story(&world.member, gym, &crate::helpers::text_story("public"))
        .expect(201)
        .await;
    let problem = app
        .as_(author)
        .in_(gym)
        .post(&format!("/api/v1/highlights/{prs}/stories"))
        .json(&json!({"story_ids": [uuid_of(&someone_elses["id"])]}))
        .expect_problem(422, "validation_failed")
        .await;
    assert_eq!(error_fields(&problem), ["story_ids"]);

    // Archived: its owner's alone.
    let archived = app
        .as_(author)
        .in_(gym)
        .patch(&format!("/api/v1/highlights/{legs}"))
        .json(&json!({"archived": true}))
        .expect(200)
        .await;
    assert!(archived["archived_at"].is_string());
    assert_eq!(
        highlight_ids(&app, &world.member, gym, author.user_id).await,
        [prs]
    );
    highlight(&app, &world.member, gym, legs)
        .expect_problem(404, "not_found")
        .await;
    assert_eq!(
        highlight_ids(&app, author, gym, author.user_id).await,
        [prs, legs]
    );

    // Only its owner changes it: others who see it get 403, others 404.
    app.as_(&world.member)
        .in_(gym)
        .patch(&format!("/api/v1/highlights/{prs}"))
        .json(&json!({"title": "Mine now"}))
        .expect_problem(403, "not_highlight_owner")
        .await;
    app.as_(&world.member)
        .in_(gym)
        .delete(&format!("/api/v1/highlights/{legs}"))
        .expect_problem(404, "not_found")
        .await;

    app.as_(author)
        .in_(gym)
        .delete(&format!("/api/v1/highlights/{legs}"))
        .expect(204)
        .await;
    highlight(&app, author, gym, legs)
        .expect_problem(404, "not_found")
        .await;
    // Its stories stay.
    app.story(author, gym, first).expect(200).await;
}

#[sqlx::test(migrator = "gymapi::MIGRATOR")]
async fn bad_highlights_are_refused_naming_each_field(pool: PgPool) {
    let app = spawn_app(pool).await;
    let world = StoryWorld::new(&app).await;
    let someone_elses = app
        .post_story(
            &world.member,
            world.gym,
            &crate::helpers::text_story("public"),
        )
        .expect(201)
        .await;
    let cases = [
        (
            json!({"title": " ", "cover": {"kind": "emoji", "emoji": "🔥"}}),
            vec!["title"],
        ),
        (
            json!({"title": "x".repeat(51), "cover": {"kind": "emoji", "emoji": "🔥"}}),
            vec!["title"],
        ),
        (
            json!({"title": "Legs", "description": "x".repeat(201), "cover": {"kind": "emoji", "emoji": "🔥"}}),
            vec!["description"],
        ),
        (
            json!({"title": "Legs", "cover": {"kind": "emoji"}}),
            vec!["cover.emoji"],
        ),
        (
            json!({"title": "Legs", "cover": {"kind": "color", "color": "#FF8800", "emoji": "🔥"}}),
            vec!["cover.emoji"],
        ),
        (
            json!({"title": "Legs", "cover": {"kind": "color", "color": "orange"}}),
            vec!["cover.color"],
        ),
        (
            json!({"title": "Legs", "cover": {"kind": "story", "story_id": someone_elses["id"]}}),
            vec!["cover.story_id"],
        ),
    ];
    for (body, fields) in cases {
        let problem = create_highlight(&app, &world.author, world.gym, &body)
            .expect_problem(422, "validation_failed")
            .await;
        assert_eq!(error_fields(&problem), fields, "{body}");
    }
}

/// Whether `viewer` sees `story` in the highlight that holds it alone: through
/// `GET /highlights/{id}` and through the owner's list.
async fn seen_in_highlight(
    app: &TestApp,
    world: &StoryWorld,
    viewer: &Session,
    gym: Uuid,
    highlight: Uuid,
    story: Uuid,
) -> [bool; 2] {
    let response = app
        .as_(viewer)
        .in_(gym)
        .get(&format!("/api/v1/highlights/{highlight}"))
        .send()
        .await;
    let single = match response.status().as_u16() {
        200 => {
            let body: Value = response.json().await.unwrap();
            ids(&body["stories"]) == [story]
        }
        404 => false,
        other => panic!("GET highlight answered {other}"),
    };
    let response = app
        .as_(viewer)
        .in_(gym)
        .get(&format!(
            "/api/v1/users/{}/highlights",
            world.author.user_id
        ))
        .send()
        .await;
    let listed = match response.status().as_u16() {
        200 => {
            let body: Value = response.json().await.unwrap();
            ids(&body["items"]).contains(&highlight)
        }
        404 => false,
        other => panic!("GET user highlights answered {other}"),
    };
    [single, listed]
}

/// Whether `viewer` gets the story's insights.
async fn sees_insights(app: &TestApp, viewer: &Session, gym: Uuid, story: Uuid) -> bool {
    let response = app
        .as_(viewer)
        .in_(gym)
        .get(&format!("/api/v1/stories/{story}/insights"))
        .send()
        .await;
    match response.status().as_u16() {
        200 => true,
        404 => false,
        other => panic!("GET insights answered {other}"),
    }
}

#[sqlx::test(migrator = "gymapi::MIGRATOR")]
async fn a_highlight_shows_each_story_to_exactly_the_people_its_own_privacy_names(pool: PgPool) {
    let app = spawn_app(pool.clone()).await;
    let world = StoryWorld::new(&app).await;
    // Who sees a story of each privacy in a highlight, expired or not: author, follower, close
    // friend, other member, hidden (follower and close friend, but in hidden_from), member of
    // another tenant. Insights: its author alone.
    let expected = [
        ("public", [true, true, true, true, false, false]),
        ("followers", [true, true, false, false, false, false]),
        ("close_friends", [true, false, true, false, false, false]),
        ("private", [true, false, false, false, false, false]),
    ];
    for (privacy, sees) in expected {
        let story = world.post(&app, privacy).await;
        let highlight = new_highlight(&app, &world, privacy, &[story]).await;
        for expired in [false, true] {
            if expired {
                expire(&pool, story).await;
            }
            let viewers = [
                ("author", &world.author, world.gym),
                ("follower", &world.follower, world.gym),
                ("close friend", &world.close_friend, world.gym),
                ("member", &world.member, world.gym),
                ("hidden", &world.hidden, world.gym),
                ("outsider", &world.outsider, world.other_gym),
            ];
            for ((who, viewer, gym), visible) in viewers.into_iter().zip(sees) {
                let seen = seen_in_highlight(&app, &world, viewer, gym, highlight, story).await;
                for (path, seen) in ["GET /highlights/{id}", "GET /users/{id}/highlights"]
                    .iter()
                    .zip(seen)
                {
                    assert_eq!(
                        seen, visible,
                        "{privacy} story, expired {expired}, {who}, {path}"
                    );
                }
                let author = who == "author";
                assert_eq!(
                    sees_insights(&app, viewer, gym, story).await,
                    author,
                    "{privacy} story, expired {expired}, {who}, insights"
                );
            }
        }
    }
}

#[sqlx::test(migrator = "gymapi::MIGRATOR")]
async fn a_story_cover_the_reader_may_not_see_is_left_out(pool: PgPool) {
    let app = spawn_app(pool).await;
    let world = StoryWorld::new(&app).await;
    let public = world.post(&app, "public").await;
    let private = world.post(&app, "private").await;
    let created = create_highlight(
        &app,
        &world.author,
        world.gym,
        &json!({"title": "Mixed", "cover": {"kind": "story", "story_id": private}, "story_ids": [public, private]}),
    )
    .expect(201)
    .await;
    let id = uuid_of(&created["id"]);
    let theirs = highlight(&app, &world.member, world.gym, id)
        .expect(200)
        .await;
    assert!(theirs.get("cover").is_none());
    assert_eq!(ids(&theirs["stories"]), [public]);
    assert_eq!(theirs["story_count"], 1);
    let own = highlight(&app, &world.author, world.gym, id)
        .expect(200)
        .await;
    assert_eq!(own["cover"]["story_id"], json!(private));
    assert_eq!(own["story_count"], 2);
}

/// Whether `upload` is held by a record (`attached_at`).
async fn attached(app: &TestApp, who: &Session, gym: Uuid, upload: &str) -> bool {
    let item = app
        .as_(who)
        .in_(gym)
        .get(&format!("/api/v1/media/{upload}"))
        .expect(200)
        .await;
    item["attached_at"].is_string()
}

#[sqlx::test(migrator = "gymapi::MIGRATOR")]
async fn highlighted_stories_keep_their_media_after_expiry_until_they_leave_their_last_highlight(
    pool: PgPool,
) {
    let media = MediaApp::spawn(pool.clone()).await;
    let app = &media.app;
    let author = app
        .add_new_member(&media.owner, media.gym, "author", "member")
        .await;
    let mut stories = Vec::new();
    let mut uploads = Vec::new();
    for _ in 0..2 {
        let image = media.upload_png(&author).await;
        let story = app
            .post_story(
                &author,
                media.gym,
                &json!({"kind": "image", "media_id": image["id"]}),
            )
            .expect(201)
            .await;
        stories.push(uuid_of(&story["id"]));
        uploads.push(image["id"].as_str().unwrap().to_string());
    }
    let (kept, plain) = (stories[0], stories[1]);
    let cover = media.upload_png(&author).await;
    let created = create_highlight(
        app,
        &author,
        media.gym,
        &json!({"title": "Gains", "cover": {"kind": "media", "media_id": cover["id"]}, "story_ids": [kept]}),
    )
    .expect(201)
    .await;
    assert!(created["cover"]["url"].is_string());
    let highlight_id = uuid_of(&created["id"]);
    let cover_id = cover["id"].as_str().unwrap();
    assert!(attached(app, &author, media.gym, cover_id).await);
    for story in [kept, plain] {
        sqlx::query(
            "update stories set created_at = now() - interval '49 hours',
                 expires_at = now() - interval '25 hours'
             where id = $1",
        )
        .bind(story)
        .execute(&pool)
        .await
        .unwrap();
    }

    run_expiry(app, &pool).await;
    assert!(
        attached(app, &author, media.gym, &uploads[0]).await,
        "the highlighted story keeps its upload"
    );
    assert!(
        !attached(app, &author, media.gym, &uploads[1]).await,
        "the other one releases it"
    );
    // Others still see the expired story in the highlight, media and all.
    let seen = highlight(app, &media.owner, media.gym, highlight_id)
        .expect(200)
        .await;
    assert_eq!(ids(&seen["stories"]), [kept]);
    assert!(seen["stories"][0]["media"]["url"].is_string());

    // Out of its last highlight, the next run releases it.
    app.as_(&author)
        .in_(media.gym)
        .delete(&format!("/api/v1/highlights/{highlight_id}/stories"))
        .json(&json!({"story_ids": [kept]}))
        .expect(200)
        .await;
    run_expiry(app, &pool).await;
    assert!(!attached(app, &author, media.gym, &uploads[0]).await);
    // A story whose upload is gone cannot join a highlight again.
    let problem = app
        .as_(&author)
        .in_(media.gym)
        .post(&format!("/api/v1/highlights/{highlight_id}/stories"))
        .json(&json!({"story_ids": [kept]}))
        .expect_problem(422, "validation_failed")
        .await;
    assert_eq!(error_fields(&problem), ["story_ids"]);
    // Deleting the highlight releases its cover.
    app.as_(&author)
        .in_(media.gym)
        .delete(&format!("/api/v1/highlights/{highlight_id}"))
        .expect(204)
        .await;
    assert!(!attached(app, &author, media.gym, cover_id).await);
}
