//! The one place that says which modules each build compiles in, and how their APIs compose.

#[cfg(all(feature = "gym", feature = "trainer"))]
compile_error!("features `gym` and `trainer` are exclusive: build with one of them");
#[cfg(not(any(feature = "gym", feature = "trainer")))]
compile_error!(
    "choose a build: `--features gym` (default) or `--no-default-features --features trainer`"
);

use kernel::Mode;

/// The product this binary is.
#[cfg(feature = "gym")]
pub type Build = kernel::GymBuild;
#[cfg(feature = "trainer")]
pub type Build = kernel::TrainerBuild;
pub const BUILD: Mode = <Build as kernel::Build>::MODE;

/// The build's configuration file, embedded so the binary starts from any directory.
#[cfg(feature = "gym")]
pub const BUILD_CONFIG: &str = include_str!("../config/gym.toml");
#[cfg(feature = "trainer")]
pub const BUILD_CONFIG: &str = include_str!("../config/trainer.toml");
pub const DEFAULT_CONFIG: &str = include_str!("../config/default.toml");

/// This build's committed API document, `openapi/<SPEC_NAME>.yaml`: one per product, and one
/// for the trainer build that also sells stories (`--features trainer,stories`).
#[cfg(feature = "gym")]
pub const SPEC_NAME: &str = "gym";
#[cfg(all(feature = "trainer", not(feature = "stories")))]
pub const SPEC_NAME: &str = "trainer";
#[cfg(all(feature = "trainer", feature = "stories"))]
pub const SPEC_NAME: &str = "trainer-stories";
/// The cargo flags that build it, for messages that say how to regenerate it.
#[cfg(feature = "gym")]
pub const SPEC_BUILD_FLAGS: &str = "";
#[cfg(all(feature = "trainer", not(feature = "stories")))]
pub const SPEC_BUILD_FLAGS: &str = "--no-default-features --features trainer";
#[cfg(all(feature = "trainer", feature = "stories"))]
pub const SPEC_BUILD_FLAGS: &str = "--no-default-features --features trainer,stories";

// The modules of this build, dependencies first: one line each. A module compiled in only
// with a feature carries `#[cfg(feature = "...")]` before its line.
kernel::modules! {
    build = Build;
    identity::Identity,
    tenancy::Tenancy,
    tenancy::Dashboard,
    notifications::Notifications,
    webhooks::Webhooks,
    media::Media,
    #[cfg(feature = "payments")]
    payments::Payments,
    #[cfg(feature = "stories")]
    stories::Stories,
}
