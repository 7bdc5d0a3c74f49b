//! Stickers on stories: each kind posted with its story and checked field by field, shown in
//! every read, answered once per person (questions as often as one likes), results for the
//! author and those who responded, question answers for the author alone, mentions and
//! countdown ends told through notifications, and nothing on an expired story or from another
//! tenant.

use chrono::{Duration, Utc};
use serde_json::{Value, json};
use sqlx::PgPool;
use uuid::Uuid;

use crate::helpers::{
    Call, Session, StoryWorld, TestApp, error_fields, expire, items, spawn_app, text_story, uuid_of,
};

/// A sticker of `kind` at the top left, with its part.
fn sticker(kind: &str, part: Value) -> Value {
    let mut sticker = json!({"kind": kind, "x": 0.1, "y": 0.2, "width": 0.5, "height": 0.2});
    sticker[kind] = part;
    sticker
}

fn poll() -> Value {
    sticker(
        "poll",
        json!({"question": "Legs or arms?", "options": ["Legs", "Arms"]}),
    )
}

fn quiz() -> Value {
    sticker(
        "quiz",
        json!({"question": "Squat record?", "options": ["100", "120", "140"], "correct_option": 1}),
    )
}

fn question() -> Value {
    sticker("question", json!({"prompt": "Ask me about my programme"}))
}

fn slider() -> Value {
    sticker(
        "slider",
        json!({"prompt": "How hard was it?", "emoji": "🔥"}),
    )
}

fn in_an_hour() -> String {
    (Utc::now() + Duration::hours(1)).to_rfc3339()
}

fn countdown() -> Value {
    sticker(
        "countdown",
        json!({"title": "Marathon", "ends_at": in_an_hour()}),
    )
}

fn class_countdown() -> Value {
    sticker(
        "class_countdown",
        json!({"title": "Spin at six", "starts_at": in_an_hour(), "session_id": Uuid::now_v7()}),
    )
}

fn record(exercise: &str, value: f64, unit: &str) -> Value {
    sticker(
        "personal_record",
        json!({"exercise": exercise, "value": value, "unit": unit}),
    )
}

/// The author posts a public text story (hidden from `hidden`) with `stickers`.
fn post_with(app: &TestApp, world: &StoryWorld, stickers: Value) -> Call {
    let mut body = text_story("public");
    body["hidden_from"] = json!([world.hidden.user_id]);
    body["stickers"] = stickers;
    app.post_story(&world.author, world.gym, &body)
}

