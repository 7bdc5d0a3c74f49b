//! HTTP of stickers: how a sticker shows in a story (with the reader's response and the
//! results they may see), responses and results.

use chrono::{DateTime, Utc};
use kernel::http::JsonBody;
use kernel::{ApiResult, AppContext, Tenant};
use poem_openapi::param::Path;
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Object, OpenApi, Tags};
use uuid::Uuid;

use super::model::{
    StickerClassCountdown, StickerCountdown, StickerKind, StickerLocation, StickerMention,
    StickerPersonalRecord, StickerPoll, StickerQuestion, StickerQuiz, StickerSlider,
};
use super::repo::{AnswerRow, ResponseRow, StickerRow};
use super::service::{self, ResponseDraft, StickersByStory};
use crate::Stories;
use crate::api::Story;

#[derive(Tags)]
enum StickersTags {
    /// Stickers on stories: polls, quizzes, questions, sliders, countdowns, mentions,
    /// locations, personal records and class countdowns.
    StoryStickers,
}

/// Your own response to a sticker.
#[derive(Debug, Object)]
pub struct YourStickerResponse {
    /// Polls and quizzes: the option you chose.
    #[oai(skip_serializing_if_is_none)]
    pub option: Option<i32>,
    /// Quizzes: whether it was the right one.
    #[oai(skip_serializing_if_is_none)]
    pub correct: Option<bool>,
    /// Sliders: your value.
    #[oai(skip_serializing_if_is_none)]
    pub value: Option<i32>,
}

/// One option of a poll or quiz in its results.
#[derive(Debug, Object)]
pub struct StickerOptionResult {
    pub votes: i64,
    /// Whole percentages of all votes, which add up to 100 (0 for all before any vote).
    pub percent: i32,
}

/// An answer to a question sticker.
#[derive(Debug, Object)]
pub struct StickerAnswer {
    pub user_id: Uuid,
    pub text: String,
    pub created_at: DateTime<Utc>,
}

impl From<AnswerRow> for StickerAnswer {
    fn from(row: AnswerRow) -> Self {
        Self {
            user_id: row.user_id,
            text: row.text,
            created_at: row.created_at,
        }
    }
}

/// A sticker's results, shown to the story's author and to those who have responded.
#[derive(Debug, Object)]
pub struct StickerResults {
    /// Votes, attempts, ratings, answers or follows so far.
    pub responses: i64,
    /// Polls and quizzes: each option's votes, by index.
    #[oai(skip_serializing_if_is_none)]
    pub options: Option<Vec<StickerOptionResult>>,
    /// Quizzes: attempts (as `responses`) that chose the right option.
    #[oai(skip_serializing_if_is_none)]
    pub correct: Option<i64>,
    /// Sliders: the mean value, 0–100 (none before any rating).
    #[oai(skip_serializing_if_is_none)]
    pub average: Option<f64>,
    /// Countdowns and class countdowns: their followers (as `responses`).
    #[oai(skip_serializing_if_is_none)]
    pub followers: Option<i64>,
    /// Questions, for the story's author, from the results operation: the newest 100
    /// answers, newest first (stories show the count alone).
    #[oai(skip_serializing_if_is_none)]
    pub answers: Option<Vec<StickerAnswer>>,
}

/// Whole percentages of `votes` that add up to 100 (largest remainders round up), or all 0
/// when there are none.
pub fn percentages(votes: &[i64]) -> Vec<i32> {
    let total: i64 = votes.iter().sum();
    if total == 0 {
        return vec![0; votes.len()];
    }
    let mut shares: Vec<i32> = votes.iter().map(|v| (v * 100 / total) as i32).collect();
    let mut by_remainder: Vec<usize> = (0..votes.len()).collect();
    // Largest remainder first; ties go to the earlier option, so results are stable.
    by_remainder.sort_by_key(|&i| (std::cmp::Reverse(votes[i] * 100 % total), i));
    let missing = 100 - shares.iter().sum::<i32>();
    for &i in by_remainder.iter().take(missing as usize) {
        shares[i] += 1;
    }
    shares
}

impl StickerResults {
    fn new(row: &StickerRow, answers: Option<Vec<StickerAnswer>>) -> Self {
        let kind = row.kind;
        let options = matches!(kind, StickerKind::Poll | StickerKind::Quiz).then(|| {
            let votes = &row.votes[..row.data.0.option_count().min(row.votes.len())];
            votes
                .iter()
                .zip(percentages(votes))
                .map(|(&votes, percent)| StickerOptionResult { votes, percent })
                .collect()
        });
        Self {
            responses: row.responses,
            options,
            correct: (kind == StickerKind::Quiz).then_some(row.correct),
            average: row
                .average
                .filter(|_| kind == StickerKind::Slider)
                .map(|average| (average * 10.0).round() / 10.0),
            followers: kind.counts_down().then_some(row.responses),
            answers,
        }
    }
}

