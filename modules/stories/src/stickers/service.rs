//! The rules of stickers: checking and storing a new story's stickers (mentions must be
//! members, records are compared with the author's earlier ones, mentioned people are told,
//! countdowns get their job), responses (one per person but for questions, never on an
//! expired story), and who reads which results.

use std::collections::HashMap;

use chrono::Utc;
use kernel::events::{self, NotificationRequest};
use kernel::jobs::{self, NewJob};
use kernel::{ApiError, ApiResult, AppContext, FieldError, Tenant};
use poem::http::StatusCode;
use sqlx::PgConnection;
use uuid::Uuid;

use super::countdown::COUNTDOWN_ENDED_JOB;
use super::errors::{
    ALREADY_RESPONDED, COUNTDOWN_ENDED, RESPOND_FIRST, STICKER_TAKES_NO_RESPONSES,
};
use super::model::{StickerKind, StickerRequest};
use super::repo::{self, AnswerRow, NewResponse, NewSticker, ResponseRow, StickerRow};
use super::validate;
use crate::errors::{NOT_STORY_AUTHOR, STORY_EXPIRED};
use crate::repo::StoryRow;
use crate::service as stories;

/// A question's answers the results give its author: the newest ones.
pub const MAX_ANSWERS_SHOWN: i64 = 100;
/// Longest answer to a question, in characters.
pub const MAX_ANSWER_CHARS: usize = 500;

/// Trims a new story's stickers and pushes a field error for each thing wrong with them,
/// mentions of people outside the tenant included.
pub async fn check<M>(
    ctx: &AppContext,
    tenant: &Tenant<M>,
    stickers: &mut [StickerRequest],
    errors: &mut Vec<FieldError>,
) -> ApiResult<()> {
    if stickers.len() > validate::MAX_STICKERS {
        errors.push(FieldError::new(
            "stickers",
            format!("must be at most {} stickers", validate::MAX_STICKERS),
        ));
        return Ok(());
    }
    let now = Utc::now();
    for (index, sticker) in stickers.iter_mut().enumerate() {
        validate::normalise(sticker);
        validate::sticker(index, sticker, now, errors);
        if let Some(mention) = &sticker.mention
            && !is_member(ctx, tenant, mention.user_id).await?
        {
            errors.push(FieldError::new(
                format!("stickers[{index}].mention.user_id"),
                "must be a member of this tenant",
            ));
        }
    }
    Ok(())
}

async fn is_member<M>(ctx: &AppContext, tenant: &Tenant<M>, user_id: Uuid) -> ApiResult<bool> {
    if user_id == tenant.user_id {
        return Ok(true);
    }
    match ctx.tenants.resolve(ctx, user_id, Some(tenant.gym_id)).await {
        Ok(found) => Ok(found.is_some()),
        Err(err) if err.status() == StatusCode::FORBIDDEN => Ok(false),
        Err(err) => Err(err),
    }
}

/// Stores the checked stickers of the new `story` in its transaction: records get their
/// comparison, mentioned people who may see the story are notified, and each countdown gets
/// the one job that tells its followers when it ends.
pub async fn store<M>(
    ctx: &AppContext,
    tenant: &Tenant<M>,
    conn: &mut PgConnection,
    story: &StoryRow,
    mut stickers: Vec<StickerRequest>,
) -> ApiResult<()> {
    if stickers.is_empty() {
        return Ok(());
    }
    compare_records(conn, tenant.gym_id, story.author_id, &mut stickers).await?;
    let data: Vec<_> = stickers.iter().map(StickerRequest::data).collect();
    let new: Vec<NewSticker<'_>> = stickers
        .iter()
        .zip(&data)
        .enumerate()
        .map(|(ordinal, (sticker, data))| NewSticker {
            id: Uuid::now_v7(),
            ordinal: ordinal as i16,
            kind: sticker.kind,
            x: sticker.x,
            y: sticker.y,
            width: sticker.width,
            height: sticker.height,
            rotation: sticker.rotation.unwrap_or(0.0),
            data,
        })
        .collect();
    repo::insert(conn, tenant.gym_id, story.id, &new).await?;

    let countdowns = new
        .iter()
        .filter_map(|sticker| {
            let ends_at = sticker.data.ends_at()?;
            let payload = serde_json::json!({"sticker_id": sticker.id});
            Some(
                NewJob::new(COUNTDOWN_ENDED_JOB, payload)
                    .for_tenant(tenant.gym_id)
                    .run_at(ends_at),
            )
        })
        .collect();
    jobs::enqueue_many(conn, countdowns).await?;

    let mentioned: Vec<(Uuid, Uuid)> = new
        .iter()
        .filter_map(|sticker| Some((sticker.data.mention.as_ref()?.user_id, sticker.id)))
        .filter(|(user_id, _)| *user_id != story.author_id)
        .collect();
    if !mentioned.is_empty() {
        let people: Vec<Uuid> = mentioned.iter().map(|(user_id, _)| *user_id).collect();
        let told = repo::who_may_see(conn, tenant.gym_id, story.id, &people).await?;
        let names = ctx.accounts.summaries(conn, &[story.author_id]).await?;
        let who = names
            .get(&story.author_id)
            .map(|summary| summary.display_name())
            .unwrap_or_else(|| "Someone".to_string());
        let sticker_of: HashMap<Uuid, Uuid> = mentioned.into_iter().collect();
        // A few people at most (one per mention sticker), each with their own sticker.
        for user_id in told {
            let request = NotificationRequest {
                gym_id: tenant.gym_id,
                user_id,
                kind: "story.mention".to_string(),
                title: format!("{who} mentioned you in their story"),
                body: story.caption.clone().unwrap_or_default(),
                data: serde_json::json!({
                    "story_id": story.id,
                    "sticker_id": sticker_of.get(&user_id),
                    "author_id": story.author_id,
                }),
            };
            events::request_notification(conn, &request).await?;
        }
    }
    Ok(())
}

