//! The feed and views: grouping and order across pages, expiry without the job, privacy, and
//! views counted once per viewer whatever the concurrency.

use futures_util::future::join_all;
use sqlx::PgPool;
use uuid::Uuid;

use crate::helpers::{
    StoryWorld, bulk_members, expire, items, rows_in, run_expiry, spawn_app, spawn_app_with,
    text_story, uuid_of,
};

#[sqlx::test(migrator = "gymapi::MIGRATOR")]
async fn the_feed_puts_your_own_first_then_unseen_authors_newest_first_then_seen_ones(
    pool: PgPool,
) {
    let app = spawn_app(pool.clone()).await;
    let (owner, gym) = app.owner_with_tenant("feed").await;
    let me = app.add_new_member(&owner, gym, "me", "member").await;
    let mut authors = Vec::new();
    for tag in ["ann", "ben", "cai", "dee"] {
        let author = app.add_new_member(&owner, gym, tag, "member").await;
        app.follow(&me, gym, author.user_id).expect(204).await;
        authors.push(author);
    }
    let stranger = app.add_new_member(&owner, gym, "stranger", "member").await;
    let post = |who| {
        let call = app.post_story(who, gym, &text_story("public"));
        async move { uuid_of(&call.expect(201).await["id"]) }
    };
    // Posted in this order: ann, ben, cai twice, dee, mine, the stranger's (not followed).
    let ann = post(&authors[0]).await;
    let ben = post(&authors[1]).await;
    let cai = [post(&authors[2]).await, post(&authors[2]).await];
    let dee = post(&authors[3]).await;
    let mine = post(&me).await;
    post(&stranger).await;
    // ben's and one of cai's are seen; dee's has expired (the job has not run).
    app.view_story(&me, gym, ben).expect(204).await;
    app.view_story(&me, gym, cai[0]).expect(204).await;
    expire(&pool, dee).await;

    let feed = app.whole_feed(&me, gym, 1).await;
    let expected = vec![
        (me.user_id, vec![(mine, false)]),
        // Unseen: cai (newest, half seen), then ann.
        (authors[2].user_id, vec![(cai[0], true), (cai[1], false)]),
        (authors[0].user_id, vec![(ann, false)]),
        // Fully seen.
        (authors[1].user_id, vec![(ben, true)]),
    ];
    assert_eq!(feed, expected, "one group a page, four pages");
    assert_eq!(app.whole_feed(&me, gym, 100).await, expected, "one page");

    // Seeing the rest of cai's moves cai behind ann; a new story of ben brings ben forward.
    app.view_story(&me, gym, cai[1]).expect(204).await;
    let ben_again = post(&authors[1]).await;
    let order: Vec<Uuid> = app
        .whole_feed(&me, gym, 2)
        .await
        .into_iter()
        .map(|(author, _)| author)
        .collect();
    assert_eq!(
        order,
        [
            me.user_id,
            authors[1].user_id,
            authors[0].user_id,
            authors[2].user_id
        ]
    );
    let _ = ben_again;
}

