//! Moderation: members report stories they can see, once at a time; admins and owners work
//! the queue; a removal takes the story out of every read path (its author's too), releases its
//! media and tells its author; a dismissal leaves it up.

use serde_json::{Value, json};
use sqlx::PgPool;
use uuid::Uuid;

use crate::helpers::{
    MediaApp, Session, StoryWorld, TestApp, error_fields, items, spawn_app, uuid_of,
};

fn report(
    app: &TestApp,
    who: &Session,
    gym: Uuid,
    story: Uuid,
    reason: &str,
) -> crate::helpers::Call {
    app.as_(who)
        .in_(gym)
        .post(&format!("/api/v1/stories/{story}/reports"))
        .json(&json!({"reason": reason, "details": "Not for this gym"}))
}

fn queue(app: &TestApp, who: &Session, gym: Uuid, query: &str) -> crate::helpers::Call {
    app.as_(who)
        .in_(gym)
        .get(&format!("/api/v1/stories/reports{query}"))
}

fn resolve(
    app: &TestApp,
    who: &Session,
    gym: Uuid,
    report: Uuid,
    action: &str,
) -> crate::helpers::Call {
    app.as_(who)
        .in_(gym)
        .post(&format!("/api/v1/stories/reports/{report}/resolve"))
        .json(&json!({"action": action, "note": "checked"}))
}

/// `(id, status)` of each report in a queue page, in order.
fn statuses(page: &Value) -> Vec<(Uuid, String)> {
    items(page)
        .iter()
        .map(|r| (uuid_of(&r["id"]), r["status"].as_str().unwrap().to_string()))
        .collect()
}

/// Every path a story can be read through answers that `viewer` sees `story`.
async fn readable_anywhere(
    app: &TestApp,
    world: &StoryWorld,
    viewer: &Session,
    story: Uuid,
    highlight: Uuid,
) -> Vec<(&'static str, bool)> {
    let gym = world.gym;
    let by_id = app.story(viewer, gym, story).send().await.status() == 200;
    let listed = app
        .user_story_ids(viewer, gym, world.author.user_id)
        .await
        .contains(&story);
    let in_feed = app
        .whole_feed(viewer, gym, 20)
        .await
        .iter()
        .any(|(_, stories)| stories.iter().any(|(id, _)| *id == story));
    let archive = app
        .as_(viewer)
        .in_(gym)
        .get("/api/v1/stories/archive")
        .expect(200)
        .await;
    let archived = items(&archive).iter().any(|s| uuid_of(&s["id"]) == story);
    let highlighted = match app
        .as_(viewer)
        .in_(gym)
        .get(&format!("/api/v1/highlights/{highlight}"))
        .send()
        .await
    {
        answer if answer.status() == 200 => {
            let body: Value = answer.json().await.unwrap();
            body["stories"]
                .as_array()
                .unwrap()
                .iter()
                .any(|s| uuid_of(&s["id"]) == story)
        }
        _ => false,
    };
    let insights = app
        .as_(viewer)
        .in_(gym)
        .get(&format!("/api/v1/stories/{story}/insights"))
        .send()
        .await
        .status()
        == 200;
    let viewable = app.view_story(viewer, gym, story).send().await.status() == 204;
    vec![
        ("GET /stories/{id}", by_id),
        ("GET /users/{id}/stories", listed),
        ("GET /stories/feed", in_feed),
        ("GET /stories/archive", archived),
        ("GET /highlights/{id}", highlighted),
        ("GET /stories/{id}/insights", insights),
        ("POST /stories/{id}/view", viewable),
    ]
}

/// The kinds of `who`'s notifications about stories, oldest first, after the jobs ran.
async fn notification_kinds(app: &TestApp, who: &Session, gym: Uuid) -> Vec<String> {
    app.jobs.drain().await.unwrap();
    let inbox = app
        .as_(who)
        .in_(gym)
        .get("/api/v1/notifications")
        .expect(200)
        .await;
    let mut kinds: Vec<String> = items(&inbox)
        .iter()
        .map(|n| n["kind"].as_str().unwrap().to_string())
        .filter(|kind| kind.starts_with("story."))
        .collect();
    kinds.reverse();
    kinds
}

