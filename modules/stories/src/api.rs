//! HTTP of stories, follows and close friends: schemas and handlers, which call
//! [`crate::service`] and [`crate::people`].

use chrono::{DateTime, Utc};
use kernel::http::JsonBody;
use kernel::http::document::{FieldRule, Rule};
use kernel::pagination::{Page, PageCursor, PageLimit, PageRequest};
use kernel::{ApiResult, AppContext, Tenant};
use poem_openapi::param::{Path, Query};
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Object, OpenApi, Tags};
use uuid::Uuid;

use crate::Stories;
use crate::feed;
use crate::interactions;
use crate::interactions_repo::ReplyRow;
use crate::model::{
    Content, Privacy, StoryAchievement, StoryKind, StoryMedia, StoryText, StoryWorkout,
};
use crate::people::{self, PersonRow};
use crate::repo::{People, StoryRow};
use crate::service::{self, StoryDraft};
use crate::stickers::{self, StickerRequest, StorySticker};
use crate::validate::COLOR_PATTERN;

/// What the handlers check beyond the fields' types, for the document.
pub(crate) const FIELD_RULES: &[FieldRule] = &[
    FieldRule {
        schema: "StoryText",
        property: "background_color",
        rule: Rule::Pattern(COLOR_PATTERN),
    },
    FieldRule {
        schema: "StoryText",
        property: "text",
        rule: Rule::Pattern(kernel::http::document::NOT_BLANK_PATTERN),
    },
    FieldRule {
        schema: "ReactionRequest",
        property: "emoji",
        rule: Rule::Example("🔥"),
    },
    FieldRule {
        schema: "ReplyRequest",
        property: "message",
        rule: Rule::Pattern(kernel::http::document::NOT_BLANK_PATTERN),
    },
    // Stickers.
    FieldRule {
        schema: "StickerCountdown",
        property: "ends_at",
        rule: Rule::Example("2030-01-01T18:00:00Z"),
    },
    FieldRule {
        schema: "StickerClassCountdown",
        property: "starts_at",
        rule: Rule::Example("2030-01-01T18:00:00Z"),
    },
    FieldRule {
        schema: "StickerSlider",
        property: "emoji",
        rule: Rule::Example("🔥"),
    },
    FieldRule {
        schema: "StickerResponseRequest",
        property: "text",
        rule: Rule::Pattern(kernel::http::document::NOT_BLANK_PATTERN),
    },
    // Highlights.
    FieldRule {
        schema: "HighlightCoverRequest",
        property: "color",
        rule: Rule::Pattern(COLOR_PATTERN),
    },
    FieldRule {
        schema: "HighlightCoverRequest",
        property: "emoji",
        rule: Rule::Example("🔥"),
    },
];

#[derive(Tags)]
enum StoriesTags {
    /// Stories: 24-hour posts of a tenant's people, with privacy, views and a feed.
    Stories,
    /// Who follows whom inside the tenant (followers-only stories, the feed).
    Follows,
    /// Your close friends: who sees your close-friends stories.
    CloseFriends,
}

/// A story.
#[derive(Debug, Object)]
pub struct Story {
    pub id: Uuid,
    pub author_id: Uuid,
    pub kind: StoryKind,
    #[oai(skip_serializing_if_is_none)]
    pub caption: Option<String>,
    /// Seconds each viewer's player shows it, 1–15.
    pub display_seconds: i32,
    pub privacy: Privacy,
    /// People it is hidden from; shown to its author only.
    #[oai(skip_serializing_if_is_none)]
    pub hidden_from: Option<Vec<Uuid>>,
    /// Image and video stories.
    #[oai(skip_serializing_if_is_none)]
    pub media: Option<StoryMedia>,
    /// Text stories.
    #[oai(skip_serializing_if_is_none)]
    pub text: Option<StoryText>,
    /// Workout stories.
    #[oai(skip_serializing_if_is_none)]
    pub workout: Option<StoryWorkout>,
    /// Achievement stories.
    #[oai(skip_serializing_if_is_none)]
    pub achievement: Option<StoryAchievement>,
    pub created_at: DateTime<Utc>,
    /// Gone from everyone's view but its author's after this (their archive keeps it).
    pub expires_at: DateTime<Utc>,
    /// Whether you have viewed it (`POST /api/v1/stories/{story_id}/view`).
    pub seen: bool,
    /// Its stickers, in the order they were posted, each with your response and the results
    /// you may see.
    pub stickers: Vec<StorySticker>,
}