/// A sticker on a story: its kind, its place, the part its kind has, and what you may see of
/// its responses.
#[derive(Debug, Object)]
pub struct StorySticker {
    pub id: Uuid,
    pub kind: StickerKind,
    /// Left edge, as a fraction of the story's width.
    pub x: f64,
    /// Top edge, as a fraction of the story's height.
    pub y: f64,
    pub width: f64,
    pub height: f64,
    /// Degrees clockwise.
    pub rotation: f64,
    #[oai(skip_serializing_if_is_none)]
    pub poll: Option<StickerPoll>,
    #[oai(skip_serializing_if_is_none)]
    pub quiz: Option<StickerQuiz>,
    #[oai(skip_serializing_if_is_none)]
    pub question: Option<StickerQuestion>,
    #[oai(skip_serializing_if_is_none)]
    pub countdown: Option<StickerCountdown>,
    #[oai(skip_serializing_if_is_none)]
    pub slider: Option<StickerSlider>,
    #[oai(skip_serializing_if_is_none)]
    pub mention: Option<StickerMention>,
    #[oai(skip_serializing_if_is_none)]
    pub location: Option<StickerLocation>,
    #[oai(skip_serializing_if_is_none)]
    pub personal_record: Option<StickerPersonalRecord>,
    #[oai(skip_serializing_if_is_none)]
    pub class_countdown: Option<StickerClassCountdown>,
    /// Whether you have responded (voted, answered, rated, asked or followed).
    pub responded: bool,
    /// Your response, once you have given one (a question's answers go to the author only).
    #[oai(skip_serializing_if_is_none)]
    pub your_response: Option<YourStickerResponse>,
    /// Its results, for the story's author and for those who have responded; a question's
    /// show its author the number of answers.
    #[oai(skip_serializing_if_is_none)]
    pub results: Option<StickerResults>,
}

impl StorySticker {
    /// The sticker as `reader` gets it.
    pub fn new(row: StickerRow, reader: Uuid) -> Self {
        let own = row.author_id == reader;
        let sees_results = row.kind.takes_responses()
            && (own || row.responded)
            && (own || row.kind != StickerKind::Question);
        let results = sees_results.then(|| StickerResults::new(&row, None));
        let your_response =
            (row.responded && row.kind != StickerKind::Question).then_some(YourStickerResponse {
                option: row.my_option.map(i32::from),
                correct: row.my_correct,
                value: row.my_value.map(i32::from),
            });
        let mut data = row.data.0;
        if let Some(quiz) = &mut data.quiz
            && !own
            && !row.responded
        {
            // The answer is shown once you have made your attempt.
            quiz.correct_option = None;
        }
        Self {
            id: row.id,
            kind: row.kind,
            x: row.x,
            y: row.y,
            width: row.width,
            height: row.height,
            rotation: row.rotation,
            poll: data.poll,
            quiz: data.quiz,
            question: data.question,
            countdown: data.countdown,
            slider: data.slider,
            mention: data.mention,
            location: data.location,
            personal_record: data.personal_record,
            class_countdown: data.class_countdown,
            responded: row.responded,
            your_response,
            results,
        }
    }
}

/// Sets the stickers of `stories` (which the caller may see), read in one query.
pub async fn fill<'a, M>(
    ctx: &AppContext,
    tenant: &Tenant<M>,
    stories: impl IntoIterator<Item = &'a mut Story>,
) -> ApiResult<()> {
    let stories: Vec<&mut Story> = stories.into_iter().collect();
    let ids: Vec<Uuid> = stories.iter().map(|story| story.id).collect();
    let by_story = service::of_stories(ctx, tenant, &ids).await?;
    fill_with(by_story, tenant.user_id, stories);
    Ok(())
}

/// Sets the stickers of `stories` from those read already ([`service::read`]), as `reader`
/// sees them.
pub fn fill_with<'a>(
    mut by_story: StickersByStory,
    reader: Uuid,
    stories: impl IntoIterator<Item = &'a mut Story>,
) {
    for story in stories {
        if let Some(rows) = by_story.remove(&story.id) {
            story.stickers = rows
                .into_iter()
                .map(|row| StorySticker::new(row, reader))
                .collect();
        }
    }
}

#[derive(Debug, Object)]
#[oai(deny_unknown_fields)]
pub struct StickerResponseRequest {
    /// Polls and quizzes: the index of the chosen option, from 0.
    #[oai(validator(minimum(value = "0"), maximum(value = "3")))]
    pub option: Option<i32>,
    /// Questions: your answer, 1–500 characters, read by the story's author only.
    #[oai(validator(max_length = 500))]
    pub text: Option<String>,
    /// Sliders: 0–100.
    #[oai(validator(minimum(value = "0"), maximum(value = "100")))]
    pub value: Option<i32>,
    /// Countdowns and class countdowns: `true`, to be told when it ends.
    pub follow: Option<bool>,
}

