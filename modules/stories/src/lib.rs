//! Stories: 24-hour posts of a tenant's people (images, videos, text, workouts, achievements),
//! with privacy, follows and close friends. Compiled in with the `stories` feature (the gym
//! build turns it on; the trainer build takes it with `--features trainer,stories`); on by
//! default for a tenant, switched off like any optional module.
//!
//! - Routes: `POST /api/v1/stories`, `GET/DELETE /api/v1/stories/{id}` (delete: the author,
//!   admins and owners), `GET /api/v1/users/{user_id}/stories` (active, visible to the
//!   caller), `GET /api/v1/stories/archive` (the caller's expired ones);
//!   `POST/DELETE /api/v1/users/{user_id}/follow`, `GET /api/v1/users/{user_id}/followers`
//!   and `/following`; `GET /api/v1/close-friends`, `PUT/DELETE /api/v1/close-friends/{user_id}`.
//!   `GET /api/v1/stories/feed` (the caller's and followed people's active stories by author,
//!   own first, then unseen, most recent first; keyset-paginated by group),
//!   `POST /api/v1/stories/{id}/view` (idempotent, first view's time kept),
//!   `GET /api/v1/stories/{id}/viewers` (the author, with each viewer's reaction);
//!   `POST /api/v1/stories/{id}/reactions` (one per person, changeable),
//!   `POST /api/v1/stories/{id}/replies`, `GET /api/v1/stories/{id}/replies` (the author);
//!   an expired story takes neither (410 `story_expired`).
//! - Stickers ([`stickers`]): up to 10 per story, posted with it (`stickers`) and shown in
//!   every read of stories with the reader's response and the results they may see;
//!   `POST /api/v1/stories/{id}/stickers/{sticker_id}/responses` (poll vote, quiz answer,
//!   slider rating and countdown follow once per person, question answers for the author),
//!   `GET /api/v1/stories/{id}/stickers/{sticker_id}/results`.
//! - Highlights ([`highlights`]), which never expire: `POST /api/v1/highlights`,
//!   `GET/PATCH/DELETE /api/v1/highlights/{id}` (title, description, cover, pinned,
//!   archived), `POST/DELETE /api/v1/highlights/{id}/stories`,
//!   `POST /api/v1/highlights/reorder`, `GET /api/v1/users/{user_id}/highlights`.
//! - Insights for authors ([`insights`]), also after expiry:
//!   `GET /api/v1/stories/{id}/insights`, `GET /api/v1/stories/insights/me?from=&to=`.
//! - Moderation ([`moderation`]): `POST /api/v1/stories/{id}/reports`,
//!   `GET /api/v1/stories/reports` and `POST /api/v1/stories/reports/{id}/resolve` (admins
//!   and owners); a removed story leaves every read, its author's included.
//! - API keys: `stories:*`, `close-friends:*`, `highlights:*`.
//! - Notifications: replies and first reactions tell the author, mention stickers the
//!   mentioned member (`story.mention`, when the story's privacy lets them see it), and a
//!   removal the author, through the kernel's `notification_requested` event; a countdown's
//!   end tells its followers (`story.countdown`, `story.class_countdown`) and followers hear
//!   of new stories at most once per author and `new_story_batch_minutes` ([`new_stories`]),
//!   through its batch twin `notifications_requested`.
//! - The feed's order is cached per person ([`feed_cache`]) and forgotten by what changes it.
//! - Views are committed in batches ([`view_batch`]), each request answered once its batch
//!   has committed; the batcher lives in the context's module state.
//! - The feed's order comes from each viewer's tray ([`tray_repo`]): their feed's stories with
//!   whether each is seen, built on their first feed read and kept by every write that changes
//!   it, through the visibility rule.
//! - Who sees what: one SQL predicate, [`visibility::visible`], in every read of stories; its
//!   privacy part alone, [`visibility::reachable`], where expiry does not hide (highlights).
//! - Media: image and video stories claim the author's own uploads through the kernel's
//!   attachments port (holders `story:<id>`, `story-thumbnail:<id>`) and release them when
//!   deleted or removed; a highlight's upload cover is held as `highlight-cover:<id>`.
//! - Tables: `stories`, `story_follows`, `story_close_friends`, `story_views`,
//!   `story_reactions`, `story_replies`, `story_stickers`, `story_sticker_responses`,
//!   `story_highlights`, `story_highlight_items`, `story_reports`, `story_new_story_batches`,
//!   `story_trays`, `story_tray_items` (row-level security on `gym_id`); SQL in `repo.rs`,
//!   `feed_repo.rs`, `tray_repo.rs`,
//!   `interactions_repo.rs` and each part's own `repo.rs`.
//! - Events: `story.created`, `story.expired` (offered to integrators' webhooks); subscribes
//!   to its own `story.created` (new-story batches).
//! - Jobs: `stories.expire`, every minute ([`expiry`]): marks expired stories, publishes
//!   `story.expired`, releases the uploads of those in no highlight after
//!   `media_grace_hours`; safe on several instances at once. `stories.sticker_countdown_ended`,
//!   one per countdown or class countdown sticker, enqueued with its story to run when it
//!   ends ([`stickers::countdown`]): tells all its followers in one step, once; nothing when
//!   the story was deleted. `stories.open_new_story_batch` and `stories.announce_new_stories`
//!   ([`new_stories`]).
//! - Ports: dashboard figures for admins and owners (stories today, active stories, views and
//!   reactions today, top creators of the last 7 days).
//! - Problems: in `errors.rs` and `stickers/errors.rs`.
//! - Config: `[stories]` ([`settings::StoriesSettings`]): `default_lifetime_hours`,
//!   `max_lifetime_hours`, `media_grace_hours`, `feed_cache_seconds`, `new_story_batch_minutes`.

