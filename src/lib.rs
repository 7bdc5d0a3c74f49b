//! GymAPI: one codebase, two products. The `gym` feature builds the gym product, `trainer`
//! the personal-trainer product; [`modules`] lists what each compiles in.

pub mod cli;
mod meta;
pub mod modules;
pub mod startup;

pub use startup::{Application, MIGRATOR};

/// Settings for this build: embedded defaults, the build's file, `GYMAPI_CONFIG`, `GYMAPI_*`.
pub fn settings_figment() -> figment::Figment {
    kernel::Settings::figment(modules::DEFAULT_CONFIG, modules::BUILD_CONFIG)
}

pub fn load_settings() -> Result<kernel::Settings, kernel::config::ConfigError> {
    kernel::Settings::from_figment(settings_figment(), modules::BUILD, modules::DEFAULT_CONFIG)
}
