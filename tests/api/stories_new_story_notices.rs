//! New-story notifications: followers hear of an author's new stories once per batching
//! window however many they post, and only of stories each of them may see.

use sqlx::PgPool;
use uuid::Uuid;

use crate::helpers::{Session, StoryWorld, TestApp, items, spawn_app};

const ANNOUNCE: &str = "stories.announce_new_stories";

/// Ends every open batching window now and runs what is due.
async fn end_the_window(app: &TestApp, pool: &PgPool) {
    app.jobs.drain().await.unwrap();
    sqlx::query("update jobs set run_at = now() where kind = $1 and status = 'queued'")
        .bind(ANNOUNCE)
        .execute(pool)
        .await
        .unwrap();
    app.jobs.drain().await.unwrap();
}

/// How many "new stories" notifications `who` has.
async fn new_story_notices(app: &TestApp, who: &Session, gym: Uuid) -> usize {
    app.jobs.drain().await.unwrap();
    let inbox = app
        .as_(who)
        .in_(gym)
        .get("/api/v1/notifications")
        .expect(200)
        .await;
    items(&inbox)
        .iter()
        .filter(|n| n["kind"] == "story.new_stories")
        .count()
}

/// Each person's count of "new stories" notifications: follower, close friend, member, hidden.
async fn notices_of_everyone(app: &TestApp, world: &StoryWorld) -> [usize; 4] {
    let mut counts = [0; 4];
    for (count, who) in counts.iter_mut().zip([
        &world.follower,
        &world.close_friend,
        &world.member,
        &world.hidden,
    ]) {
        *count = new_story_notices(app, who, world.gym).await;
    }
    counts
}

async fn queued_announcements(pool: &PgPool) -> i64 {
    sqlx::query_scalar("select count(*) from jobs where kind = $1 and status = 'queued'")
        .bind(ANNOUNCE)
        .fetch_one(pool)
        .await
        .unwrap()
}

#[sqlx::test(migrator = "gymapi::MIGRATOR")]
async fn three_stories_in_a_window_make_one_notification_per_follower(pool: PgPool) {
    let app = spawn_app(pool.clone()).await;
    let world = StoryWorld::new(&app).await;
    for _ in 0..3 {
        world.post(&app, "public").await;
    }
    app.jobs.drain().await.unwrap();
    assert_eq!(
        queued_announcements(&pool).await,
        1,
        "one batch for the window"
    );
    // Nothing before the window ends.
    assert_eq!(notices_of_everyone(&app, &world).await, [0, 0, 0, 0]);

    end_the_window(&app, &pool).await;
    // The follower once; the hidden follower never; people who do not follow never.
    assert_eq!(notices_of_everyone(&app, &world).await, [1, 0, 0, 0]);
    let inbox = app
        .as_(&world.follower)
        .in_(world.gym)
        .get("/api/v1/notifications")
        .expect(200)
        .await;
    assert!(
        items(&inbox)[0]["title"]
            .as_str()
            .unwrap()
            .starts_with("New stories from ")
    );
    // A rerun of the window's job tells nobody again.
    end_the_window(&app, &pool).await;
    assert_eq!(notices_of_everyone(&app, &world).await, [1, 0, 0, 0]);

    // A story after the window opens the next one.
    world.post(&app, "public").await;
    end_the_window(&app, &pool).await;
    assert_eq!(notices_of_everyone(&app, &world).await, [2, 0, 0, 0]);
}

#[sqlx::test(migrator = "gymapi::MIGRATOR")]
async fn a_close_friends_story_notifies_only_followers_on_the_list_and_a_private_one_nobody(
    pool: PgPool,
) {
    let app = spawn_app(pool.clone()).await;
    let world = StoryWorld::new(&app).await;
    // The close friend follows too now; the follower is not on the list.
    app.follow(&world.close_friend, world.gym, world.author.user_id)
        .expect(204)
        .await;

    world.post(&app, "private").await;
    end_the_window(&app, &pool).await;
    assert_eq!(notices_of_everyone(&app, &world).await, [0, 0, 0, 0]);

    world.post(&app, "close_friends").await;
    end_the_window(&app, &pool).await;
    assert_eq!(notices_of_everyone(&app, &world).await, [0, 1, 0, 0]);

    world.post(&app, "followers").await;
    end_the_window(&app, &pool).await;
    assert_eq!(notices_of_everyone(&app, &world).await, [1, 2, 0, 0]);
}

#[sqlx::test(migrator = "gymapi::MIGRATOR")]
async fn a_batch_reaches_every_follower_however_many_in_a_few_statements(pool: PgPool) {
    let app = spawn_app(pool.clone()).await;
    let world = StoryWorld::new(&app).await;
    // 2,500 more followers, written straight to the tables.
    sqlx::query(
        "with fans as (
             insert into users (id, email, password_hash, first_name, last_name)
             select gen_random_uuid(), 'fan-' || n || '@example.com', 'not-a-hash', 'Fan', 'Fan'
             from generate_series(1, 2500) n
             returning id
         ), joined as (
             insert into gym_members (gym_id, user_id, role) select $1, id, 'member' from fans
         )
         insert into story_follows (gym_id, follower_id, followee_id) select $1, id, $2 from fans",
    )
    .bind(world.gym)
    .bind(world.author.user_id)
    .execute(&pool)
    .await
    .unwrap();
    world.post(&app, "followers").await;
    end_the_window(&app, &pool).await;

    let told: i64 = sqlx::query_scalar(
        "select count(distinct user_id) from notifications where kind = 'story.new_stories'",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(told, 2501, "every follower but the hidden one, once");
    // One event, and one job writing it, per thousand followers.
    let events: i64 = sqlx::query_scalar(
        "select count(*) from domain_events where event_type = 'notifications_requested'",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(events, 3);
}