/// The author posts a public story with `stickers`: the story's id and its stickers' ids.
async fn posted(app: &TestApp, world: &StoryWorld, stickers: Value) -> (Uuid, Vec<Uuid>) {
    let story = post_with(app, world, stickers).expect(201).await;
    let ids = story["stickers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| uuid_of(&s["id"]))
        .collect();
    (uuid_of(&story["id"]), ids)
}

fn respond(
    app: &TestApp,
    who: &Session,
    gym: Uuid,
    (story, sticker): (Uuid, Uuid),
    body: Value,
) -> Call {
    app.as_(who)
        .in_(gym)
        .post(&format!(
            "/api/v1/stories/{story}/stickers/{sticker}/responses"
        ))
        .json(&body)
}

fn results(app: &TestApp, who: &Session, gym: Uuid, (story, sticker): (Uuid, Uuid)) -> Call {
    app.as_(who).in_(gym).get(&format!(
        "/api/v1/stories/{story}/stickers/{sticker}/results"
    ))
}

/// The kinds and titles of `who`'s story notifications in `gym`, oldest first, after the due
/// jobs ran.
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
        .filter(|n| n["kind"].as_str().is_some_and(|k| k.starts_with("story.")))
        .map(|n| {
            (
                n["kind"].as_str().unwrap().to_string(),
                n["title"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    found.reverse();
    found
}

/// Makes the countdown sticker's end come now, and its job due, as if the time had passed.
async fn end_countdown(pool: &PgPool, sticker: Uuid) {
    sqlx::query("update story_stickers set ends_at = now() - interval '1 second' where id = $1")
        .bind(sticker)
        .execute(pool)
        .await
        .unwrap();
    sqlx::query(
        "update jobs set run_at = now()
         where kind = 'stories.sticker_countdown_ended' and payload ->> 'sticker_id' = $1",
    )
    .bind(sticker.to_string())
    .execute(pool)
    .await
    .unwrap();
}

#[sqlx::test(migrator = "gymapi::MIGRATOR")]
async fn every_kind_of_sticker_is_posted_with_its_story_and_shown_in_each_read(pool: PgPool) {
    let app = spawn_app(pool).await;
    let world = StoryWorld::new(&app).await;
    let gym = world.gym;
    let all = json!([
        poll(),
        quiz(),
        question(),
        slider(),
        countdown(),
        class_countdown(),
        sticker("mention", json!({"user_id": world.member.user_id})),
        sticker(
            "location",
            json!({"name": "Main gym", "latitude": -34.6, "longitude": -58.4})
        ),
        record("Bench press", 100.0, "kg"),
    ]);
    let posted = post_with(&app, &world, all).expect(201).await;
    let kinds: Vec<&str> = posted["stickers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["kind"].as_str().unwrap())
        .collect();
    let expected = [
        "poll",
        "quiz",
        "question",
        "slider",
        "countdown",
        "class_countdown",
        "mention",
        "location",
        "personal_record",
    ];
    assert_eq!(kinds, expected);
    let story = uuid_of(&posted["id"]);
    assert_eq!(posted["stickers"][0]["x"], 0.1);
    assert_eq!(posted["stickers"][0]["rotation"], 0.0);
    assert_eq!(posted["stickers"][7]["location"]["name"], "Main gym");
    // The author sees the quiz's answer; a viewer who has not answered does not.
    assert_eq!(posted["stickers"][1]["quiz"]["correct_option"], 1);
    let seen = app.story(&world.member, gym, story).expect(200).await;
    assert_eq!(seen["stickers"].as_array().unwrap().len(), 9);
    assert!(seen["stickers"][1]["quiz"].get("correct_option").is_none());
    assert!(seen["stickers"][0].get("results").is_none());
    assert_eq!(seen["stickers"][0]["responded"], false);

    let by_user = app
        .user_stories(&world.follower, gym, world.author.user_id)
        .expect(200)
        .await;
    assert_eq!(items(&by_user)[0]["stickers"].as_array().unwrap().len(), 9);
    let feed = app
        .as_(&world.follower)
        .in_(gym)
        .get("/api/v1/stories/feed")
        .expect(200)
        .await;
    let group = &items(&feed)[0];
    assert_eq!(
        group["stories"][0]["stickers"][6]["mention"]["user_id"],
        json!(world.member.user_id)
    );
}

#[sqlx::test(migrator = "gymapi::MIGRATOR")]
async fn bad_stickers_are_refused_naming_the_field(pool: PgPool) {
    let app = spawn_app(pool.clone()).await;
    let world = StoryWorld::new(&app).await;
    let an_hour_ago = (Utc::now() - Duration::hours(1)).to_rfc3339();
    let mut off_the_story = poll();
    off_the_story["x"] = json!(1.5);
    let mut flat = slider();
    flat["height"] = json!(0);
    let mut spun = question();
    spun["rotation"] = json!(181);
    let mut two_parts = poll();
    two_parts["quiz"] = quiz()["quiz"].clone();
    let cases = [
        (off_the_story, "stickers[0].x"),
        (flat, "stickers[0].height"),
        (spun, "stickers[0].rotation"),
        (two_parts, "stickers[0].quiz"),
        (sticker("poll", json!(null)), "stickers[0].poll"),
        (
            sticker("poll", json!({"options": ["Only one"]})),
            "stickers[0].poll.options",
        ),
        (
            sticker("poll", json!({"options": ["Yes", "  "]})),
            "stickers[0].poll.options[1]",
        ),
        (
            sticker(
                "quiz",
                json!({"question": "Q?", "options": ["A", "B"], "correct_option": 2}),
            ),
            "stickers[0].quiz.correct_option",
        ),
        (
            sticker("quiz", json!({"question": "Q?", "options": ["A", "B"]})),
            "stickers[0].quiz.correct_option",
        ),
        (
            sticker("question", json!({"prompt": " "})),
            "stickers[0].question.prompt",
        ),
        (
            sticker("slider", json!({"prompt": "Rate it", "emoji": "two words"})),
            "stickers[0].slider.emoji",
        ),
        (
            sticker(
                "countdown",
                json!({"title": "Race", "ends_at": an_hour_ago}),
            ),
            "stickers[0].countdown.ends_at",
        ),
        (
            sticker(
                "class_countdown",
                json!({"title": "Spin", "starts_at": an_hour_ago}),
            ),
            "stickers[0].class_countdown.starts_at",
        ),
        (
            sticker(
                "location",
                json!({"name": "Gym", "latitude": 91, "longitude": 0}),
            ),
            "stickers[0].location.latitude",
        ),
        (
            sticker("location", json!({"name": "Gym", "latitude": 10})),
            "stickers[0].location.longitude",
        ),
        (
            record("Squat", 0.0, "kg"),
            "stickers[0].personal_record.value",
        ),
        (
            record("Squat", 100.0, ""),
            "stickers[0].personal_record.unit",
        ),
    ];
    for (bad, field) in cases {
        let problem = post_with(&app, &world, json!([bad]))
            .expect_problem(422, "validation_failed")
            .await;
        assert_eq!(error_fields(&problem), [field], "{bad}");
    }
    // The field names the sticker's place among the story's.
    let mut third = slider();
    third["y"] = json!(-0.1);
    let problem = post_with(&app, &world, json!([poll(), question(), third]))
        .expect_problem(422, "validation_failed")
        .await;
    assert_eq!(error_fields(&problem), ["stickers[2].y"]);
    // The server sets a record's comparison, never the client.
    let mut claimed = record("Squat", 100.0, "kg");
    claimed["personal_record"]["new_record"] = json!(true);
    post_with(&app, &world, json!([claimed]))
        .expect_problem(422, "validation_failed")
        .await;
    assert_eq!(crate::helpers::rows_in(&pool, "stories").await, 0);
    assert_eq!(crate::helpers::rows_in(&pool, "story_stickers").await, 0);
}

#[sqlx::test(migrator = "gymapi::MIGRATOR")]
async fn a_story_takes_at_most_ten_stickers(pool: PgPool) {
    let app = spawn_app(pool).await;
    let world = StoryWorld::new(&app).await;
    let ten: Vec<Value> = (0..10).map(|_| poll()).collect();
    post_with(&app, &world, json!(ten)).expect(201).await;
    let eleven: Vec<Value> = (0..11).map(|_| poll()).collect();
    let problem = post_with(&app, &world, json!(eleven))
        .expect_problem(422, "validation_failed")
        .await;
    assert_eq!(error_fields(&problem), ["stickers"]);
}

#[sqlx::test(migrator = "gymapi::MIGRATOR")]
async fn a_mention_must_name_a_member_and_tells_them(pool: PgPool) {
    let app = spawn_app(pool).await;
    let world = StoryWorld::new(&app).await;
    let gym = world.gym;
    for stranger in [world.outsider.user_id, Uuid::now_v7()] {
        let problem = post_with(
            &app,
            &world,
            json!([poll(), sticker("mention", json!({"user_id": stranger}))]),
        )
        .expect_problem(422, "validation_failed")
        .await;
        assert_eq!(error_fields(&problem), ["stickers[1].mention.user_id"]);
    }
    post_with(
        &app,
        &world,
        json!([
            sticker("mention", json!({"user_id": world.member.user_id})),
            sticker("mention", json!({"user_id": world.hidden.user_id})),
        ]),
    )
    .expect(201)
    .await;
    let told = notifications(&app, &world.member, gym).await;
    assert_eq!(told.len(), 1, "{told:?}");
    assert_eq!(told[0].0, "story.mention");
    assert!(
        told[0].1.ends_with("mentioned you in their story"),
        "{told:?}"
    );
    // Someone the story is hidden from hears nothing of it.
    assert_eq!(notifications(&app, &world.hidden, gym).await, []);
}

#[sqlx::test(migrator = "gymapi::MIGRATOR")]
async fn a_poll_takes_one_vote_per_person_and_gives_percentages(pool: PgPool) {
    let app = spawn_app(pool).await;
    let world = StoryWorld::new(&app).await;
    let gym = world.gym;
    let (story, ids) = posted(&app, &world, json!([poll()])).await;
    let poll = (story, ids[0]);

    // Results show to those who voted, and always to the author.
    results(&app, &world.member, gym, poll)
        .expect_problem(403, "respond_first")
        .await;
    let vote = respond(&app, &world.member, gym, poll, json!({"option": 0}))
        .expect(201)
        .await;
    assert_eq!(vote["option"], 0);
    assert_eq!(vote["sticker"]["results"]["options"][0]["percent"], 100);
    respond(&app, &world.member, gym, poll, json!({"option": 1}))
        .expect_problem(409, "already_responded")
        .await;
    respond(&app, &world.follower, gym, poll, json!({"option": 0}))
        .expect(201)
        .await;
    respond(&app, &world.close_friend, gym, poll, json!({"option": 1}))
        .expect(201)
        .await;
    for bad in [json!({"option": 2}), json!({"option": -1}), json!({})] {
        let problem = respond(&app, &world.owner, gym, poll, bad.clone())
            .expect_problem(422, "validation_failed")
            .await;
        assert_eq!(error_fields(&problem), ["option"], "{bad}");
    }
    let problem = respond(
        &app,
        &world.owner,
        gym,
        poll,
        json!({"option": 0, "value": 5}),
    )
    .expect_problem(422, "validation_failed")
    .await;
    assert_eq!(error_fields(&problem), ["value"]);

    let tally = results(&app, &world.author, gym, poll).expect(200).await;
    assert_eq!(tally["responses"], 3);
    assert_eq!(
        tally["options"],
        json!([{"votes": 2, "percent": 67}, {"votes": 1, "percent": 33}])
    );
    assert_eq!(
        results(&app, &world.member, gym, poll).expect(200).await,
        tally
    );
    let seen = app.story(&world.member, gym, story).expect(200).await;
    let shown = &seen["stickers"][0];
    assert_eq!(shown["responded"], true);
    assert_eq!(shown["your_response"]["option"], 0);
    assert_eq!(shown["results"], tally);
}

#[sqlx::test(migrator = "gymapi::MIGRATOR")]
async fn a_quiz_answer_says_whether_it_was_right_and_results_count_the_right_ones(pool: PgPool) {
    let app = spawn_app(pool).await;
    let world = StoryWorld::new(&app).await;
    let gym = world.gym;
    let (story, ids) = posted(&app, &world, json!([quiz()])).await;
    let quiz = (story, ids[0]);

    let wrong = respond(&app, &world.member, gym, quiz, json!({"option": 0}))
        .expect(201)
        .await;
    assert_eq!(wrong["correct"], false);
    // Having answered, they see the right one.
    assert_eq!(wrong["sticker"]["quiz"]["correct_option"], 1);
    respond(&app, &world.member, gym, quiz, json!({"option": 1}))
        .expect_problem(409, "already_responded")
        .await;
    let right = respond(&app, &world.follower, gym, quiz, json!({"option": 1}))
        .expect(201)
        .await;
    assert_eq!(right["correct"], true);
    respond(&app, &world.close_friend, gym, quiz, json!({"option": 1}))
        .expect(201)
        .await;
    let tally = results(&app, &world.author, gym, quiz).expect(200).await;
    assert_eq!(tally["responses"], 3);
    assert_eq!(tally["correct"], 2);

    // Another tenant's people reach neither the quiz nor its results.
    respond(
        &app,
        &world.outsider,
        world.other_gym,
        quiz,
        json!({"option": 1}),
    )
    .expect_problem(404, "not_found")
    .await;
    results(&app, &world.outsider, world.other_gym, quiz)
        .expect_problem(404, "not_found")
        .await;
    // Nor does someone the story is hidden from, nor a sticker of another story.
    respond(&app, &world.hidden, gym, quiz, json!({"option": 1}))
        .expect_problem(404, "not_found")
        .await;
    let (other_story, _) = posted(&app, &world, json!([poll()])).await;
    respond(
        &app,
        &world.owner,
        gym,
        (other_story, quiz.1),
        json!({"option": 1}),
    )
    .expect_problem(404, "not_found")
    .await;
}

#[sqlx::test(migrator = "gymapi::MIGRATOR")]
async fn a_slider_takes_one_value_from_0_to_100_and_gives_the_average(pool: PgPool) {
    let app = spawn_app(pool).await;
    let world = StoryWorld::new(&app).await;
    let gym = world.gym;
    let (story, ids) = posted(&app, &world, json!([slider()])).await;
    let slider = (story, ids[0]);

    for bad in [
        json!({"value": 101}),
        json!({"value": -1}),
        json!({"option": 1}),
    ] {
        let problem = respond(&app, &world.member, gym, slider, bad.clone())
            .expect_problem(422, "validation_failed")
            .await;
        assert!(
            error_fields(&problem).contains(&"value".to_string()),
            "{bad}: {problem}"
        );
    }
    respond(&app, &world.member, gym, slider, json!({"value": 40}))
        .expect(201)
        .await;
    respond(&app, &world.member, gym, slider, json!({"value": 90}))
        .expect_problem(409, "already_responded")
        .await;
    respond(&app, &world.follower, gym, slider, json!({"value": 81}))
        .expect(201)
        .await;
    respond(
        &app,
        &world.close_friend,
        gym,
        slider,
        json!({"value": 100}),
    )
    .expect(201)
    .await;
    let tally = results(&app, &world.author, gym, slider).expect(200).await;
    assert_eq!(tally["responses"], 3);
    assert_eq!(tally["average"], 73.7);
}

#[sqlx::test(migrator = "gymapi::MIGRATOR")]
async fn question_answers_reach_the_author_alone(pool: PgPool) {
    let app = spawn_app(pool).await;
    let world = StoryWorld::new(&app).await;
    let gym = world.gym;
    let (story, ids) = posted(&app, &world, json!([question()])).await;
    let asked = (story, ids[0]);

    respond(
        &app,
        &world.member,
        gym,
        asked,
        json!({"text": "How many sets?"}),
    )
    .expect(201)
    .await;
    // Questions are not one per person.
    respond(
        &app,
        &world.member,
        gym,
        asked,
        json!({"text": "  And reps?  "}),
    )
    .expect(201)
    .await;
    for bad in [json!({"text": "x".repeat(501)}), json!({"text": "   "})] {
        let problem = respond(&app, &world.follower, gym, asked, bad)
            .expect_problem(422, "validation_failed")
            .await;
        assert_eq!(error_fields(&problem), ["text"]);
    }
    let answers = results(&app, &world.author, gym, asked).expect(200).await;
    assert_eq!(answers["responses"], 2);
    let texts: Vec<&str> = answers["answers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["text"].as_str().unwrap())
        .collect();
    assert_eq!(texts, ["And reps?", "How many sets?"]);
    assert_eq!(
        answers["answers"][0]["user_id"],
        json!(world.member.user_id)
    );

    results(&app, &world.member, gym, asked)
        .expect_problem(403, "not_story_author")
        .await;
    let seen = app.story(&world.member, gym, story).expect(200).await;
    assert!(seen["stickers"][0].get("results").is_none());
    let own = app.story(&world.author, gym, story).expect(200).await;
    assert_eq!(own["stickers"][0]["results"]["responses"], 2);
}

#[sqlx::test(migrator = "gymapi::MIGRATOR")]
async fn countdown_followers_are_told_once_when_it_ends(pool: PgPool) {
    let app = spawn_app(pool.clone()).await;
    let world = StoryWorld::new(&app).await;
    let gym = world.gym;
    let (story, ids) = posted(&app, &world, json!([countdown(), class_countdown()])).await;
    let (race, class) = ((story, ids[0]), (story, ids[1]));

    let followed = respond(&app, &world.member, gym, race, json!({"follow": true}))
        .expect(201)
        .await;
    assert_eq!(followed["follow"], true);
    respond(&app, &world.member, gym, race, json!({"follow": true}))
        .expect_problem(409, "already_responded")
        .await;
    let problem = respond(&app, &world.follower, gym, race, json!({"follow": false}))
        .expect_problem(422, "validation_failed")
        .await;
    assert_eq!(error_fields(&problem), ["follow"]);
    respond(&app, &world.follower, gym, race, json!({"follow": true}))
        .expect(201)
        .await;
    respond(&app, &world.follower, gym, class, json!({"follow": true}))
        .expect(201)
        .await;
    assert_eq!(
        results(&app, &world.author, gym, race).expect(200).await["followers"],
        2
    );
    // Nothing before the end.
    assert_eq!(notifications(&app, &world.member, gym).await, []);

    end_countdown(&pool, race.1).await;
    end_countdown(&pool, class.1).await;
    let told = notifications(&app, &world.follower, gym).await;
    let mut kinds: Vec<&str> = told.iter().map(|(kind, _)| kind.as_str()).collect();
    kinds.sort();
    assert_eq!(kinds, ["story.class_countdown", "story.countdown"]);
    assert_eq!(
        notifications(&app, &world.member, gym).await,
        [("story.countdown".to_string(), "Marathon".to_string())]
    );
    // A rerun of the job tells nobody twice.
    sqlx::query(
        "update jobs set status = 'queued', run_at = now()
         where kind = 'stories.sticker_countdown_ended'",
    )
    .execute(&pool)
    .await
    .unwrap();
    assert_eq!(notifications(&app, &world.member, gym).await.len(), 1);
    // An ended countdown takes no more followers.
    respond(
        &app,
        &world.close_friend,
        gym,
        race,
        json!({"follow": true}),
    )
    .expect_problem(409, "countdown_ended")
    .await;
}

#[sqlx::test(migrator = "gymapi::MIGRATOR")]
async fn a_countdown_of_a_deleted_story_ends_quietly(pool: PgPool) {
    let app = spawn_app(pool.clone()).await;
    let world = StoryWorld::new(&app).await;
    let gym = world.gym;
    let (story, ids) = posted(&app, &world, json!([countdown()])).await;
    respond(
        &app,
        &world.member,
        gym,
        (story, ids[0]),
        json!({"follow": true}),
    )
    .expect(201)
    .await;
    app.delete_story(&world.author, gym, story)
        .expect(204)
        .await;
    end_countdown(&pool, ids[0]).await;
    sqlx::query("update jobs set run_at = now() where kind = 'stories.sticker_countdown_ended'")
        .execute(&pool)
        .await
        .unwrap();
    assert_eq!(notifications(&app, &world.member, gym).await, []);
    let status: String = sqlx::query_scalar(
        "select status from jobs where kind = 'stories.sticker_countdown_ended'",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(status, "succeeded");
}

#[sqlx::test(migrator = "gymapi::MIGRATOR")]
async fn an_expired_storys_stickers_take_no_responses(pool: PgPool) {
    let app = spawn_app(pool.clone()).await;
    let world = StoryWorld::new(&app).await;
    let gym = world.gym;
    let (story, ids) = posted(&app, &world, json!([poll(), slider()])).await;
    respond(
        &app,
        &world.member,
        gym,
        (story, ids[0]),
        json!({"option": 0}),
    )
    .expect(201)
    .await;
    expire(&pool, story).await;
    respond(
        &app,
        &world.follower,
        gym,
        (story, ids[0]),
        json!({"option": 0}),
    )
    .expect_problem(410, "story_expired")
    .await;
    respond(
        &app,
        &world.member,
        gym,
        (story, ids[1]),
        json!({"value": 50}),
    )
    .expect_problem(410, "story_expired")
    .await;
    // Someone it never showed to still learns nothing.
    respond(
        &app,
        &world.hidden,
        gym,
        (story, ids[0]),
        json!({"option": 0}),
    )
    .expect_problem(404, "not_found")
    .await;
    // The author still reads the results, from the archive.
    let tally = results(&app, &world.author, gym, (story, ids[0]))
        .expect(200)
        .await;
    assert_eq!(tally["responses"], 1);
}

#[sqlx::test(migrator = "gymapi::MIGRATOR")]
async fn mentions_locations_and_records_take_no_responses(pool: PgPool) {
    let app = spawn_app(pool).await;
    let world = StoryWorld::new(&app).await;
    let gym = world.gym;
    let (story, ids) = posted(
        &app,
        &world,
        json!([
            sticker("mention", json!({"user_id": world.member.user_id})),
            sticker("location", json!({"name": "Main gym"})),
            record("Deadlift", 180.0, "kg"),
        ]),
    )
    .await;
    for id in ids {
        respond(&app, &world.member, gym, (story, id), json!({"option": 0}))
            .expect_problem(409, "sticker_takes_no_responses")
            .await;
        results(&app, &world.author, gym, (story, id))
            .expect_problem(409, "sticker_takes_no_responses")
            .await;
    }
}

#[sqlx::test(migrator = "gymapi::MIGRATOR")]
async fn a_personal_record_is_compared_with_the_authors_previous_ones(pool: PgPool) {
    let app = spawn_app(pool).await;
    let world = StoryWorld::new(&app).await;
    let record_of = |story: &Value| story["stickers"][0]["personal_record"].clone();

    let first = post_with(&app, &world, json!([record("Bench press", 100.0, "kg")]))
        .expect(201)
        .await;
    assert_eq!(record_of(&first)["new_record"], true);
    assert!(record_of(&first).get("previous_best").is_none());
    // Below the best: posted, flagged as no new record.
    let lower = post_with(&app, &world, json!([record("Bench press", 95.0, "kg")]))
        .expect(201)
        .await;
    assert_eq!(record_of(&lower)["previous_best"], 100.0);
    assert_eq!(record_of(&lower)["new_record"], false);
    // The same exercise and unit whatever their case; another unit is another record.
    let beaten = post_with(&app, &world, json!([record("bench PRESS", 102.5, "KG")]))
        .expect(201)
        .await;
    assert_eq!(record_of(&beaten)["previous_best"], 100.0);
    assert_eq!(record_of(&beaten)["new_record"], true);
    let pounds = post_with(&app, &world, json!([record("Bench press", 200.0, "lb")]))
        .expect(201)
        .await;
    assert_eq!(record_of(&pounds)["new_record"], true);
    assert!(record_of(&pounds).get("previous_best").is_none());
    // Someone else's records are theirs.
    let mut body = text_story("public");
    body["stickers"] = json!([record("Bench press", 60.0, "kg")]);
    let theirs = app
        .post_story(&world.member, world.gym, &body)
        .expect(201)
        .await;
    assert_eq!(record_of(&theirs)["new_record"], true);
}