#[sqlx::test(migrator = "gymapi::MIGRATOR")]
async fn the_feed_and_the_viewers_follow_the_visibility_rule(pool: PgPool) {
    let app = spawn_app(pool).await;
    let world = StoryWorld::new(&app).await;
    let gym = world.gym;
    // The close friend and the member follow the author too, so the feed would hold them.
    for fan in [&world.close_friend, &world.member] {
        app.follow(fan, gym, world.author.user_id).expect(204).await;
    }
    let close = world.post(&app, "close_friends").await;
    let private = world.post(&app, "private").await;
    let in_feed = |feed: Vec<(Uuid, Vec<(Uuid, bool)>)>| -> Vec<Uuid> {
        feed.into_iter()
            .flat_map(|(_, stories)| stories.into_iter().map(|(id, _)| id))
            .collect()
    };
    assert_eq!(
        in_feed(app.whole_feed(&world.close_friend, gym, 10).await),
        [close]
    );
    assert!(in_feed(app.whole_feed(&world.member, gym, 10).await).is_empty());
    assert!(in_feed(app.whole_feed(&world.hidden, gym, 10).await).is_empty());
    assert_eq!(
        in_feed(app.whole_feed(&world.author, gym, 10).await),
        [close, private]
    );
    assert!(in_feed(app.whole_feed(&world.outsider, world.other_gym, 10).await).is_empty());

    // Views: only by those who may see it; 404 otherwise, as for an unknown story.
    app.view_story(&world.close_friend, gym, close)
        .expect(204)
        .await;
    for viewer in [&world.member, &world.hidden, &world.follower] {
        app.view_story(viewer, gym, close)
            .expect_problem(404, "not_found")
            .await;
    }
    app.view_story(&world.outsider, world.other_gym, close)
        .expect_problem(404, "not_found")
        .await;
    // Viewers: the author only; someone who sees the story is 403, anyone else 404.
    let viewers = app.viewers(&world.author, gym, close).expect(200).await;
    let ids: Vec<Uuid> = items(&viewers)
        .iter()
        .map(|v| uuid_of(&v["user_id"]))
        .collect();
    assert_eq!(ids, [world.close_friend.user_id]);
    app.viewers(&world.close_friend, gym, close)
        .expect_problem(403, "not_story_author")
        .await;
    app.viewers(&world.member, gym, close)
        .expect_problem(404, "not_found")
        .await;
    app.viewers(&world.outsider, world.other_gym, close)
        .expect_problem(404, "not_found")
        .await;
}

#[sqlx::test(migrator = "gymapi::MIGRATOR")]
async fn a_view_counts_once_per_viewer_and_keeps_the_first_time(pool: PgPool) {
    let app = spawn_app(pool.clone()).await;
    let world = StoryWorld::new(&app).await;
    let story = world.post(&app, "public").await;

    // One viewer, fifty concurrent views: one row.
    let answers =
        join_all((0..50).map(|_| app.view_story(&world.member, world.gym, story).send())).await;
    assert!(answers.iter().all(|answer| answer.status() == 204));
    let first = app
        .viewers(&world.author, world.gym, story)
        .expect(200)
        .await;
    assert_eq!(items(&first).len(), 1);
    app.view_story(&world.member, world.gym, story)
        .expect(204)
        .await;
    assert_eq!(
        view_count(&pool, story, world.member.user_id).await,
        51,
        "every view counts for insights, however many went in one batch"
    );
    let again = app
        .viewers(&world.author, world.gym, story)
        .expect(200)
        .await;
    assert_eq!(
        again["items"][0]["viewed_at"],
        first["items"][0]["viewed_at"]
    );

    // Two hundred viewers at once: two hundred views, listed across pages.
    let crowd = bulk_members(&pool, world.gym, 200).await;
    let answers = join_all(
        crowd
            .iter()
            .map(|who| app.view_story(who, world.gym, story).send()),
    )
    .await;
    assert!(answers.iter().all(|answer| answer.status() == 204));
    assert_eq!(rows_in(&pool, "story_views").await, 201);
    let mut listed = std::collections::HashSet::new();
    let mut cursor = String::new();
    loop {
        let page = app
            .as_(&world.author)
            .in_(world.gym)
            .get(&format!(
                "/api/v1/stories/{story}/viewers?limit=100{cursor}"
            ))
            .expect(200)
            .await;
        listed.extend(items(&page).iter().map(|v| uuid_of(&v["user_id"])));
        match page["next_cursor"].as_str() {
            Some(next) => cursor = format!("&cursor={next}"),
            None => break,
        }
    }
    assert_eq!(listed.len(), 201);
    assert!(crowd.iter().all(|who| listed.contains(&who.user_id)));

    // The author's own view marks it seen for them but is no view of theirs to list.
    app.view_story(&world.author, world.gym, story)
        .expect(204)
        .await;
    let mine = app.story(&world.author, world.gym, story).expect(200).await;
    assert_eq!(mine["seen"], true);
    assert_eq!(rows_in(&pool, "story_views").await, 202);

    // An expired story takes no views.
    expire(&pool, story).await;
    app.view_story(&world.follower, world.gym, story)
        .expect_problem(404, "not_found")
        .await;
}

