//! The SQL of stickers and their responses. Every statement filters by the tenant and runs in
//! a transaction row-level security scopes to it; every read through a story applies the
//! visibility rule ([`crate::visibility`]).

use chrono::{DateTime, Utc};
use sqlx::PgConnection;
use sqlx::types::Json;
use uuid::Uuid;

use super::model::{StickerData, StickerKind};
use crate::visibility::{reachable, visible};

pub struct NewSticker<'a> {
    pub id: Uuid,
    pub ordinal: i16,
    pub kind: StickerKind,
    pub x: f64,
    pub y: f64,
    pub width: f64,
    pub height: f64,
    pub rotation: f64,
    pub data: &'a StickerData,
}

/// Inserts a new story's stickers in one statement.
pub async fn insert(
    conn: &mut PgConnection,
    gym_id: Uuid,
    story_id: Uuid,
    stickers: &[NewSticker<'_>],
) -> Result<(), sqlx::Error> {
    let ids: Vec<Uuid> = stickers.iter().map(|s| s.id).collect();
    let ordinals: Vec<i16> = stickers.iter().map(|s| s.ordinal).collect();
    let kinds: Vec<&str> = stickers.iter().map(|s| s.kind.name()).collect();
    let xs: Vec<f64> = stickers.iter().map(|s| s.x).collect();
    let ys: Vec<f64> = stickers.iter().map(|s| s.y).collect();
    let widths: Vec<f64> = stickers.iter().map(|s| s.width).collect();
    let heights: Vec<f64> = stickers.iter().map(|s| s.height).collect();
    let rotations: Vec<f64> = stickers.iter().map(|s| s.rotation).collect();
    let data: Vec<Json<&StickerData>> = stickers.iter().map(|s| Json(s.data)).collect();
    let ends: Vec<Option<DateTime<Utc>>> = stickers.iter().map(|s| s.data.ends_at()).collect();
    sqlx::query(
        "insert into story_stickers
             (gym_id, story_id, id, ordinal, kind, x, y, width, height, rotation, data, ends_at)
         select $1, $2, new.* from unnest($3::uuid[], $4::int2[], $5::text[], $6::float8[],
             $7::float8[], $8::float8[], $9::float8[], $10::float8[], $11::jsonb[],
             $12::timestamptz[])
             as new(id, ordinal, kind, x, y, width, height, rotation, data, ends_at)",
    )
    .bind(gym_id)
    .bind(story_id)
    .bind(&ids)
    .bind(&ordinals)
    .bind(&kinds)
    .bind(&xs)
    .bind(&ys)
    .bind(&widths)
    .bind(&heights)
    .bind(&rotations)
    .bind(&data)
    .bind(&ends)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// The author's best value so far on personal-record stickers of their stories, for one
/// exercise and unit (compared without regard to case).
pub async fn best_record(
    conn: &mut PgConnection,
    gym_id: Uuid,
    author_id: Uuid,
    exercise: &str,
    unit: &str,
) -> Result<Option<f64>, sqlx::Error> {
    sqlx::query_scalar(
        "select max((k.data -> 'personal_record' ->> 'value')::float8)
         from stories s
         join story_stickers k on k.gym_id = s.gym_id and k.story_id = s.id
         where s.gym_id = $1 and s.author_id = $2 and k.kind = 'personal_record'
             and lower(k.data -> 'personal_record' ->> 'exercise') = lower($3)
             and lower(k.data -> 'personal_record' ->> 'unit') = lower($4)",
    )
    .bind(gym_id)
    .bind(author_id)
    .bind(exercise)
    .bind(unit)
    .fetch_one(&mut *conn)
    .await
}

/// Those of `people` whom the story's privacy lets see it (each once).
pub async fn who_may_see(
    conn: &mut PgConnection,
    gym_id: Uuid,
    story_id: Uuid,
    people: &[Uuid],
) -> Result<Vec<Uuid>, sqlx::Error> {
    let sql = format!(
        "select distinct p.user_id from stories s, unnest($3::uuid[]) as p(user_id)
         where s.gym_id = $1 and s.id = $2 and {}",
        visible("s", "p.user_id")
    );
    sqlx::query_scalar(&sql)
        .bind(gym_id)
        .bind(story_id)
        .bind(people)
        .fetch_all(&mut *conn)
        .await
}

/// A sticker as one reader gets it: its columns, the reader's own response, and its running
/// totals (which the service shows only to those who may see them).
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct StickerRow {
    pub id: Uuid,
    pub story_id: Uuid,
    pub author_id: Uuid,
    pub kind: StickerKind,
    pub x: f64,
    pub y: f64,
    pub width: f64,
    pub height: f64,
    pub rotation: f64,
    pub data: Json<StickerData>,
    /// Whether the reader has responded.
    pub responded: bool,
    pub my_option: Option<i16>,
    pub my_correct: Option<bool>,
    pub my_value: Option<i16>,
    pub responses: i64,
    /// Quizzes: right answers.
    pub correct: i64,
    /// Sliders: the mean value (none before the first).
    pub average: Option<f64>,
    /// Polls and quizzes: the votes for each option, by index.
    pub votes: Vec<i64>,
}

/// The stickers of `stories` (story ids the reader may see), as `reader` gets them, by story
/// and place: one statement for a whole page of stories. `only` narrows it to one sticker.
pub async fn of_stories(
    conn: &mut PgConnection,
    gym_id: Uuid,
    reader: Uuid,
    stories: &[Uuid],
    only: Option<Uuid>,
) -> Result<Vec<StickerRow>, sqlx::Error> {
    sqlx::query_as(
        "select k.id, k.story_id, s.author_id, k.kind, k.x, k.y, k.width, k.height, k.rotation,
             k.data, mine.user_id is not null as responded, mine.option as my_option,
             mine.correct as my_correct, mine.value as my_value,
             k.responses::int8 as responses, k.correct::int8 as correct,
             case when k.responses > 0 then k.value_sum::float8 / k.responses end as average,
             k.votes::int8[] as votes
         from story_stickers k
         join stories s on s.gym_id = k.gym_id and s.id = k.story_id
         left join lateral (
             select r.user_id, r.option, r.correct, r.value from story_sticker_responses r
             where r.gym_id = k.gym_id and r.sticker_id = k.id and r.user_id = $3
             order by r.created_at
             limit 1
         ) mine on true
         where k.gym_id = $1 and k.story_id = any($2) and ($4::uuid is null or k.id = $4)
         order by k.story_id, k.ordinal",
    )
    .bind(gym_id)
    .bind(stories)
    .bind(reader)
    .bind(only)
    .fetch_all(&mut *conn)
    .await
}

/// A sticker someone may respond to, as far as its story's privacy goes: whether the story
/// is still active decides between going ahead and 410.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct TargetRow {
    pub kind: StickerKind,
    pub data: Json<StickerData>,
    pub ends_at: Option<DateTime<Utc>>,
    pub active: bool,
}

/// The sticker of the story, when the story's privacy lets `user` see it while active.
pub async fn target(
    conn: &mut PgConnection,
    gym_id: Uuid,
    story_id: Uuid,
    sticker_id: Uuid,
    user: Uuid,
) -> Result<Option<TargetRow>, sqlx::Error> {
    let sql = format!(
        "select k.kind, k.data, k.ends_at, s.expires_at > now() as active
         from stories s
         join story_stickers k on k.gym_id = s.gym_id and k.story_id = s.id
         where s.gym_id = $1 and s.id = $2 and k.id = $3 and {}",
        reachable("s", "$4")
    );
    sqlx::query_as(&sql)
        .bind(gym_id)
        .bind(story_id)
        .bind(sticker_id)
        .bind(user)
        .fetch_optional(&mut *conn)
        .await
}

/// One response as its kind takes it.
pub struct NewResponse<'a> {
    pub kind: StickerKind,
    pub option: Option<i16>,
    pub correct: Option<bool>,
    pub value: Option<i16>,
    pub text: Option<&'a str>,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ResponseRow {
    pub id: Uuid,
    pub option: Option<i16>,
    pub correct: Option<bool>,
    pub value: Option<i16>,
    pub text: Option<String>,
    pub created_at: DateTime<Utc>,
}

