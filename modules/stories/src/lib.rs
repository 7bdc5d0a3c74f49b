//! Stories: 24-hour posts of a tenant's people (images, videos, text, workouts, achievements).
//! Compiled in with the `stories` feature (the gym build turns it on; the trainer build takes
//! it with `--features trainer,stories`); on by default for a tenant, switched off like any
//! optional module.
//!
//! - Config: `[stories]` ([`settings::StoriesSettings`]): `default_lifetime_hours`,
//!   `max_lifetime_hours`.

mod settings;

use kernel::{AppContext, Build, Module, ModuleApi, ModuleCode, Settings};

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
    fn check_settings(&self, settings: &Settings) -> Result<(), String> {
        let section: settings::StoriesSettings =
            settings.section("stories").map_err(|err| err.to_string())?;
        section.check()
    }
}

impl ModuleCode for Stories {
    const CODE: &'static str = "stories";
}

impl<B: Build> ModuleApi<B> for Stories {
    type Api = ();
    fn api(&self, _ctx: &AppContext) {}
}