mod api;
mod errors;
mod expiry;
mod feed;
mod feed_cache;
mod feed_repo;
mod highlights;
mod insights;
mod interactions;
mod interactions_repo;
mod model;
mod moderation;
mod new_stories;
mod people;
mod repo;
mod service;
mod settings;
mod stickers;
mod tray_repo;
mod validate;
mod view_batch;
mod visibility;

pub use api::StoriesApi;
pub use highlights::HighlightsApi;
pub use insights::InsightsApi;
pub use moderation::ModerationApi;
pub use stickers::StickersApi;

use std::sync::Arc;

use kernel::http::document::FieldRule;
use kernel::jobs::{JobHandler, Schedule, Subscription};
use kernel::{AppContext, Build, Module, ModuleApi, ModuleCode, Port, PublicEvent, Settings};

pub struct Stories;

static FIGURES: insights::dashboard::StoryFigures = insights::dashboard::StoryFigures;

impl Module for Stories {
    fn code(&self) -> &'static str {
        Self::CODE
    }
    fn name(&self) -> &'static str {
        "Stories"
    }
    fn depends_on(&self) -> &'static [&'static str] {
        &["tenancy", "media"]
    }
    fn api_resources(&self) -> &'static [&'static str] {
        &["stories", "close-friends", "highlights"]
    }
    fn public_events(&self) -> &'static [PublicEvent] {
        &[
            PublicEvent {
                event_type: service::STORY_CREATED,
                description: "A member posted a story: `story_id`, `author_id`, `kind`, \
                    `privacy`, `expires_at`.",
            },
            PublicEvent {
                event_type: expiry::STORY_EXPIRED,
                description: "A story expired (published by the expiry job, within about a \
                    minute): `story_id`, `author_id`, `kind`, `expires_at`.",
            },
        ]
    }
    fn job_handlers(&self, ctx: &AppContext) -> Vec<Arc<dyn JobHandler>> {
        vec![
            Arc::new(expiry::Expire { ctx: ctx.clone() }),
            Arc::new(stickers::CountdownEnded { ctx: ctx.clone() }),
            Arc::new(new_stories::OpenBatch { ctx: ctx.clone() }),
            Arc::new(new_stories::Announce { ctx: ctx.clone() }),
        ]
    }
    fn schedules(&self) -> Vec<Schedule> {
        vec![expiry::schedule()]
    }
    fn subscriptions(&self) -> Vec<Subscription> {
        vec![Subscription {
            event_type: service::STORY_CREATED,
            job_kind: new_stories::OPEN_BATCH,
        }]
    }
    fn ports(&self) -> Vec<Port> {
        vec![Port::Dashboard(&FIGURES)]
    }
    fn check_settings(&self, settings: &Settings) -> Result<(), String> {
        let section: settings::StoriesSettings =
            settings.section("stories").map_err(|err| err.to_string())?;
        section.check()
    }
    fn field_rules(&self) -> &'static [FieldRule] {
        api::FIELD_RULES
    }
}

impl ModuleCode for Stories {
    const CODE: &'static str = "stories";
}

impl<B: Build> ModuleApi<B> for Stories {
    type Api = (
        (StoriesApi, StickersApi),
        (HighlightsApi, (InsightsApi, ModerationApi)),
    );
    fn api(&self, ctx: &AppContext) -> Self::Api {
        (
            (
                StoriesApi { ctx: ctx.clone() },
                StickersApi { ctx: ctx.clone() },
            ),
            (
                HighlightsApi { ctx: ctx.clone() },
                (
                    InsightsApi { ctx: ctx.clone() },
                    ModerationApi { ctx: ctx.clone() },
                ),
            ),
        )
    }
}
