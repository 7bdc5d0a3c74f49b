//! The `[stories]` configuration section. Its defaults are written once, in
//! `config/default.toml`.

use kernel::Settings;
use serde::Deserialize;

/// How long stories live.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StoriesSettings {
    /// A story's lifetime when its request names none.
    pub default_lifetime_hours: u32,
    /// The longest lifetime a request may ask for (and the default may be).
    pub max_lifetime_hours: u32,
    /// How long after a story expires the expiry job releases its uploads (media's sweep then
    /// deletes them).
    pub media_grace_hours: u32,
    /// How long the order of a person's feed is kept ([`crate::feed_cache`]); 0 computes it
    /// for every request.
    pub feed_cache_seconds: u32,
    /// Followers hear of an author's new stories at most once per this many minutes: one
    /// "new stories from ..." notification for everything posted in the window.
    pub new_story_batch_minutes: u32,
}

impl StoriesSettings {
    /// The section of `settings`; start-up refuses settings whose `[stories]` does not read
    /// ([`kernel::Module::check_settings`]), so every context holds a readable one.
    /// Parsed once per settings instance: the feed reads it on every request.
    pub fn of(settings: &Settings) -> std::sync::Arc<Self> {
        settings
            .parsed_section("stories")
            .unwrap_or_else(|err| unreachable!("[stories] is checked at start-up: {err}"))
    }

    pub fn check(&self) -> Result<(), String> {
        if self.max_lifetime_hours == 0 || self.max_lifetime_hours > 24 * 30 {
            return Err("stories.max_lifetime_hours must be from 1 to 720".into());
        }
        if self.default_lifetime_hours == 0 || self.default_lifetime_hours > self.max_lifetime_hours
        {
            return Err(
                "stories.default_lifetime_hours must be from 1 to stories.max_lifetime_hours"
                    .into(),
            );
        }
        if self.feed_cache_seconds > 3600 {
            return Err("stories.feed_cache_seconds must be from 0 to 3600".into());
        }
        if self.new_story_batch_minutes == 0 || self.new_story_batch_minutes > 24 * 60 {
            return Err("stories.new_story_batch_minutes must be from 1 to 1440".into());
        }
        Ok(())
    }
}