#[sqlx::test(migrator = "gymapi::MIGRATOR")]
async fn views_sent_together_are_each_answered_for_their_own_story_and_tenant(pool: PgPool) {
    // Views arriving at once are committed in shared batches; each still gets its own answer.
    let app = spawn_app(pool.clone()).await;
    let here = StoryWorld::new(&app).await;
    let public = here.post(&app, "public").await;
    let private = here.post(&app, "private").await;
    let theirs = app
        .post_story(&here.outsider, here.other_gym, &text_story("public"))
        .expect(201)
        .await;
    let theirs = uuid_of(&theirs["id"]);
    let mut calls = Vec::new();
    for _ in 0..5 {
        calls.push((&here.member, here.gym, public, 204));
        calls.push((&here.member, here.gym, private, 404));
        calls.push((&here.member, here.gym, theirs, 404));
        calls.push((&here.hidden, here.gym, public, 404));
        calls.push((&here.outsider, here.other_gym, theirs, 204));
    }
    let answers = join_all(
        calls
            .iter()
            .map(|(who, gym, story, _)| app.view_story(*who, *gym, *story).send()),
    )
    .await;
    for ((_, _, story, status), answer) in calls.iter().zip(&answers) {
        assert_eq!(answer.status(), *status, "a view of {story}");
    }
    assert_eq!(view_count(&pool, public, here.member.user_id).await, 5);
    assert_eq!(view_count(&pool, theirs, here.outsider.user_id).await, 5);
    assert_eq!(rows_in(&pool, "story_views").await, 2);
}

async fn view_count(pool: &PgPool, story: Uuid, viewer: Uuid) -> i32 {
    sqlx::query_scalar("select view_count from story_views where story_id = $1 and viewer_id = $2")
        .bind(story)
        .bind(viewer)
        .fetch_one(pool)
        .await
        .unwrap()
}

#[sqlx::test(migrator = "gymapi::MIGRATOR")]
async fn a_view_sent_with_an_idempotency_key_is_recorded_once(pool: PgPool) {
    // Under the key's lease the view goes through a fenced transaction of its own, not a batch.
    let app = spawn_app(pool.clone()).await;
    let world = StoryWorld::new(&app).await;
    let story = world.post(&app, "public").await;
    for _ in 0..2 {
        app.view_story(&world.member, world.gym, story)
            .header("Idempotency-Key", "view-1")
            .expect(204)
            .await;
    }
    assert_eq!(
        view_count(&pool, story, world.member.user_id).await,
        1,
        "the retry was replayed, not counted again"
    );
    app.view_story(&world.member, world.gym, Uuid::now_v7())
        .header("Idempotency-Key", "view-2")
        .expect_problem(404, "not_found")
        .await;
}