impl Story {
    /// The story as `viewer` gets it.
    pub fn new(row: StoryRow, viewer: Uuid) -> Self {
        let own = row.author_id == viewer;
        let content = row.content.0;
        Self {
            id: row.id,
            author_id: row.author_id,
            kind: row.kind,
            caption: row.caption,
            display_seconds: row.display_seconds.into(),
            privacy: row.privacy,
            hidden_from: own.then_some(row.hidden_from),
            media: row.media.map(|media| media.0),
            text: content.text,
            workout: content.workout,
            achievement: content.achievement,
            created_at: row.created_at,
            expires_at: row.expires_at,
            seen: row.seen,
            stickers: Vec::new(),
        }
    }
}

/// One author's active stories in your feed.
#[derive(Debug, Object)]
pub struct FeedGroup {
    pub author_id: Uuid,
    /// Whether any of them is one you have not viewed.
    pub has_unseen: bool,
    /// When the newest of them was posted.
    pub latest_at: DateTime<Utc>,
    /// Oldest first, each with `seen`.
    pub stories: Vec<Story>,
}

/// Someone who viewed a story.
#[derive(Debug, Object)]
pub struct StoryViewer {
    pub user_id: Uuid,
    /// Their first view.
    pub viewed_at: DateTime<Utc>,
    /// Their reaction to the story, if any.
    #[oai(skip_serializing_if_is_none)]
    pub reaction: Option<String>,
}

#[derive(Debug, Object)]
#[oai(deny_unknown_fields)]
pub struct ReactionRequest {
    /// One emoji (1–16 characters, no spaces).
    #[oai(validator(max_length = 16))]
    pub emoji: String,
}

/// Your reaction to a story.
#[derive(Debug, Object)]
pub struct StoryReaction {
    pub story_id: Uuid,
    pub emoji: String,
    /// Your first reaction to it.
    pub created_at: DateTime<Utc>,
    /// Your last change of it.
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Object)]
#[oai(deny_unknown_fields)]
pub struct ReplyRequest {
    /// To the story's author, 1–1,000 characters.
    #[oai(validator(max_length = 1000))]
    pub message: String,
}

/// A reply to a story, which only its author reads.
#[derive(Debug, Object)]
pub struct StoryReply {
    pub id: Uuid,
    pub story_id: Uuid,
    /// Who replied.
    pub user_id: Uuid,
    pub message: String,
    pub created_at: DateTime<Utc>,
}

impl From<ReplyRow> for StoryReply {
    fn from(row: ReplyRow) -> Self {
        Self {
            id: row.id,
            story_id: row.story_id,
            user_id: row.user_id,
            message: row.message,
            created_at: row.created_at,
        }
    }
}

#[derive(ApiResponse)]
enum Replied {
    /// Sent; the author is notified.
    #[oai(status = 201)]
    Created(Json<StoryReply>),
}

#[derive(Debug, Object)]
#[oai(deny_unknown_fields)]
pub struct CreateStoryRequest {
    pub kind: StoryKind,
    /// Up to 2,200 characters.
    #[oai(validator(max_length = 2200))]
    pub caption: Option<String>,
    /// Seconds the player shows it, 1–15 (default 5).
    #[oai(validator(minimum(value = "1"), maximum(value = "15")))]
    pub display_seconds: Option<i32>,
    /// Default `public`.
    pub privacy: Option<Privacy>,
    /// Members who never see it, whatever the privacy (at most 500).
    #[oai(validator(max_items = 500))]
    pub hidden_from: Option<Vec<Uuid>>,
    /// How long it stays up, from 1 hour to the deployment's maximum (default 24 hours; the
    /// maximum is 48 unless configured otherwise).
    #[oai(validator(minimum(value = "1"), maximum(value = "720")))]
    pub lifetime_hours: Option<i32>,
    /// Image and video stories: your own upload (`POST /api/v1/media`) of that kind.
    pub media_id: Option<Uuid>,
    /// Video stories: your own image upload, shown before the video plays.
    pub thumbnail_media_id: Option<Uuid>,
    /// Text stories.
    pub text: Option<StoryText>,
    /// Workout stories.
    pub workout: Option<StoryWorkout>,
    /// Achievement stories.
    pub achievement: Option<StoryAchievement>,
    /// Up to 10 interactive stickers, placed on the story; each takes the part its `kind`
    /// names (`poll`, `quiz`, ...). Errors name the sticker's field, e.g. `stickers[2].x`.
    #[oai(validator(max_items = 10))]
    pub stickers: Option<Vec<StickerRequest>>,
}

