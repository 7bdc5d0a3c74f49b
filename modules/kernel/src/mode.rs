use serde::{Deserialize, Serialize};

/// Which product this process serves. Module crates compile once and receive the mode at
/// registration; only the binary crate is built per product.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, poem_openapi::Enum)]
#[serde(rename_all = "snake_case")]
#[oai(rename_all = "snake_case")]
pub enum Mode {
    Gym,
    Trainer,
}

impl Mode {
    pub const ALL: [Mode; 2] = [Mode::Gym, Mode::Trainer];

    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Gym => "gym",
            Mode::Trainer => "trainer",
        }
    }

    /// What a tenant is called in this product's messages: "gym" or "workspace".
    pub fn tenant_noun(self) -> &'static str {
        match self {
            Mode::Gym => "gym",
            Mode::Trainer => "workspace",
        }
    }
}

impl std::fmt::Display for Mode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A product build as a type, so that a module's API may differ per build while each build's
/// OpenAPI document stays static: the binary names its build once (`type Build = GymBuild`)
/// and every [`crate::ModuleApi`] is asked for that build's API.
pub trait Build: Send + Sync + 'static {
    const MODE: Mode;
}

/// The gym product.
pub struct GymBuild;
impl Build for GymBuild {
    const MODE: Mode = Mode::Gym;
}

/// The personal-trainer product.
pub struct TrainerBuild;
impl Build for TrainerBuild {
    const MODE: Mode = Mode::Trainer;
}