#[sqlx::test(migrator = "gymapi::MIGRATOR")]
async fn a_cached_feed_shows_every_change_of_its_order_on_the_next_read(pool: PgPool) {
    let app = spawn_app(pool).await;
    let (owner, gym) = app.owner_with_tenant("feed-cache").await;
    let me = app.add_new_member(&owner, gym, "me", "member").await;
    let ann = app.add_new_member(&owner, gym, "ann", "member").await;
    let ben = app.add_new_member(&owner, gym, "ben", "member").await;
    let post = |who, privacy| {
        let call = app.post_story(who, gym, &text_story(privacy));
        async move { uuid_of(&call.expect(201).await["id"]) }
    };
    // Every read below follows a read that cached the order.
    let feed = || app.whole_feed(&me, gym, 20);

    app.follow(&me, gym, ann.user_id).expect(204).await;
    let a1 = post(&ann, "public").await;
    assert_eq!(feed().await, [(ann.user_id, vec![(a1, false)])]);

    let b1 = post(&ben, "close_friends").await;
    app.follow(&me, gym, ben.user_id).expect(204).await;
    assert_eq!(
        feed().await,
        [(ann.user_id, vec![(a1, false)])],
        "a close-friends story is not for me yet"
    );

    app.add_close_friend(&ben, gym, me.user_id)
        .expect(204)
        .await;
    assert_eq!(
        feed().await,
        [
            (ben.user_id, vec![(b1, false)]),
            (ann.user_id, vec![(a1, false)])
        ],
        "becoming a close friend brings it in, newest first"
    );

    app.view_story(&me, gym, b1).expect(204).await;
    assert_eq!(
        feed().await,
        [
            (ann.user_id, vec![(a1, false)]),
            (ben.user_id, vec![(b1, true)])
        ],
        "a seen author goes behind the unseen ones"
    );

    let b2 = post(&ben, "public").await;
    assert_eq!(
        feed().await,
        [
            (ben.user_id, vec![(b1, true), (b2, false)]),
            (ann.user_id, vec![(a1, false)])
        ],
        "a new story brings its author forward"
    );

    app.delete_story(&ben, gym, b2).expect(204).await;
    assert_eq!(
        feed().await,
        [
            (ann.user_id, vec![(a1, false)]),
            (ben.user_id, vec![(b1, true)])
        ],
        "a deleted story takes its place with it"
    );

    app.unfollow(&me, gym, ann.user_id).expect(204).await;
    assert_eq!(feed().await, [(ben.user_id, vec![(b1, true)])]);
}

#[sqlx::test(migrator = "gymapi::MIGRATOR")]
async fn a_feed_read_before_keeps_up_with_deletion_a_lost_close_friendship_removal_and_expiry(
    pool: PgPool,
) {
    let app = spawn_app(pool.clone()).await;
    let (owner, gym) = app.owner_with_tenant("feed-tray").await;
    let me = app.add_new_member(&owner, gym, "me", "member").await;
    let ann = app.add_new_member(&owner, gym, "ann", "member").await;
    app.follow(&me, gym, ann.user_id).expect(204).await;
    app.add_close_friend(&ann, gym, me.user_id)
        .expect(204)
        .await;
    let post = |privacy| {
        let call = app.post_story(&ann, gym, &text_story(privacy));
        async move { uuid_of(&call.expect(201).await["id"]) }
    };
    let (old, close, reported, deleted) = (
        post("public").await,
        post("close_friends").await,
        post("public").await,
        post("public").await,
    );
    let feed = || app.whole_feed(&me, gym, 20);
    // The stories in my tray, the table the feed's order is read from (the page's stories are
    // read afresh, so the feed alone would hide a tray that kept too much).
    let my_tray = || async {
        sqlx::query_scalar::<_, Uuid>(
            "select story_id from story_tray_items where viewer_id = $1 order by story_id",
        )
        .bind(me.user_id)
        .fetch_all(&pool)
        .await
        .unwrap()
    };
    assert_eq!(
        feed().await,
        [(
            ann.user_id,
            vec![
                (old, false),
                (close, false),
                (reported, false),
                (deleted, false)
            ]
        )]
    );
    assert_eq!(my_tray().await, [old, close, reported, deleted]);

    app.delete_story(&ann, gym, deleted).expect(204).await;
    assert_eq!(my_tray().await, [old, close, reported]);

    // A change of what I may see of ann's stories leaves what I still see as it was: seen.
    app.view_story(&me, gym, old).expect(204).await;
    app.remove_close_friend(&ann, gym, me.user_id)
        .expect(204)
        .await;
    assert_eq!(
        feed().await,
        [(ann.user_id, vec![(old, true), (reported, false)])]
    );
    assert_eq!(my_tray().await, [old, reported]);
    let seen_in_tray: bool = sqlx::query_scalar(
        "select seen from story_tray_items where viewer_id = $1 and story_id = $2",
    )
    .bind(me.user_id)
    .bind(old)
    .fetch_one(&pool)
    .await
    .unwrap();
    assert!(seen_in_tray);

    let filed = app
        .as_(&me)
        .in_(gym)
        .post(&format!("/api/v1/stories/{reported}/reports"))
        .json(&serde_json::json!({"reason": "spam"}))
        .expect(201)
        .await;
    app.as_(&owner)
        .in_(gym)
        .post(&format!(
            "/api/v1/stories/reports/{}/resolve",
            uuid_of(&filed["id"])
        ))
        .json(&serde_json::json!({"action": "remove"}))
        .expect(200)
        .await;
    assert_eq!(
        feed().await,
        [(ann.user_id, vec![(old, true)])],
        "a removed story leaves the feed"
    );
    assert_eq!(my_tray().await, [old]);

    expire(&pool, old).await;
    assert!(
        feed().await.is_empty(),
        "an expired story is gone before the job runs"
    );
    run_expiry(&app, &pool).await;
    assert!(my_tray().await.is_empty(), "and leaves the tray with it");
}