/// Someone on a list: a follower, someone followed, a close friend.
#[derive(Debug, Object)]
pub struct PersonEntry {
    pub user_id: Uuid,
    /// Since when they are on the list.
    pub since: DateTime<Utc>,
}

impl From<PersonRow> for PersonEntry {
    fn from(row: PersonRow) -> Self {
        Self {
            user_id: row.user_id,
            since: row.since,
        }
    }
}

#[derive(ApiResponse)]
enum Created {
    /// Posted.
    #[oai(status = 201)]
    Story(Json<Story>),
}

#[derive(ApiResponse)]
enum Done {
    /// Done (doing it again changes nothing).
    #[oai(status = 204)]
    NoContent,
}

/// Lists of people (followers, following, close friends) and viewers are keyed by a time and
/// a user id: their cursors carry both.
fn person_cursor_example() -> Option<PageCursor> {
    kernel::pagination::example_cursor::<(DateTime<Utc>, Uuid)>()
}

/// The feed is keyed by its groups' sort key: own, unseen, latest, author.
fn feed_cursor_example() -> Option<PageCursor> {
    kernel::pagination::example_cursor::<crate::feed_repo::GroupKey>()
}

pub struct StoriesApi {
    pub ctx: AppContext,
}

#[OpenApi(prefix_path = "/api/v1", tag = "StoriesTags::Stories")]
impl StoriesApi {
    /// Post a story
    ///
    /// What it needs depends on `kind`: `media_id` (image, video; a video also
    /// `thumbnail_media_id`), `text`, `workout` or `achievement`; any part another kind takes
    /// is refused, each with its field in the 422. Uploads must be the caller's own. Publishes
    /// `story.created`.
    #[oai(path = "/stories", method = "post", operation_id = "stories_create")]
    async fn create(
        &self,
        #[oai(name = "X-Gym-ID")] tenant: Tenant<Stories>,
        body: JsonBody<CreateStoryRequest>,
    ) -> ApiResult<Created> {
        let body = body.0;
        let draft = StoryDraft {
            kind: body.kind,
            caption: body.caption,
            display_seconds: body.display_seconds,
            privacy: body.privacy,
            hidden_from: body.hidden_from,
            lifetime_hours: body.lifetime_hours,
            media_id: body.media_id,
            thumbnail_media_id: body.thumbnail_media_id,
            content: Content {
                text: body.text,
                workout: body.workout,
                achievement: body.achievement,
            },
            stickers: body.stickers.unwrap_or_default(),
        };
        let row = service::create(&self.ctx, &tenant, draft).await?;
        let mut story = Story::new(row, tenant.user_id);
        stickers::fill(&self.ctx, &tenant, [&mut story]).await?;
        Ok(Created::Story(Json(story)))
    }

    /// Your feed: active stories by author
    ///
    /// Your own stories and those of the people you follow that you may see, one group per
    /// author: yours first, then authors with stories you have not viewed (the most recent
    /// first), then those you have seen entirely. Each group lists its stories oldest first
    /// with `seen`. `limit` counts groups.
    #[oai(path = "/stories/feed", method = "get", operation_id = "stories_feed")]
    async fn feed(
        &self,
        #[oai(name = "X-Gym-ID")] tenant: Tenant<Stories>,
        /// Groups per page, 1–100 (default 20).
        limit: Query<Option<PageLimit>>,
        /// `next_cursor` of the previous page.
        #[oai(example = "feed_cursor_example")]
        cursor: Query<Option<PageCursor>>,
    ) -> ApiResult<Json<Page<FeedGroup>>> {
        let page = PageRequest::new(limit.0, cursor.0);
        let (groups, stickers) = feed::feed(&self.ctx, &tenant, &page).await?;
        let viewer = tenant.user_id;
        let mut groups = groups.map(|group| FeedGroup {
            author_id: group.author_id,
            has_unseen: group.unseen,
            latest_at: group.latest,
            stories: group
                .stories
                .into_iter()
                .map(|row| Story::new(row, viewer))
                .collect(),
        });
        let stories = groups.items.iter_mut().flat_map(|group| &mut group.stories);
        stickers::fill_with(stickers, viewer, stories);
        Ok(Json(groups))
    }

