//! Insights: exact numbers for a story's author (views, viewers, reach, interactions, hours),
//! for them alone and after expiry too; the author's range of days; and the stories figures
//! admins and owners get on the dashboard.

use serde_json::{Value, json};
use sqlx::PgPool;
use uuid::Uuid;

use crate::helpers::{Session, StoryWorld, TestApp, error_fields, expire, spawn_app, text_story};

fn insights(app: &TestApp, who: &Session, gym: Uuid, story: Uuid) -> crate::helpers::Call {
    app.as_(who)
        .in_(gym)
        .get(&format!("/api/v1/stories/{story}/insights"))
}

/// Moves `viewer`'s first view of `story` to `at` (RFC 3339).
async fn viewed_at(pool: &PgPool, story: Uuid, viewer: Uuid, at: &str) {
    sqlx::query(
        "update story_views set viewed_at = $3::timestamptz where story_id = $1 and viewer_id = $2",
    )
    .bind(story)
    .bind(viewer)
    .bind(at)
    .execute(pool)
    .await
    .unwrap();
}

/// The author's public story, seen by three people (the follower twice) at known hours, with
/// one reaction and one reply; the author's own view and reaction never count.
async fn a_story_people_saw(app: &TestApp, pool: &PgPool, world: &StoryWorld) -> Uuid {
    let gym = world.gym;
    let story = world.post(app, "public").await;
    for viewer in [
        &world.follower,
        &world.follower,
        &world.close_friend,
        &world.member,
        &world.author,
    ] {
        app.view_story(viewer, gym, story).expect(204).await;
    }
    for (who, emoji) in [(&world.follower, "🔥"), (&world.author, "💪")] {
        app.as_(who)
            .in_(gym)
            .post(&format!("/api/v1/stories/{story}/reactions"))
            .json(&json!({"emoji": emoji}))
            .expect(200)
            .await;
    }
    app.as_(&world.member)
        .in_(gym)
        .post(&format!("/api/v1/stories/{story}/replies"))
        .json(&json!({"message": "Strong!"}))
        .expect(201)
        .await;
    // Two first views in one hour, one in another (of the tenant's time zone).
    viewed_at(pool, story, world.follower.user_id, "2026-07-01T08:10:00Z").await;
    viewed_at(
        pool,
        story,
        world.close_friend.user_id,
        "2026-07-01T08:50:00Z",
    )
    .await;
    viewed_at(pool, story, world.member.user_id, "2026-07-01T20:00:00Z").await;
    story
}

/// The hour of the day `at` (RFC 3339) is in `gym`'s time zone: a gym in Madrid (the gym
/// build's tests) is at UTC+2 in July, a trainer's workspace at UTC.
async fn local_hour(pool: &PgPool, gym: Uuid, at: &str) -> i64 {
    sqlx::query_scalar(
        "select extract(hour from $2::timestamptz at time zone timezone)::bigint
         from gyms where id = $1",
    )
    .bind(gym)
    .bind(at)
    .fetch_one(pool)
    .await
    .unwrap()
}

/// The non-zero hours of `viewers_by_hour`, after checking it lists all 24 in order.
fn busy_hours(insights: &Value) -> Vec<(i64, i64)> {
    let hours = insights["viewers_by_hour"].as_array().expect("hours");
    let listed: Vec<i64> = hours.iter().map(|h| h["hour"].as_i64().unwrap()).collect();
    assert_eq!(listed, (0..24).collect::<Vec<i64>>());
    hours
        .iter()
        .map(|h| (h["hour"].as_i64().unwrap(), h["viewers"].as_i64().unwrap()))
        .filter(|(_, viewers)| *viewers > 0)
        .collect()
}

#[sqlx::test(migrator = "gymapi::MIGRATOR")]
async fn a_storys_insights_count_views_viewers_reach_and_interactions_exactly(pool: PgPool) {
    let app = spawn_app(pool.clone()).await;
    let world = StoryWorld::new(&app).await;
    let story = a_story_people_saw(&app, &pool, &world).await;

    let found = insights(&app, &world.author, world.gym, story)
        .expect(200)
        .await;
    assert_eq!(found["total_views"], 4, "the follower's second view counts");
    assert_eq!(found["unique_viewers"], 3);
    // Owner, author, follower, close friend, member, hidden: 3 of 6 saw it.
    assert_eq!(found["members"], 6);
    assert_eq!(found["reach_percent"], 50.0);
    assert_eq!(found["reactions"], 1);
    assert_eq!(found["replies"], 1);
    assert_eq!(found["interactions"], 2);
    assert_eq!(found["interaction_rate_percent"], 66.67);
    let morning = local_hour(&pool, world.gym, "2026-07-01T08:10:00Z").await;
    let evening = local_hour(&pool, world.gym, "2026-07-01T20:00:00Z").await;
    #[cfg(feature = "gym")]
    assert_eq!((morning, evening), (10, 22), "Madrid's hours, not UTC's");
    assert_eq!(busy_hours(&found), [(morning, 2), (evening, 1)]);
    assert_eq!(found["peak_hour"], morning);
    assert_eq!(found["stickers"], json!([]));

    // A story nobody saw has no peak hour and no rates.
    let unseen = world.post(&app, "private").await;
    let empty = insights(&app, &world.author, world.gym, unseen)
        .expect(200)
        .await;
    assert_eq!(
        (empty["total_views"].clone(), empty["reach_percent"].clone()),
        (json!(0), json!(0.0))
    );
    assert_eq!(empty["interaction_rate_percent"], 0.0);
    assert!(empty.get("peak_hour").is_none());
}