#[sqlx::test(migrator = "gymapi::MIGRATOR")]
async fn the_metrics_tell_how_many_views_each_batch_statement_carried(pool: PgPool) {
    let app = spawn_app(pool).await;
    let world = StoryWorld::new(&app).await;
    let story = world.post(&app, "public").await;
    let answers =
        join_all((0..30).map(|_| app.view_story(&world.member, world.gym, story).send())).await;
    assert!(answers.iter().all(|answer| answer.status() == 204));

    let text = app.metrics().await;
    let value = |name| metric(&text, name);
    assert_eq!(
        value("stories_view_batch_views_sum"),
        30.0,
        "every view, once"
    );
    let statements = value("stories_view_batch_views_count");
    assert!(
        (1.0..=30.0).contains(&statements),
        "{statements} statements"
    );
    assert_eq!(value("stories_view_batch_failures_total"), 0.0);
}

#[sqlx::test(migrator = "gymapi::MIGRATOR")]
async fn forgetting_a_tray_rebuilds_it_from_the_stories_on_the_next_read(pool: PgPool) {
    // No feed cache: every read below reads the order from the tray.
    let app = spawn_app_with(
        pool.clone(),
        &[("stories.feed_cache_seconds", serde_json::json!(0))],
    )
    .await;
    let (owner, gym) = app.owner_with_tenant("feed-repair").await;
    let me = app.add_new_member(&owner, gym, "me", "member").await;
    let ann = app.add_new_member(&owner, gym, "ann", "member").await;
    let stranger = app.add_new_member(&owner, gym, "stranger", "member").await;
    app.follow(&me, gym, ann.user_id).expect(204).await;
    let post = |who| {
        let call = app.post_story(who, gym, &text_story("public"));
        async move { uuid_of(&call.expect(201).await["id"]) }
    };
    let (mine_to_see, not_mine) = (post(&ann).await, post(&stranger).await);
    assert_eq!(
        app.whole_feed(&me, gym, 20).await,
        [(ann.user_id, vec![(mine_to_see, false)])]
    );

    // Drift, as writes of a release without trays would leave: the stranger's story in my
    // tray, ann's gone from it.
    sqlx::query(
        "update story_tray_items set story_id = $2, author_id = $3
         where viewer_id = $1 and story_id = $4",
    )
    .bind(me.user_id)
    .bind(not_mine)
    .bind(stranger.user_id)
    .bind(mine_to_see)
    .execute(&pool)
    .await
    .unwrap();
    assert_eq!(
        app.whole_feed(&me, gym, 20).await,
        [(stranger.user_id, vec![(not_mine, false)])],
        "the tray decides whose groups the feed shows"
    );

    sqlx::query("delete from story_trays where viewer_id = $1")
        .bind(me.user_id)
        .execute(&pool)
        .await
        .unwrap();
    assert_eq!(
        app.whole_feed(&me, gym, 20).await,
        [(ann.user_id, vec![(mine_to_see, false)])]
    );
}