    /// Mark a story as viewed
    ///
    /// The first view's time is kept and you count once among its viewers; each repeat adds a
    /// view to its author's insights. 404 for a story you cannot see or that has expired.
    #[oai(
        path = "/stories/:story_id/view",
        method = "post",
        operation_id = "stories_view"
    )]
    async fn view(
        &self,
        #[oai(name = "X-Gym-ID")] tenant: Tenant<Stories>,
        story_id: Path<Uuid>,
    ) -> ApiResult<Done> {
        feed::view(&self.ctx, &tenant, story_id.0).await?;
        Ok(Done::NoContent)
    }

    /// Who viewed your story, newest first (its author only)
    ///
    /// Others who can see the story get 403 `not_story_author`.
    #[oai(
        path = "/stories/:story_id/viewers",
        method = "get",
        operation_id = "stories_viewers"
    )]
    async fn viewers(
        &self,
        #[oai(name = "X-Gym-ID")] tenant: Tenant<Stories>,
        story_id: Path<Uuid>,
        /// Page size, 1–100 (default 20).
        limit: Query<Option<PageLimit>>,
        /// `next_cursor` of the previous page.
        #[oai(example = "person_cursor_example")]
        cursor: Query<Option<PageCursor>>,
    ) -> ApiResult<Json<Page<StoryViewer>>> {
        let page = PageRequest::new(limit.0, cursor.0);
        let rows = feed::viewers(&self.ctx, &tenant, story_id.0, &page).await?;
        Ok(Json(rows.map(|row| StoryViewer {
            user_id: row.viewer_id,
            viewed_at: row.viewed_at,
            reaction: row.reaction,
        })))
    }

    /// React to a story
    ///
    /// One reaction per person and story: sending another replaces it. The author is notified
    /// of a first reaction. 410 `story_expired` once the story has expired; 404 for a story
    /// you cannot see.
    #[oai(
        path = "/stories/:story_id/reactions",
        method = "post",
        operation_id = "stories_react"
    )]
    async fn react(
        &self,
        #[oai(name = "X-Gym-ID")] tenant: Tenant<Stories>,
        story_id: Path<Uuid>,
        body: JsonBody<ReactionRequest>,
    ) -> ApiResult<Json<StoryReaction>> {
        let row = interactions::react(&self.ctx, &tenant, story_id.0, &body.emoji).await?;
        Ok(Json(StoryReaction {
            story_id: story_id.0,
            emoji: row.emoji,
            created_at: row.created_at,
            updated_at: row.updated_at,
        }))
    }

    /// Reply to a story
    ///
    /// The reply goes to the story's author, as a notification, and only they read it. 410
    /// `story_expired` once the story has expired; 404 for a story you cannot see.
    #[oai(
        path = "/stories/:story_id/replies",
        method = "post",
        operation_id = "stories_reply"
    )]
    async fn reply(
        &self,
        #[oai(name = "X-Gym-ID")] tenant: Tenant<Stories>,
        story_id: Path<Uuid>,
        body: JsonBody<ReplyRequest>,
    ) -> ApiResult<Replied> {
        let row = interactions::reply(&self.ctx, &tenant, story_id.0, &body.message).await?;
        Ok(Replied::Created(Json(row.into())))
    }

    /// The replies to your story, newest first (its author only)
    ///
    /// Others who can see the story get 403 `not_story_author`.
    #[oai(
        path = "/stories/:story_id/replies",
        method = "get",
        operation_id = "stories_replies"
    )]
    async fn replies(
        &self,
        #[oai(name = "X-Gym-ID")] tenant: Tenant<Stories>,
        story_id: Path<Uuid>,
        /// Page size, 1–100 (default 20).
        limit: Query<Option<PageLimit>>,
        /// `next_cursor` of the previous page.
        cursor: Query<Option<PageCursor>>,
    ) -> ApiResult<Json<Page<StoryReply>>> {
        let page = PageRequest::new(limit.0, cursor.0);
        let rows = interactions::replies(&self.ctx, &tenant, story_id.0, &page).await?;
        Ok(Json(rows.map(StoryReply::from)))
    }

    /// Your expired stories, newest first
    #[oai(
        path = "/stories/archive",
        method = "get",
        operation_id = "stories_archive"
    )]
    async fn archive(
        &self,
        #[oai(name = "X-Gym-ID")] tenant: Tenant<Stories>,
        /// Page size, 1–100 (default 20).
        limit: Query<Option<PageLimit>>,
        /// `next_cursor` of the previous page.
        cursor: Query<Option<PageCursor>>,
    ) -> ApiResult<Json<Page<Story>>> {
        let page = PageRequest::new(limit.0, cursor.0);
        let rows = service::archive(&self.ctx, &tenant, &page).await?;
        let mut stories = rows.map(|row| Story::new(row, tenant.user_id));
        stickers::fill(&self.ctx, &tenant, &mut stories.items).await?;
        Ok(Json(stories))
    }

    /// One story, when you may see it
    ///
    /// 404 for a story that does not exist, belongs to another tenant, has expired (but for
    /// its author) or that its privacy hides from you.
    #[oai(
        path = "/stories/:story_id",
        method = "get",
        operation_id = "stories_get"
    )]
    async fn get(
        &self,
        #[oai(name = "X-Gym-ID")] tenant: Tenant<Stories>,
        story_id: Path<Uuid>,
    ) -> ApiResult<Json<Story>> {
        let row = service::get(&self.ctx, &tenant, story_id.0).await?;
        let mut story = Story::new(row, tenant.user_id);
        stickers::fill(&self.ctx, &tenant, [&mut story]).await?;
        Ok(Json(story))
    }

    /// Delete a story (its author; admins and owners, to moderate)
    ///
    /// Its uploads are released and deleted by media's sweep. Others who can see it get 403
    /// `not_story_author`.
    #[oai(
        path = "/stories/:story_id",
        method = "delete",
        operation_id = "stories_delete"
    )]
    async fn delete(
        &self,
        #[oai(name = "X-Gym-ID")] tenant: Tenant<Stories>,
        story_id: Path<Uuid>,
    ) -> ApiResult<Done> {
        service::delete(&self.ctx, &tenant, story_id.0).await?;
        Ok(Done::NoContent)
    }

    /// A member's active stories that you may see, oldest first
    ///
    /// 404 when `user_id` is not a member of this tenant.
    #[oai(
        path = "/users/:user_id/stories",
        method = "get",
        operation_id = "stories_by_user"
    )]
    async fn by_user(
        &self,
        #[oai(name = "X-Gym-ID")] tenant: Tenant<Stories>,
        user_id: Path<Uuid>,
        /// Page size, 1–100 (default 20).
        limit: Query<Option<PageLimit>>,
        /// `next_cursor` of the previous page.
        cursor: Query<Option<PageCursor>>,
    ) -> ApiResult<Json<Page<Story>>> {
        let page = PageRequest::new(limit.0, cursor.0);
        let rows = service::by_user(&self.ctx, &tenant, user_id.0, &page).await?;
        let mut stories = rows.map(|row| Story::new(row, tenant.user_id));
        stickers::fill(&self.ctx, &tenant, &mut stories.items).await?;
        Ok(Json(stories))
    }

    /// Follow a member
    ///
    /// You then see their followers-only stories, and their stories come into your feed.
    /// Following twice changes nothing; yourself is 422, a non-member 404.
    #[oai(
        path = "/users/:user_id/follow",
        method = "post",
        operation_id = "follows_create",
        tag = "StoriesTags::Follows"
    )]
    async fn follow(
        &self,
        #[oai(name = "X-Gym-ID")] tenant: Tenant<Stories>,
        user_id: Path<Uuid>,
    ) -> ApiResult<Done> {
        people::add(&self.ctx, &tenant, People::Following, user_id.0).await?;
        Ok(Done::NoContent)
    }

    /// Stop following a member
    #[oai(
        path = "/users/:user_id/follow",
        method = "delete",
        operation_id = "follows_delete",
        tag = "StoriesTags::Follows"
    )]
    async fn unfollow(
        &self,
        #[oai(name = "X-Gym-ID")] tenant: Tenant<Stories>,
        user_id: Path<Uuid>,
    ) -> ApiResult<Done> {
        people::remove(&self.ctx, &tenant, People::Following, user_id.0).await?;
        Ok(Done::NoContent)
    }

    /// A member's followers, newest first
    #[oai(
        path = "/users/:user_id/followers",
        method = "get",
        operation_id = "follows_followers",
        tag = "StoriesTags::Follows"
    )]
    async fn followers(
        &self,
        #[oai(name = "X-Gym-ID")] tenant: Tenant<Stories>,
        user_id: Path<Uuid>,
        /// Page size, 1–100 (default 20).
        limit: Query<Option<PageLimit>>,
        /// `next_cursor` of the previous page.
        #[oai(example = "person_cursor_example")]
        cursor: Query<Option<PageCursor>>,
    ) -> ApiResult<Json<Page<PersonEntry>>> {
        let page = PageRequest::new(limit.0, cursor.0);
        let rows = people::list(&self.ctx, &tenant, People::Followers, user_id.0, &page).await?;
        Ok(Json(rows.map(PersonEntry::from)))
    }

    /// Whom a member follows, newest first
    #[oai(
        path = "/users/:user_id/following",
        method = "get",
        operation_id = "follows_following",
        tag = "StoriesTags::Follows"
    )]
    async fn following(
        &self,
        #[oai(name = "X-Gym-ID")] tenant: Tenant<Stories>,
        user_id: Path<Uuid>,
        /// Page size, 1–100 (default 20).
        limit: Query<Option<PageLimit>>,
        /// `next_cursor` of the previous page.
        #[oai(example = "person_cursor_example")]
        cursor: Query<Option<PageCursor>>,
    ) -> ApiResult<Json<Page<PersonEntry>>> {
        let page = PageRequest::new(limit.0, cursor.0);
        let rows = people::list(&self.ctx, &tenant, People::Following, user_id.0, &page).await?;
        Ok(Json(rows.map(PersonEntry::from)))
    }

    /// Your close friends, newest first
    #[oai(
        path = "/close-friends",
        method = "get",
        operation_id = "close_friends_list",
        tag = "StoriesTags::CloseFriends"
    )]
    async fn close_friends(
        &self,
        #[oai(name = "X-Gym-ID")] tenant: Tenant<Stories>,
        /// Page size, 1–100 (default 20).
        limit: Query<Option<PageLimit>>,
        /// `next_cursor` of the previous page.
        #[oai(example = "person_cursor_example")]
        cursor: Query<Option<PageCursor>>,
    ) -> ApiResult<Json<Page<PersonEntry>>> {
        let page = PageRequest::new(limit.0, cursor.0);
        let me = tenant.user_id;
        let rows = people::list(&self.ctx, &tenant, People::CloseFriends, me, &page).await?;
        Ok(Json(rows.map(PersonEntry::from)))
    }

    /// Add a member to your close friends
    ///
    /// They then see your close-friends stories. Adding twice changes nothing; yourself is
    /// 422, a non-member 404.
    #[oai(
        path = "/close-friends/:user_id",
        method = "put",
        operation_id = "close_friends_add",
        tag = "StoriesTags::CloseFriends"
    )]
    async fn add_close_friend(
        &self,
        #[oai(name = "X-Gym-ID")] tenant: Tenant<Stories>,
        user_id: Path<Uuid>,
    ) -> ApiResult<Done> {
        people::add(&self.ctx, &tenant, People::CloseFriends, user_id.0).await?;
        Ok(Done::NoContent)
    }

    /// Remove a member from your close friends
    #[oai(
        path = "/close-friends/:user_id",
        method = "delete",
        operation_id = "close_friends_remove",
        tag = "StoriesTags::CloseFriends"
    )]
    async fn remove_close_friend(
        &self,
        #[oai(name = "X-Gym-ID")] tenant: Tenant<Stories>,
        user_id: Path<Uuid>,
    ) -> ApiResult<Done> {
        people::remove(&self.ctx, &tenant, People::CloseFriends, user_id.0).await?;
        Ok(Done::NoContent)
    }
}