#[sqlx::test(migrator = "gymapi::MIGRATOR")]
async fn insights_are_for_the_author_alone_and_outlive_the_story(pool: PgPool) {
    let app = spawn_app(pool.clone()).await;
    let world = StoryWorld::new(&app).await;
    let story = a_story_people_saw(&app, &pool, &world).await;
    for someone in [&world.follower, &world.member, &world.owner] {
        insights(&app, someone, world.gym, story)
            .expect_problem(404, "not_found")
            .await;
    }
    insights(&app, &world.outsider, world.other_gym, story)
        .expect_problem(404, "not_found")
        .await;

    expire(&pool, story).await;
    let found = insights(&app, &world.author, world.gym, story)
        .expect(200)
        .await;
    assert_eq!(
        (
            found["total_views"].clone(),
            found["unique_viewers"].clone()
        ),
        (json!(4), json!(3))
    );
    assert_eq!(found["interactions"], 2);
}

#[sqlx::test(migrator = "gymapi::MIGRATOR")]
async fn the_authors_range_totals_their_stories_of_those_days(pool: PgPool) {
    let app = spawn_app(pool.clone()).await;
    let world = StoryWorld::new(&app).await;
    let seen = a_story_people_saw(&app, &pool, &world).await;
    let quiet = world.post(&app, "public").await;
    let old = world.post(&app, "public").await;
    sqlx::query("update stories set created_at = now() - interval '40 days', expires_at = now() - interval '39 days' where id = $1")
        .bind(old)
        .execute(&pool)
        .await
        .unwrap();
    // Someone else's story is not the author's business.
    app.post_story(&world.member, world.gym, &text_story("public"))
        .expect(201)
        .await;

    let mine = |query: &str| {
        app.as_(&world.author)
            .in_(world.gym)
            .get(&format!("/api/v1/stories/insights/me{query}"))
    };
    let last_month = mine("").expect(200).await;
    let listed: Vec<&str> = last_month["stories"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["story_id"].as_str().unwrap())
        .collect();
    assert_eq!(listed, [quiet.to_string(), seen.to_string()]);
    assert_eq!(last_month["stories_posted"], 2);
    assert_eq!(
        last_month["totals"],
        json!({"total_views": 4, "unique_viewers": 3, "interactions": 2, "reactions": 1, "replies": 1})
    );
    assert_eq!(last_month["stories"][1]["total_views"], 4);

    let today = last_month["to"].as_str().unwrap().to_string();
    let from =
        chrono::NaiveDate::parse_from_str(&today, "%Y-%m-%d").unwrap() - chrono::Days::new(89);
    let quarter = mine(&format!("?from={from}&to={today}")).expect(200).await;
    assert_eq!(quarter["stories_posted"], 3, "the 40-day-old story too");

    for (query, fields) in [
        ("?from=2026-01-01&to=2026-06-01", vec!["from", "to"]),
        ("?from=2026-03-02&to=2026-03-01", vec!["from"]),
    ] {
        let problem = mine(query).expect_problem(422, "validation_failed").await;
        assert_eq!(error_fields(&problem), fields, "{query}");
    }
}

/// The stories section of `who`'s dashboard, as key → value; `None` when it has none.
async fn story_figures(app: &TestApp, who: &Session, gym: Uuid) -> Option<Vec<(String, i64)>> {
    let dashboard = app
        .as_(who)
        .in_(gym)
        .get("/api/v1/dashboard")
        .expect(200)
        .await;
    let section = dashboard["sections"]
        .as_array()
        .unwrap()
        .iter()
        .find(|section| section["module"] == "stories")?;
    Some(
        section["figures"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| {
                (
                    f["key"].as_str().unwrap().to_string(),
                    f["value"].as_i64().unwrap(),
                )
            })
            .collect(),
    )
}

#[sqlx::test(migrator = "gymapi::MIGRATOR")]
async fn admins_and_owners_get_the_stories_figures_on_the_dashboard(pool: PgPool) {
    let app = spawn_app(pool.clone()).await;
    let world = StoryWorld::new(&app).await;
    let gym = world.gym;
    let story = world.post(&app, "public").await;
    world.post(&app, "followers").await;
    let gone = world.post(&app, "public").await;
    sqlx::query("update stories set created_at = now() - interval '3 days', expires_at = now() - interval '2 days' where id = $1")
        .bind(gone)
        .execute(&pool)
        .await
        .unwrap();
    app.post_story(&world.member, gym, &text_story("public"))
        .expect(201)
        .await;
    app.view_story(&world.follower, gym, story)
        .expect(204)
        .await;
    app.view_story(&world.member, gym, story).expect(204).await;
    app.as_(&world.member)
        .in_(gym)
        .post(&format!("/api/v1/stories/{story}/reactions"))
        .json(&json!({"emoji": "🔥"}))
        .expect(200)
        .await;
    let admin = app
        .add_new_member(&world.owner, gym, "admin", "admin")
        .await;
    let trainer = app
        .add_new_member(&world.owner, gym, "trainer", "trainer")
        .await;

    let expected: Vec<(String, i64)> = [
        ("stories_today", 3),
        ("active_stories", 3),
        ("story_views_today", 2),
        ("story_reactions_today", 1),
        ("top_creator_1", 3),
        ("top_creator_2", 1),
    ]
    .into_iter()
    .map(|(key, value)| (key.to_string(), value))
    .collect();
    for staff in [&world.owner, &admin] {
        assert_eq!(
            story_figures(&app, staff, gym).await.as_ref(),
            Some(&expected)
        );
    }
    assert_eq!(
        story_figures(&app, &trainer, gym).await,
        None,
        "trainers see no stories figures"
    );
}