/// Sets each personal-record sticker's `previous_best` (the author's best on earlier stories,
/// or on an earlier sticker of this one, for the same exercise and unit) and `new_record`.
/// A value below the best is posted all the same, flagged: people share a hard session too,
/// and refusing it would make them relabel it to get it through.
async fn compare_records(
    conn: &mut PgConnection,
    gym_id: Uuid,
    author_id: Uuid,
    stickers: &mut [StickerRequest],
) -> ApiResult<()> {
    let mut bests: HashMap<(String, String), Option<f64>> = HashMap::new();
    for sticker in stickers.iter_mut() {
        let Some(record) = &mut sticker.personal_record else {
            continue;
        };
        let key = (record.exercise.to_lowercase(), record.unit.to_lowercase());
        let best = match bests.get(&key) {
            Some(best) => *best,
            None => {
                repo::best_record(conn, gym_id, author_id, &record.exercise, &record.unit).await?
            }
        };
        record.previous_best = best;
        record.new_record = best.is_none_or(|best| record.value > best);
        bests.insert(
            key,
            Some(best.map_or(record.value, |best| best.max(record.value))),
        );
    }
    Ok(())
}

/// The stickers of stories by story, as [`read`] gives them.
pub type StickersByStory = HashMap<Uuid, Vec<StickerRow>>;

/// The stickers of the stories with these ids (which the reader may see), as the reader gets
/// them, by story: one query for a whole page.
pub async fn of_stories<M>(
    ctx: &AppContext,
    tenant: &Tenant<M>,
    story_ids: &[Uuid],
) -> ApiResult<StickersByStory> {
    if story_ids.is_empty() {
        return Ok(HashMap::new());
    }
    let mut tx = tenant.read(&ctx.db).await?;
    Ok(read(&mut tx, tenant.gym_id, tenant.user_id, story_ids).await?)
}

/// [`of_stories`] in the reader's own transaction, scoped to `gym_id`: for reads that have one
/// open already (the feed), so the stickers cost no transaction of their own.
pub async fn read(
    conn: &mut PgConnection,
    gym_id: Uuid,
    reader: Uuid,
    story_ids: &[Uuid],
) -> Result<StickersByStory, sqlx::Error> {
    let mut by_story = StickersByStory::new();
    if story_ids.is_empty() {
        return Ok(by_story);
    }
    for row in repo::of_stories(conn, gym_id, reader, story_ids, None).await? {
        by_story.entry(row.story_id).or_default().push(row);
    }
    Ok(by_story)
}

/// A response as the caller sends it; the sticker's kind says which part it needs.
pub struct ResponseDraft {
    pub option: Option<i32>,
    pub text: Option<String>,
    pub value: Option<i32>,
    pub follow: Option<bool>,
}

fn no_sticker() -> ApiError {
    ApiError::not_found("no sticker with this id on a story you can see")
}

fn takes_no_responses(kind: StickerKind) -> ApiError {
    ApiError::conflict(
        STICKER_TAKES_NO_RESPONSES,
        format!("a {} sticker takes no responses", kind.name()),
    )
}

