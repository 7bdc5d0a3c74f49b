//! Insights for a story's author: how many saw it and did something with it, by story or over
//! a range of days. Available after expiry; a removed story has none (the visibility rule
//! hides it from its author too).

use std::collections::HashMap;

use chrono::{DateTime, NaiveDate, Utc};
use kernel::{ApiError, ApiResult, AppContext, FieldError, Tenant};
use uuid::Uuid;

use super::repo::{self, Counts, RangeRow, StickerInteractions};
use crate::repo as stories_repo;

/// The longest range `GET /stories/insights/me` covers, in days (both ends included).
pub const MAX_RANGE_DAYS: i64 = 90;
/// The range when the request names none: the last 30 days, today included.
pub const DEFAULT_RANGE_DAYS: i64 = 30;
/// Most stories one range answer lists.
pub const MAX_RANGE_STORIES: i64 = 500;

/// One story's insights.
pub struct StoryInsights {
    pub story_id: Uuid,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub counts: Counts,
    pub members: i64,
    pub sticker_interactions: Vec<StickerInteractions>,
    /// People who first viewed it in each hour of the day (0–23, the tenant's time zone).
    pub viewers_by_hour: [i64; 24],
}

impl StoryInsights {
    pub fn interactions(&self) -> i64 {
        interactions(&self.counts, &self.sticker_interactions)
    }

    /// The hour most people first viewed it (the earliest of a tie); none without views.
    pub fn peak_hour(&self) -> Option<i32> {
        let (hour, most) = self
            .viewers_by_hour
            .iter()
            .enumerate()
            .rev()
            .max_by_key(|(_, count)| **count)?;
        (*most > 0).then_some(hour as i32)
    }
}

/// Reactions, replies and sticker responses: everything people did with a story but look.
pub fn interactions(counts: &Counts, stickers: &[StickerInteractions]) -> i64 {
    counts.reactions + counts.replies + stickers.iter().map(|s| s.interactions).sum::<i64>()
}

/// `part` as a percentage of `whole`, to two decimals; 0 when `whole` is.
pub fn percent(part: i64, whole: i64) -> f64 {
    if whole <= 0 {
        return 0.0;
    }
    (part as f64 * 10_000.0 / whole as f64).round() / 100.0
}

/// The insights of the caller's own story, active or expired: 404 for anyone else's, as for
/// a story they cannot see.
pub async fn of_story<M>(
    ctx: &AppContext,
    tenant: &Tenant<M>,
    story_id: Uuid,
) -> ApiResult<StoryInsights> {
    let members = ctx.tenants.member_count(ctx, tenant.gym_id).await?;
    let timezone = tenant.info.timezone.name();
    let mut tx = tenant.read(&ctx.db).await?;
    let story = stories_repo::visible_story(&mut tx, tenant.gym_id, story_id, tenant.user_id)
        .await?
        .filter(|story| story.author_id == tenant.user_id)
        .ok_or_else(|| ApiError::not_found("no story of yours with this id"))?;
    let counts = repo::counts(&mut tx, tenant.gym_id, story_id).await?;
    let sticker_interactions =
        repo::sticker_interactions(&mut tx, tenant.gym_id, &[story_id]).await?;
    let mut viewers_by_hour = [0; 24];
    for (hour, viewers) in
        repo::viewers_by_hour(&mut tx, tenant.gym_id, story_id, story.author_id, timezone).await?
    {
        if let Some(slot) = usize::try_from(hour)
            .ok()
            .and_then(|hour| viewers_by_hour.get_mut(hour))
        {
            *slot = viewers;
        }
    }
    Ok(StoryInsights {
        story_id,
        created_at: story.created_at,
        expires_at: story.expires_at,
        counts,
        members,
        sticker_interactions,
        viewers_by_hour,
    })
}

/// The caller's stories over a range of days, each with its counts and sticker responses.
pub struct RangeInsights {
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub stories: Vec<(RangeRow, Vec<StickerInteractions>)>,
}