#[sqlx::test(migrator = "gymapi::MIGRATOR")]
async fn a_removed_story_leaves_every_read_path_and_its_author_is_told(pool: PgPool) {
    let app = spawn_app(pool).await;
    let world = StoryWorld::new(&app).await;
    let gym = world.gym;
    let story = world.post(&app, "public").await;
    let other = world.post(&app, "public").await;
    let highlight = app
        .as_(&world.author)
        .in_(gym)
        .post("/api/v1/highlights")
        .json(&json!({"title": "All", "cover": {"kind": "emoji", "emoji": "🔥"}, "story_ids": [story, other]}))
        .expect(201)
        .await;
    let highlight = uuid_of(&highlight["id"]);
    // Before: the author reads it everywhere but the archive (it is still up).
    let before = readable_anywhere(&app, &world, &world.author, story, highlight).await;
    assert!(
        before
            .iter()
            .all(|(path, seen)| *seen == (*path != "GET /stories/archive")),
        "{before:?}"
    );

    let first = report(&app, &world.member, gym, story, "spam")
        .expect(201)
        .await;
    assert_eq!(first["status"], "open");
    assert_eq!(first["author_id"], json!(world.author.user_id));
    let second = report(&app, &world.follower, gym, story, "harassment")
        .expect(201)
        .await;
    let unrelated = report(&app, &world.member, gym, other, "other")
        .expect(201)
        .await;
    report(&app, &world.member, gym, story, "nudity")
        .expect_problem(409, "story_already_reported")
        .await;
    let (first, second, unrelated) = (
        uuid_of(&first["id"]),
        uuid_of(&second["id"]),
        uuid_of(&unrelated["id"]),
    );

    let open = queue(&app, &world.owner, gym, "").expect(200).await;
    assert_eq!(
        statuses(&open),
        [
            (unrelated, "open".into()),
            (second, "open".into()),
            (first, "open".into())
        ]
    );
    let removed = resolve(&app, &world.owner, gym, first, "remove")
        .expect(200)
        .await;
    assert_eq!(removed["status"], "removed");
    assert_eq!(removed["resolved_by"], json!(world.owner.user_id));
    assert_eq!(removed["resolution_note"], "checked");

    // Every open report of the story closed with it; the queue shows open ones first.
    let after = queue(&app, &world.owner, gym, "").expect(200).await;
    assert_eq!(
        statuses(&after),
        [
            (unrelated, "open".into()),
            (second, "removed".into()),
            (first, "removed".into())
        ]
    );
    let still_open = queue(&app, &world.owner, gym, "?status=open")
        .expect(200)
        .await;
    assert_eq!(statuses(&still_open), [(unrelated, "open".into())]);
    // Keyset pages walk the same order.
    let page = queue(&app, &world.owner, gym, "?limit=2").expect(200).await;
    assert_eq!(statuses(&page).len(), 2);
    let cursor = page["next_cursor"].as_str().unwrap();
    let rest = queue(
        &app,
        &world.owner,
        gym,
        &format!("?limit=2&cursor={cursor}"),
    )
    .expect(200)
    .await;
    assert_eq!(statuses(&rest), [(first, "removed".into())]);

    for viewer in [&world.author, &world.follower, &world.member] {
        let seen = readable_anywhere(&app, &world, viewer, story, highlight).await;
        assert!(seen.iter().all(|(_, seen)| !seen), "{seen:?}");
    }
    // Nobody reacts to, replies to or reports it any more.
    for (path, body) in [
        ("reactions", json!({"emoji": "🔥"})),
        ("replies", json!({"message": "hey"})),
    ] {
        app.as_(&world.follower)
            .in_(gym)
            .post(&format!("/api/v1/stories/{story}/{path}"))
            .json(&body)
            .expect_problem(404, "not_found")
            .await;
    }
    report(&app, &world.close_friend, gym, story, "spam")
        .expect_problem(404, "not_found")
        .await;
    // The highlight keeps the rest.
    let kept = app
        .as_(&world.member)
        .in_(gym)
        .get(&format!("/api/v1/highlights/{highlight}"))
        .expect(200)
        .await;
    assert_eq!(kept["story_count"], 1);

    assert_eq!(
        notification_kinds(&app, &world.author, gym).await,
        ["story.removed"]
    );
    resolve(&app, &world.owner, gym, second, "dismiss")
        .expect_problem(409, "report_already_resolved")
        .await;
}