#[sqlx::test(migrator = "gymapi::MIGRATOR")]
async fn a_batch_that_fails_is_retried_view_by_view_so_only_the_failing_view_fails(pool: PgPool) {
    let app = spawn_app(pool.clone()).await;
    let world = StoryWorld::new(&app).await;
    let gym = world.gym;
    let (held, good, bad) = (
        world.post(&app, "public").await,
        world.post(&app, "public").await,
        world.post(&app, "public").await,
    );
    // The database refuses any view of `bad`, in whatever batch it comes.
    sqlx::query(
        "create function refuse_view() returns trigger language plpgsql
         as $$ begin raise exception 'this view is refused'; end $$",
    )
    .execute(&pool)
    .await
    .unwrap();
    sqlx::query(&format!(
        "create trigger refuse_view before insert on story_views for each row
         when (new.story_id = '{bad}') execute function refuse_view()"
    ))
    .execute(&pool)
    .await
    .unwrap();

    // The views of `held` wait on its row, locked here, holding the batch slots they took, so
    // the views sent meanwhile queue up and go together once it is let go.
    let mut lock = kernel::db::begin(&pool).await.unwrap();
    sqlx::query("select 1 from stories where id = $1 for update")
        .bind(held)
        .execute(&mut *lock)
        .await
        .unwrap();
    let holders = [&world.member, &world.follower];
    let viewers = [
        &world.member,
        &world.follower,
        &world.close_friend,
        &world.owner,
    ];
    let (held_answers, (answers, ())) = futures_util::join!(
        join_all(holders.map(|who| app.view_story(who, gym, held).send())),
        async {
            waiting_on_locks(&pool, 1).await;
            futures_util::join!(
                join_all(
                    viewers
                        .iter()
                        .map(|who| app.view_story(*who, gym, good).send())
                        .chain([app.view_story(&world.member, gym, bad).send()])
                ),
                async {
                    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
                    lock.rollback().await.unwrap();
                }
            )
        }
    );
    assert!(held_answers.iter().all(|answer| answer.status() == 204));
    let statuses: Vec<u16> = answers
        .iter()
        .map(|answer| answer.status().as_u16())
        .collect();
    assert_eq!(
        statuses,
        [204, 204, 204, 204, 500],
        "only the refused view fails"
    );
    for who in viewers {
        assert_eq!(view_count(&pool, good, who.user_id).await, 1);
    }
    let refused: i64 = sqlx::query_scalar("select count(*) from story_views where story_id = $1")
        .bind(bad)
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(refused, 0);

    let metrics = app.metrics().await;
    assert!(metric(&metrics, "stories_view_batch_failures_total") >= 1.0);
}

/// The value of the metric `name` in the text `/metrics` answered.
fn metric(text: &str, name: &str) -> f64 {
    text.lines()
        .find_map(|line| line.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
        .unwrap_or_else(|| panic!("no {name} in {text}"))
}

/// Waits until `count` statements of this test's database wait on a lock.
async fn waiting_on_locks(pool: &PgPool, count: i64) {
    for _ in 0..200 {
        let waiting: i64 = sqlx::query_scalar(
            "select count(*) from pg_stat_activity
             where datname = current_database() and wait_event_type = 'Lock'",
        )
        .fetch_one(pool)
        .await
        .unwrap();
        if waiting >= count {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("{count} statements never waited on a lock");
}
