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
//!   an expired story takes neither (410 `story_expired`). API keys: `stories:*`,
//!   `close-friends:*`.
//! - Stickers ([`stickers`]): up to 10 per story, posted with it (`stickers`) and shown in
//!   every read of stories with the reader's response and the results they may see;
//!   `POST /api/v1/stories/{id}/stickers/{sticker_id}/responses` (poll vote, quiz answer,
//!   slider rating and countdown follow once per person, question answers for the author),
//!   `GET /api/v1/stories/{id}/stickers/{sticker_id}/results`.
//! - Notifications: replies and first reactions tell the author, mention stickers the
//!   mentioned member (`story.mention`, when the story's privacy lets them see it), and a
//!   countdown's end its followers (`story.countdown`, `story.class_countdown`), through the
//!   kernel's `notification_requested` event.
//! - Who sees what: one SQL predicate, [`visibility::visible`], in every read of stories.
//! - Media: image and video stories claim the author's own uploads through the kernel's
//!   attachments port (holders `story:<id>`, `story-thumbnail:<id>`) and release them when
//!   deleted.
//! - Tables: `stories`, `story_follows`, `story_close_friends`, `story_views`,
//!   `story_reactions`, `story_replies`, `story_stickers`, `story_sticker_responses`
//!   (row-level security on `gym_id`); the SQL in `repo.rs`, `feed_repo.rs`,
//!   `interactions_repo.rs` and `stickers/repo.rs`.
//! - Events: `story.created`, `story.expired` (offered to integrators' webhooks).
//! - Jobs: `stories.expire`, every minute ([`expiry`]): marks expired stories, publishes
//!   `story.expired`, releases their uploads after `media_grace_hours`; safe on several
//!   instances at once. `stories.sticker_countdown_ended`, one per countdown or class
//!   countdown sticker, enqueued with its story to run when it ends
//!   ([`stickers::countdown`]): tells all its followers in one step, once; nothing when the
//!   story was deleted.
//! - Problems: in `errors.rs` and `stickers/errors.rs`.
//! - Config: `[stories]` ([`settings::StoriesSettings`]): `default_lifetime_hours`,
//!   `max_lifetime_hours`, `media_grace_hours`.

mod api;
mod errors;
mod expiry;
mod feed;
mod feed_cache;
mod feed_repo;
mod interactions;
mod interactions_repo;
mod model;
mod people;
mod repo;
mod service;
mod settings;
mod stickers;
mod validate;
mod visibility;

pub use api::StoriesApi;
pub use stickers::StickersApi;

use std::sync::Arc;

use kernel::http::document::FieldRule;
use kernel::jobs::{JobHandler, Schedule};
use kernel::{AppContext, Build, Module, ModuleApi, ModuleCode, PublicEvent, Settings};

pub struct Stories;

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
        &["stories", "close-friends"]
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
        ]
    }
    fn schedules(&self) -> Vec<Schedule> {
        vec![expiry::schedule()]
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
    type Api = (StoriesApi, StickersApi);
    fn api(&self, ctx: &AppContext) -> Self::Api {
        (
            StoriesApi { ctx: ctx.clone() },
            StickersApi { ctx: ctx.clone() },
        )
    }
}