/// The caller's stories posted from `from` to `to` (days in the tenant's time zone, both
/// included; by default the last 30 days), at most 90 days (422 otherwise).
pub async fn of_range<M>(
    ctx: &AppContext,
    tenant: &Tenant<M>,
    from: Option<NaiveDate>,
    to: Option<NaiveDate>,
) -> ApiResult<RangeInsights> {
    let timezone = tenant.info.timezone;
    let today = Utc::now().with_timezone(&timezone).date_naive();
    let to = to.unwrap_or(today);
    let from = from.unwrap_or(to - chrono::Days::new(DEFAULT_RANGE_DAYS as u64 - 1));
    let days = (to - from).num_days() + 1;
    if days < 1 {
        return Err(ApiError::validation(vec![FieldError::new(
            "from",
            "must not be after `to`",
        )]));
    }
    if days > MAX_RANGE_DAYS {
        return Err(ApiError::validation(vec![
            FieldError::new(
                "from",
                format!("must be at most {MAX_RANGE_DAYS} days before `to`"),
            ),
            FieldError::new(
                "to",
                format!("must be at most {MAX_RANGE_DAYS} days after `from`"),
            ),
        ]));
    }
    let mut tx = tenant.read(&ctx.db).await?;
    let rows = repo::in_range(
        &mut tx,
        tenant.gym_id,
        tenant.user_id,
        (from, to),
        timezone.name(),
        MAX_RANGE_STORIES,
    )
    .await?;
    let ids: Vec<Uuid> = rows.iter().map(|row| row.id).collect();
    let mut by_story: HashMap<Uuid, Vec<StickerInteractions>> = HashMap::new();
    for sticker in repo::sticker_interactions(&mut tx, tenant.gym_id, &ids).await? {
        by_story.entry(sticker.story_id).or_default().push(sticker);
    }
    let stories = rows
        .into_iter()
        .map(|row| {
            let stickers = by_story.remove(&row.id).unwrap_or_default();
            (row, stickers)
        })
        .collect();
    Ok(RangeInsights { from, to, stories })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_hours(viewers_by_hour: [i64; 24]) -> StoryInsights {
        StoryInsights {
            story_id: Uuid::nil(),
            created_at: DateTime::UNIX_EPOCH,
            expires_at: DateTime::UNIX_EPOCH,
            counts: Counts::default(),
            members: 0,
            sticker_interactions: Vec::new(),
            viewers_by_hour,
        }
    }

    #[test]
    fn percentages_have_two_decimals_and_nothing_of_nothing_is_zero() {
        assert_eq!(percent(2, 3), 66.67);
        assert_eq!(percent(3, 6), 50.0);
        assert_eq!(percent(1, 7), 14.29);
        assert_eq!(percent(5, 0), 0.0);
    }

    #[test]
    fn the_peak_hour_is_the_busiest_and_the_earliest_of_a_tie() {
        let mut hours = [0; 24];
        assert_eq!(with_hours(hours).peak_hour(), None);
        hours[22] = 3;
        hours[10] = 3;
        hours[5] = 1;
        assert_eq!(with_hours(hours).peak_hour(), Some(10));
        hours[23] = 4;
        assert_eq!(with_hours(hours).peak_hour(), Some(23));
    }

    #[test]
    fn interactions_add_reactions_replies_and_sticker_responses() {
        let counts = Counts {
            views: 9,
            unique_viewers: 5,
            reactions: 2,
            replies: 1,
        };
        let stickers = [
            StickerInteractions {
                story_id: Uuid::nil(),
                sticker_id: Uuid::nil(),
                interactions: 4,
            },
            StickerInteractions {
                story_id: Uuid::nil(),
                sticker_id: Uuid::max(),
                interactions: 1,
            },
        ];
        assert_eq!(interactions(&counts, &stickers), 8);
        assert_eq!(interactions(&counts, &[]), 3);
    }
}