/// Your response to a sticker.
#[derive(Debug, Object)]
pub struct StickerResponse {
    pub id: Uuid,
    pub story_id: Uuid,
    pub sticker_id: Uuid,
    pub kind: StickerKind,
    #[oai(skip_serializing_if_is_none)]
    pub option: Option<i32>,
    /// Quizzes: whether your option was the right one.
    #[oai(skip_serializing_if_is_none)]
    pub correct: Option<bool>,
    #[oai(skip_serializing_if_is_none)]
    pub value: Option<i32>,
    #[oai(skip_serializing_if_is_none)]
    pub text: Option<String>,
    /// Countdowns and class countdowns: you follow it.
    #[oai(skip_serializing_if_is_none)]
    pub follow: Option<bool>,
    pub created_at: DateTime<Utc>,
    /// The sticker as you now see it, with its results.
    pub sticker: StorySticker,
}

impl StickerResponse {
    fn new(story_id: Uuid, row: ResponseRow, sticker: StorySticker) -> Self {
        Self {
            id: row.id,
            story_id,
            sticker_id: sticker.id,
            kind: sticker.kind,
            option: row.option.map(i32::from),
            correct: row.correct,
            value: row.value.map(i32::from),
            text: row.text,
            follow: sticker.kind.counts_down().then_some(true),
            created_at: row.created_at,
            sticker,
        }
    }
}

#[derive(ApiResponse)]
enum Responded {
    /// Recorded.
    #[oai(status = 201)]
    Created(Json<StickerResponse>),
}

pub struct StickersApi {
    pub ctx: AppContext,
}

#[OpenApi(prefix_path = "/api/v1", tag = "StickersTags::StoryStickers")]
impl StickersApi {
    /// Respond to a sticker
    ///
    /// The body depends on the sticker's kind: a poll takes `{option}` (one vote per person),
    /// a quiz `{option}` (one attempt; the answer says whether it was `correct`), a question
    /// `{text}` (as many as you like, read by the author only), a slider `{value}` 0–100
    /// (one per person), a countdown or class countdown `{follow: true}` (you are notified
    /// when it ends). A second vote, attempt, rating or follow is 409 `already_responded`;
    /// mentions, locations and personal records take none (409
    /// `sticker_takes_no_responses`); a countdown that has ended, 409 `countdown_ended`. 404
    /// for a story you cannot see, 410 `story_expired` once it has expired.
    #[oai(
        path = "/stories/:story_id/stickers/:sticker_id/responses",
        method = "post",
        operation_id = "stories_sticker_respond"
    )]
    async fn respond(
        &self,
        #[oai(name = "X-Gym-ID")] tenant: Tenant<Stories>,
        story_id: Path<Uuid>,
        sticker_id: Path<Uuid>,
        body: JsonBody<StickerResponseRequest>,
    ) -> ApiResult<Responded> {
        let body = body.0;
        let draft = ResponseDraft {
            option: body.option,
            text: body.text,
            value: body.value,
            follow: body.follow,
        };
        let (row, sticker) =
            service::respond(&self.ctx, &tenant, story_id.0, sticker_id.0, draft).await?;
        let sticker = StorySticker::new(sticker, tenant.user_id);
        Ok(Responded::Created(Json(StickerResponse::new(
            story_id.0, row, sticker,
        ))))
    }

    /// A sticker's results
    ///
    /// Polls give each option's votes and percentage, quizzes the attempts and how many were
    /// right, sliders the average, countdowns their followers, questions their answers (the
    /// newest 100, to the story's author only: others get 403 `not_story_author`). Shown to
    /// the author and to those who have responded; others get 403 `respond_first`. Mentions,
    /// locations and personal records have none (409 `sticker_takes_no_responses`). 404 for a
    /// story you cannot see.
    #[oai(
        path = "/stories/:story_id/stickers/:sticker_id/results",
        method = "get",
        operation_id = "stories_sticker_results"
    )]
    async fn results(
        &self,
        #[oai(name = "X-Gym-ID")] tenant: Tenant<Stories>,
        story_id: Path<Uuid>,
        sticker_id: Path<Uuid>,
    ) -> ApiResult<Json<StickerResults>> {
        let (row, answers) = service::results(&self.ctx, &tenant, story_id.0, sticker_id.0).await?;
        let answers = (row.kind == StickerKind::Question)
            .then(|| answers.into_iter().map(StickerAnswer::from).collect());
        Ok(Json(StickerResults::new(&row, answers)))
    }
}

#[cfg(test)]
mod tests {
    use super::percentages;

    #[test]
    fn percentages_add_up_to_a_hundred() {
        assert_eq!(percentages(&[1, 1, 1]), [34, 33, 33]);
        assert_eq!(percentages(&[2, 1]), [67, 33]);
        assert_eq!(percentages(&[1, 0, 0, 0]), [100, 0, 0, 0]);
        assert_eq!(percentages(&[0, 0]), [0, 0]);
        assert_eq!(percentages(&[1, 1, 1, 3]).iter().sum::<i32>(), 100);
    }
}
