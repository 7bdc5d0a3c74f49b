//! HTTP of insights: one story's, and the caller's over a range of days.

use chrono::{DateTime, NaiveDate, Utc};
use kernel::{ApiResult, AppContext, Tenant};
use poem_openapi::param::{Path, Query};
use poem_openapi::payload::Json;
use poem_openapi::{Object, OpenApi, Tags};
use uuid::Uuid;

use super::repo::{Counts, StickerInteractions};
use super::service::{self, interactions, percent};
use crate::Stories;
use crate::model::StoryKind;

#[derive(Tags)]
enum InsightsTags {
    /// What people did with your stories: views, reach, interactions.
    StoryInsights,
}

/// Responses to one sticker of a story.
#[derive(Debug, Object)]
pub struct StickerInsight {
    pub sticker_id: Uuid,
    pub interactions: i64,
}

impl From<StickerInteractions> for StickerInsight {
    fn from(row: StickerInteractions) -> Self {
        Self {
            sticker_id: row.sticker_id,
            interactions: row.interactions,
        }
    }
}

/// People who first viewed a story in one hour of the day.
#[derive(Debug, Object)]
pub struct HourViewers {
    /// 0–23, in the tenant's time zone.
    pub hour: i32,
    pub viewers: i64,
}

/// What people did with one of your stories. Your own views and reactions never count.
#[derive(Debug, Object)]
pub struct StoryInsights {
    pub story_id: Uuid,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    /// Every view, repeats included.
    pub total_views: i64,
    /// People who viewed it.
    pub unique_viewers: i64,
    /// People in the tenant (you included), whom `reach_percent` is a share of.
    pub members: i64,
    /// `unique_viewers` as a percentage of `members`, to two decimals.
    pub reach_percent: f64,
    /// Reactions, replies and sticker responses.
    pub interactions: i64,
    /// `interactions` as a percentage of `unique_viewers`, to two decimals (0 without viewers).
    pub interaction_rate_percent: f64,
    pub reactions: i64,
    pub replies: i64,
    /// All 24 hours of the day, 0 first: people by the hour of their first view.
    pub viewers_by_hour: Vec<HourViewers>,
    /// The hour most people first viewed it (the earliest of a tie); absent without views.
    #[oai(skip_serializing_if_is_none)]
    pub peak_hour: Option<i32>,
    /// Responses to each of its stickers.
    pub stickers: Vec<StickerInsight>,
}

impl From<service::StoryInsights> for StoryInsights {
    fn from(insights: service::StoryInsights) -> Self {
        let interactions = insights.interactions();
        let peak_hour = insights.peak_hour();
        let counts = &insights.counts;
        Self {
            story_id: insights.story_id,
            created_at: insights.created_at,
            expires_at: insights.expires_at,
            total_views: counts.views,
            unique_viewers: counts.unique_viewers,
            members: insights.members,
            reach_percent: percent(counts.unique_viewers, insights.members),
            interactions,
            interaction_rate_percent: percent(interactions, counts.unique_viewers),
            reactions: counts.reactions,
            replies: counts.replies,
            viewers_by_hour: (0..)
                .zip(insights.viewers_by_hour)
                .map(|(hour, viewers)| HourViewers { hour, viewers })
                .collect(),
            peak_hour,
            stickers: insights
                .sticker_interactions
                .into_iter()
                .map(StickerInsight::from)
                .collect(),
        }
    }
}

/// Counts of one story or of several added up.
#[derive(Debug, Default, Object)]
pub struct InsightTotals {
    /// Every view, repeats included.
    pub total_views: i64,
    /// People who viewed (summed per story: one person viewing two stories counts twice).
    pub unique_viewers: i64,
    /// Reactions, replies and sticker responses.
    pub interactions: i64,
    pub reactions: i64,
    pub replies: i64,
}

impl InsightTotals {
    fn of(counts: &Counts, stickers: &[StickerInteractions]) -> Self {
        Self {
            total_views: counts.views,
            unique_viewers: counts.unique_viewers,
            interactions: interactions(counts, stickers),
            reactions: counts.reactions,
            replies: counts.replies,
        }
    }

    fn add(&mut self, other: &InsightTotals) {
        self.total_views += other.total_views;
        self.unique_viewers += other.unique_viewers;
        self.interactions += other.interactions;
        self.reactions += other.reactions;
        self.replies += other.replies;
    }
}

/// One of your stories in a range, with its counts.
#[derive(Debug, Object)]
pub struct StoryInsightSummary {
    pub story_id: Uuid,
    pub kind: StoryKind,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    #[oai(flatten)]
    pub totals: InsightTotals,
}

/// Your stories posted over a range of days, newest first (at most 500), and their totals.
#[derive(Debug, Object)]
pub struct RangeInsights {
    /// First day, in the tenant's time zone.
    pub from: NaiveDate,
    /// Last day, included.
    pub to: NaiveDate,
    /// How many stories you posted in the range.
    pub stories_posted: i64,
    /// The stories' counts added up.
    pub totals: InsightTotals,
    pub stories: Vec<StoryInsightSummary>,
}

pub struct InsightsApi {
    pub ctx: AppContext,
}

#[OpenApi(prefix_path = "/api/v1", tag = "InsightsTags::StoryInsights")]
impl InsightsApi {
    /// Your stories over a range of days, with totals
    ///
    /// From `from` to `to` (days in the tenant's time zone, both included; by default the last
    /// 30 days), at most 90 days: 422 otherwise. Expired stories count; removed ones do not.
    #[oai(
        path = "/stories/insights/me",
        method = "get",
        operation_id = "stories_insights_mine"
    )]
    async fn mine(
        &self,
        #[oai(name = "X-Gym-ID")] tenant: Tenant<Stories>,
        /// First day, `YYYY-MM-DD`.
        from: Query<Option<NaiveDate>>,
        /// Last day, `YYYY-MM-DD` (default today).
        to: Query<Option<NaiveDate>>,
    ) -> ApiResult<Json<RangeInsights>> {
        let range = service::of_range(&self.ctx, &tenant, from.0, to.0).await?;
        let mut totals = InsightTotals::default();
        let stories: Vec<StoryInsightSummary> = range
            .stories
            .into_iter()
            .map(|(row, stickers)| {
                let story_totals = InsightTotals::of(&row.counts, &stickers);
                totals.add(&story_totals);
                StoryInsightSummary {
                    story_id: row.id,
                    kind: row.kind,
                    created_at: row.created_at,
                    expires_at: row.expires_at,
                    totals: story_totals,
                }
            })
            .collect();
        Ok(Json(RangeInsights {
            from: range.from,
            to: range.to,
            stories_posted: stories.len() as i64,
            totals,
            stories,
        }))
    }

    /// Insights of your story (its author only)
    ///
    /// Views, unique viewers, reach, interactions and their rate, replies, viewers by hour with
    /// the peak hour, and responses per sticker. Available after the story expires. 404 for
    /// anyone but its author, as for a story you cannot see.
    #[oai(
        path = "/stories/:story_id/insights",
        method = "get",
        operation_id = "stories_insights"
    )]
    async fn story(
        &self,
        #[oai(name = "X-Gym-ID")] tenant: Tenant<Stories>,
        story_id: Path<Uuid>,
    ) -> ApiResult<Json<StoryInsights>> {
        let insights = service::of_story(&self.ctx, &tenant, story_id.0).await?;
        Ok(Json(insights.into()))
    }
}