/// Records `user`'s response and adds it to the sticker's totals, in one statement; `None`
/// when the sticker takes one per person and they have given it (a concurrent twin
/// included).
pub async fn respond(
    conn: &mut PgConnection,
    gym_id: Uuid,
    story_id: Uuid,
    sticker_id: Uuid,
    user: Uuid,
    response: &NewResponse<'_>,
) -> Result<Option<ResponseRow>, sqlx::Error> {
    sqlx::query_as(
        "with added as (
             insert into story_sticker_responses
                 (gym_id, id, sticker_id, story_id, user_id, kind, option, correct, value, text)
             values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
             on conflict (gym_id, sticker_id, user_id) where kind <> 'question' do nothing
             returning id, option, correct, value, text, created_at
         ), counted as (
             update story_stickers k set
                 responses = k.responses + 1,
                 correct = k.correct + coalesce(added.correct::int, 0),
                 value_sum = k.value_sum + coalesce(added.value, 0),
                 votes = array[
                     k.votes[1] + coalesce((added.option = 0)::int, 0),
                     k.votes[2] + coalesce((added.option = 1)::int, 0),
                     k.votes[3] + coalesce((added.option = 2)::int, 0),
                     k.votes[4] + coalesce((added.option = 3)::int, 0)]
             from added
             where k.gym_id = $1 and k.id = $3
         )
         select id, option, correct, value, text, created_at from added",
    )
    .bind(gym_id)
    .bind(Uuid::now_v7())
    .bind(sticker_id)
    .bind(story_id)
    .bind(user)
    .bind(response.kind.name())
    .bind(response.option)
    .bind(response.correct)
    .bind(response.value)
    .bind(response.text)
    .fetch_optional(&mut *conn)
    .await
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct AnswerRow {
    pub user_id: Uuid,
    pub text: String,
    pub created_at: DateTime<Utc>,
}