/// Records the caller's response to a sticker of a story they may see (404 otherwise; 410
/// once the story has expired): the response, and the sticker as the caller now sees it.
pub async fn respond<M>(
    ctx: &AppContext,
    tenant: &Tenant<M>,
    story_id: Uuid,
    sticker_id: Uuid,
    draft: ResponseDraft,
) -> ApiResult<(ResponseRow, StickerRow)> {
    let mut tx = tenant.begin(&ctx.db).await?;
    let target = repo::target(&mut tx, tenant.gym_id, story_id, sticker_id, tenant.user_id)
        .await?
        .ok_or_else(no_sticker)?;
    if !target.active {
        return Err(ApiError::new(
            StatusCode::GONE,
            STORY_EXPIRED,
            "the story has expired: its stickers take no more responses",
        ));
    }
    let kind = target.kind;
    if !kind.takes_responses() {
        return Err(takes_no_responses(kind));
    }
    let text = draft.text.as_deref().map(str::trim);
    let mut errors = Vec::new();
    let wanted = |field: &str, present: bool, wanted: bool, errors: &mut Vec<FieldError>| {
        if wanted && !present {
            errors.push(FieldError::new(
                field,
                format!("is required to answer a {} sticker", kind.name()),
            ));
        } else if !wanted && present {
            errors.push(FieldError::new(
                field,
                format!("is not taken by a {} sticker", kind.name()),
            ));
        }
    };
    let chooses = matches!(kind, StickerKind::Poll | StickerKind::Quiz);
    wanted("option", draft.option.is_some(), chooses, &mut errors);
    wanted(
        "text",
        text.is_some(),
        kind == StickerKind::Question,
        &mut errors,
    );
    wanted(
        "value",
        draft.value.is_some(),
        kind == StickerKind::Slider,
        &mut errors,
    );
    wanted(
        "follow",
        draft.follow.is_some(),
        kind.counts_down(),
        &mut errors,
    );
    let options = target.data.0.option_count() as i32;
    if let Some(option) = draft.option
        && chooses
        && !(0..options).contains(&option)
    {
        errors.push(FieldError::new(
            "option",
            format!("must be the index of one of the {options} options, from 0"),
        ));
    }
    if let Some(text) = text
        && kind == StickerKind::Question
    {
        kernel::error::trimmed_name("text", text, MAX_ANSWER_CHARS, &mut errors);
    }
    if let Some(value) = draft.value
        && !(0..=100).contains(&value)
    {
        errors.push(FieldError::new("value", "must be from 0 to 100"));
    }
    if draft.follow == Some(false) && kind.counts_down() {
        errors.push(FieldError::new("follow", "must be true, to follow it"));
    }
    if !errors.is_empty() {
        return Err(ApiError::validation(errors));
    }
    if kind.counts_down() && target.ends_at.is_some_and(|ends_at| ends_at <= Utc::now()) {
        return Err(ApiError::conflict(
            COUNTDOWN_ENDED,
            "the countdown has ended: there is nothing left to follow",
        ));
    }
    let correct = match (kind, &target.data.0.quiz, draft.option) {
        (StickerKind::Quiz, Some(quiz), Some(option)) => Some(quiz.correct_option == Some(option)),
        _ => None,
    };
    let response = NewResponse {
        kind,
        option: draft.option.map(|option| option as i16),
        correct,
        value: draft.value.map(|value| value as i16),
        text,
    };
    let row = repo::respond(
        &mut tx,
        tenant.gym_id,
        story_id,
        sticker_id,
        tenant.user_id,
        &response,
    )
    .await?
    .ok_or_else(|| {
        ApiError::conflict(
            ALREADY_RESPONDED,
            format!(
                "you have already responded to this {} sticker: it takes one response per person",
                kind.name()
            ),
        )
    })?;
    let sticker = repo::of_stories(
        &mut tx,
        tenant.gym_id,
        tenant.user_id,
        &[story_id],
        Some(sticker_id),
    )
    .await?
    .pop()
    .ok_or_else(no_sticker)?;
    tx.commit().await?;
    Ok((row, sticker))
}

/// A sticker's results for the caller, with a question's newest answers for its author:
/// 404 for a sticker of a story they cannot see, 409 for kinds without responses, 403 until
/// they have responded (the author always may), and 403 for anyone but the author on a
/// question.
pub async fn results<M>(
    ctx: &AppContext,
    tenant: &Tenant<M>,
    story_id: Uuid,
    sticker_id: Uuid,
) -> ApiResult<(StickerRow, Vec<AnswerRow>)> {
    stories::get(ctx, tenant, story_id).await?;
    let mut tx = tenant.read(&ctx.db).await?;
    let sticker = repo::of_stories(
        &mut tx,
        tenant.gym_id,
        tenant.user_id,
        &[story_id],
        Some(sticker_id),
    )
    .await?
    .pop()
    .ok_or_else(no_sticker)?;
    if !sticker.kind.takes_responses() {
        return Err(takes_no_responses(sticker.kind));
    }
    let own = sticker.author_id == tenant.user_id;
    if sticker.kind == StickerKind::Question && !own {
        return Err(ApiError::forbidden(
            NOT_STORY_AUTHOR,
            "only the story's author reads the answers to its question",
        ));
    }
    if !own && !sticker.responded {
        return Err(ApiError::forbidden(
            RESPOND_FIRST,
            "respond to the sticker first: its results show to those who have",
        ));
    }
    let answers = if sticker.kind == StickerKind::Question {
        repo::answers(&mut tx, tenant.gym_id, sticker_id, MAX_ANSWERS_SHOWN).await?
    } else {
        Vec::new()
    };
    Ok((sticker, answers))
}