#[sqlx::test(migrator = "gymapi::MIGRATOR")]
async fn a_dismissed_report_leaves_the_story_up(pool: PgPool) {
    let app = spawn_app(pool).await;
    let world = StoryWorld::new(&app).await;
    let gym = world.gym;
    let story = world.post(&app, "public").await;
    let filed = report(&app, &world.member, gym, story, "violence")
        .expect(201)
        .await;
    let admin = app
        .add_new_member(&world.owner, gym, "admin", "admin")
        .await;

    let dismissed = resolve(&app, &admin, gym, uuid_of(&filed["id"]), "dismiss")
        .expect(200)
        .await;
    assert_eq!(dismissed["status"], "dismissed");
    app.story(&world.member, gym, story).expect(200).await;
    resolve(&app, &admin, gym, uuid_of(&filed["id"]), "remove")
        .expect_problem(409, "report_already_resolved")
        .await;
    // Once dismissed, the same person may report it again.
    report(&app, &world.member, gym, story, "violence")
        .expect(201)
        .await;
    assert!(
        notification_kinds(&app, &world.author, gym)
            .await
            .is_empty()
    );
}

#[sqlx::test(migrator = "gymapi::MIGRATOR")]
async fn only_admins_and_owners_work_the_queue(pool: PgPool) {
    let app = spawn_app(pool).await;
    let world = StoryWorld::new(&app).await;
    let gym = world.gym;
    let story = world.post(&app, "public").await;
    let filed = report(&app, &world.member, gym, story, "spam")
        .expect(201)
        .await;
    let trainer = app
        .add_new_member(&world.owner, gym, "trainer", "trainer")
        .await;
    for someone in [&world.member, &trainer] {
        queue(&app, someone, gym, "")
            .expect_problem(403, "insufficient_role")
            .await;
        resolve(&app, someone, gym, uuid_of(&filed["id"]), "remove")
            .expect_problem(403, "insufficient_role")
            .await;
    }
    // Another tenant's staff see nothing of it.
    let theirs = queue(&app, &world.outsider, world.other_gym, "")
        .expect(200)
        .await;
    assert!(items(&theirs).is_empty());
    resolve(
        &app,
        &world.outsider,
        world.other_gym,
        uuid_of(&filed["id"]),
        "remove",
    )
    .expect_problem(404, "not_found")
    .await;
    app.story(&world.member, gym, story).expect(200).await;
}

#[sqlx::test(migrator = "gymapi::MIGRATOR")]
async fn only_a_story_you_can_see_and_is_not_yours_can_be_reported(pool: PgPool) {
    let app = spawn_app(pool).await;
    let world = StoryWorld::new(&app).await;
    let gym = world.gym;
    let private = world.post(&app, "private").await;
    report(&app, &world.member, gym, private, "spam")
        .expect_problem(404, "not_found")
        .await;
    report(&app, &world.outsider, world.other_gym, private, "spam")
        .expect_problem(404, "not_found")
        .await;
    let problem = report(&app, &world.author, gym, private, "spam")
        .expect_problem(422, "validation_failed")
        .await;
    assert_eq!(error_fields(&problem), ["story_id"]);
    let public = world.post(&app, "public").await;
    let problem = app
        .as_(&world.member)
        .in_(gym)
        .post(&format!("/api/v1/stories/{public}/reports"))
        .json(&json!({"reason": "other", "details": "x".repeat(501)}))
        .expect_problem(422, "validation_failed")
        .await;
    assert_eq!(error_fields(&problem), ["details"]);
}

#[sqlx::test(migrator = "gymapi::MIGRATOR")]
async fn a_removed_storys_media_is_released(pool: PgPool) {
    let media = MediaApp::spawn(pool.clone()).await;
    let app = &media.app;
    let author = app
        .add_new_member(&media.owner, media.gym, "author", "member")
        .await;
    let member = app
        .add_new_member(&media.owner, media.gym, "member", "member")
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
    let filed = report(app, &member, media.gym, uuid_of(&story["id"]), "nudity")
        .expect(201)
        .await;
    resolve(
        app,
        &media.owner,
        media.gym,
        uuid_of(&filed["id"]),
        "remove",
    )
    .expect(200)
    .await;
    let item = app
        .as_(&author)
        .in_(media.gym)
        .get(&format!("/api/v1/media/{}", image["id"].as_str().unwrap()))
        .expect(200)
        .await;
    assert!(item.get("attached_at").is_none());
}