/// A question sticker's newest `limit` answers.
pub async fn answers(
    conn: &mut PgConnection,
    gym_id: Uuid,
    sticker_id: Uuid,
    limit: i64,
) -> Result<Vec<AnswerRow>, sqlx::Error> {
    sqlx::query_as(
        "select user_id, text, created_at from story_sticker_responses
         where gym_id = $1 and sticker_id = $2 and text is not null
         order by created_at desc, id desc
         limit $3",
    )
    .bind(gym_id)
    .bind(sticker_id)
    .bind(limit)
    .fetch_all(&mut *conn)
    .await
}

/// A countdown whose end its job just marked as told.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct EndedRow {
    pub story_id: Uuid,
    pub kind: StickerKind,
    pub data: Json<StickerData>,
    /// Everyone who follows it.
    pub followers: Vec<Uuid>,
}

/// Marks the countdown as told and returns it with its followers, once: `None` when it was
/// told before, or is gone with its story.
pub async fn mark_ended(
    conn: &mut PgConnection,
    gym_id: Uuid,
    sticker_id: Uuid,
) -> Result<Option<EndedRow>, sqlx::Error> {
    sqlx::query_as(
        "with ended as (
             update story_stickers set notified_at = now()
             where gym_id = $1 and id = $2 and notified_at is null and ends_at is not null
             returning story_id, kind, data
         )
         select ended.story_id, ended.kind, ended.data,
             array(select r.user_id from story_sticker_responses r
                   where r.gym_id = $1 and r.sticker_id = $2
                   order by r.created_at) as followers
         from ended",
    )
    .bind(gym_id)
    .bind(sticker_id)
    .fetch_optional(&mut *conn)
    .await
}
