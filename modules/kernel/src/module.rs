//! The module contract. Every feature crate exposes one [`Module`] value, which also
//! implements [`ModuleApi`] for its HTTP API; the binary lists the modules compiled into its
//! build, one line each ([`crate::modules!`]), and the [`Registry`] validates them at start-up.
//!
//! Modules meet only through the kernel: events, and the ports a module implements
//! ([`Port`]): tenants, accounts, attachments and dashboard figures.

use std::collections::HashMap;
use std::sync::Arc;

use crate::accounts::Accounts;
use crate::attachments::Attachments;
use crate::dashboard::DashboardContribution;
use crate::http::document::{ApiLink, FieldRule};
use crate::jobs::{JobHandler, PUBLIC_EVENTS, Schedule, Subscription};
use crate::routes::Routes;
use crate::tenant::TenantDirectory;
use crate::{AppContext, Build, Mode};

pub trait Module: Send + Sync + 'static {
    /// Stable code used in URLs, `gym_modules` rows and problems: `"stories"`.
    fn code(&self) -> &'static str;
    /// Human name for integrators and dashboards.
    fn name(&self) -> &'static str;
    /// Codes of modules that must be compiled in (and enabled) for this one to work.
    fn depends_on(&self) -> &'static [&'static str] {
        &[]
    }
    /// Products this module may be compiled into.
    fn modes(&self) -> &'static [Mode] {
        &Mode::ALL
    }
    /// Core modules are always on and cannot be switched off per tenant.
    fn is_core(&self) -> bool {
        false
    }
    /// Whether a new tenant (or one with no explicit choice) has the module on.
    fn enabled_by_default(&self, _mode: Mode) -> bool {
        true
    }
    /// Background job handlers, built once the shared context exists.
    fn job_handlers(&self, _ctx: &AppContext) -> Vec<Arc<dyn JobHandler>> {
        Vec::new()
    }
    /// Periodic jobs (each runs once per period across all instances).
    fn schedules(&self) -> Vec<Schedule> {
        Vec::new()
    }
    /// Domain events this module reacts to, and the job kind that handles each.
    fn subscriptions(&self) -> Vec<Subscription> {
        Vec::new()
    }
    /// Resources under `/api/v1/` whose routes integrators' API keys may be granted, each as
    /// `<resource>:read` (GET) and `<resource>:write` (everything else). Routes of resources
    /// no module lists here refuse API keys.
    fn api_resources(&self) -> &'static [&'static str] {
        &[]
    }
    /// Domain events of this module that integrators may receive by webhook, with what each
    /// means. Events not listed stay internal.
    fn public_events(&self) -> &'static [PublicEvent] {
        &[]
    }
    /// Checks the module's own configuration section at start-up (see
    /// [`crate::Settings::section`]); an error stops the process with its message.
    fn check_settings(&self, _settings: &crate::Settings) -> Result<(), String> {
        Ok(())
    }
    /// How the kernel treats this module's routes where that differs from the defaults (body
    /// limits, sign-in rate limits, idempotency exemptions, inbound webhooks), and routes served
    /// outside the API document. See [`crate::routes`].
    fn routes(&self, _ctx: &AppContext) -> Routes {
        Routes::new()
    }
    /// Kernel ports this module implements for the others.
    fn ports(&self) -> Vec<Port> {
        Vec::new()
    }
    /// Rules its handlers check on request fields that the document should state (patterns,
    /// this build's scopes, examples), by schema and property; see [`FieldRule`].
    fn field_rules(&self) -> &'static [FieldRule] {
        &[]
    }
    /// Links between operations the document cannot derive from its paths; see [`ApiLink`].
    fn links(&self) -> &'static [ApiLink] {
        &[]
    }
}

/// The HTTP API of a module in build `B`: the module's own composition of poem-openapi APIs
/// (a tuple, nested where it grows), so the binary needs one entry per module whatever the
/// module serves. A module whose API differs by build implements this once per build.
pub trait ModuleApi<B: Build>: Module {
    type Api: poem_openapi::OpenApi + 'static;
    fn api(&self, ctx: &AppContext) -> Self::Api;
}

/// A kernel port, implemented by one module and used by others without a crate dependency.
#[derive(Clone, Copy)]
pub enum Port {
    /// Tenants and memberships (exactly one module: tenancy).
    Tenants(&'static dyn TenantDirectory),
    /// User accounts and summaries (exactly one module: identity).
    Accounts(&'static dyn Accounts),
    /// Claiming uploads for records (at most one module: media).
    Attachments(&'static dyn Attachments),
    /// Figures for `GET /api/v1/dashboard`, shown while the module is on for the tenant.
    Dashboard(&'static dyn DashboardContribution),
}

/// The ports of a build, gathered from its modules.
#[derive(Clone, Default)]
pub struct Ports {
    pub tenants: Option<&'static dyn TenantDirectory>,
    pub accounts: Option<&'static dyn Accounts>,
    pub attachments: Option<&'static dyn Attachments>,
    /// With the code of the module that contributes them.
    pub dashboard: Vec<(&'static str, &'static dyn DashboardContribution)>,
}

impl Ports {
    fn gather(modules: &[&'static dyn Module]) -> Result<Self, RegistryError> {
        let mut ports = Ports::default();
        for module in modules {
            for port in module.ports() {
                let (slot_taken, name) = match port {
                    Port::Tenants(port) => (ports.tenants.replace(port).is_some(), "tenants"),
                    Port::Accounts(port) => (ports.accounts.replace(port).is_some(), "accounts"),
                    Port::Attachments(port) => {
                        (ports.attachments.replace(port).is_some(), "attachments")
                    }
                    Port::Dashboard(port) => {
                        ports.dashboard.push((module.code(), port));
                        (false, "dashboard")
                    }
                };
                if slot_taken {
                    return Err(RegistryError::PortTwice {
                        port: name,
                        module: module.code(),
                    });
                }
            }
        }
        Ok(ports)
    }
}

/// A domain event offered to integrators (see [`Module::public_events`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PublicEvent {
    pub event_type: &'static str,
    pub description: &'static str,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum RegistryError {
    #[error("module `{0}` is registered twice")]
    Duplicate(&'static str),
    #[error("module `{module}` needs `{missing}`, which is not compiled into this build")]
    MissingDependency {
        module: &'static str,
        missing: &'static str,
    },
    #[error("module `{module}` cannot run in the {mode} build")]
    WrongMode { module: &'static str, mode: Mode },
    #[error("core module `{module}` depends on non-core `{dependency}`")]
    CoreDependsOnOptional {
        module: &'static str,
        dependency: &'static str,
    },
    #[error("module `{module}` provides the {port} port, which another module provides already")]
    PortTwice {
        port: &'static str,
        module: &'static str,
    },
}

/// The modules compiled into this process, validated for the running mode.
pub struct Registry {
    mode: Mode,
    modules: Vec<&'static dyn Module>,
    index: HashMap<&'static str, usize>,
    api_scopes: Vec<String>,
    ports: Ports,
}

impl Registry {
    pub fn new(mode: Mode, modules: Vec<&'static dyn Module>) -> Result<Self, RegistryError> {
        let mut index = HashMap::new();
        for (position, module) in modules.iter().enumerate() {
            if index.insert(module.code(), position).is_some() {
                return Err(RegistryError::Duplicate(module.code()));
            }
            if !module.modes().contains(&mode) {
                return Err(RegistryError::WrongMode {
                    module: module.code(),
                    mode,
                });
            }
        }
        let mut api_scopes: Vec<String> = modules
            .iter()
            .flat_map(|module| module.api_resources())
            .flat_map(|resource| [format!("{resource}:read"), format!("{resource}:write")])
            .collect();
        api_scopes.sort();
        api_scopes.dedup();
        let ports = Ports::gather(&modules)?;
        let registry = Self {
            mode,
            modules,
            index,
            api_scopes,
            ports,
        };
        for module in &registry.modules {
            for dependency in module.depends_on() {
                let Some(found) = registry.get(dependency) else {
                    return Err(RegistryError::MissingDependency {
                        module: module.code(),
                        missing: dependency,
                    });
                };
                if module.is_core() && !found.is_core() {
                    return Err(RegistryError::CoreDependsOnOptional {
                        module: module.code(),
                        dependency: found.code(),
                    });
                }
            }
        }
        Ok(registry)
    }

    /// The ports the build's modules implement.
    pub fn ports(&self) -> &Ports {
        &self.ports
    }

    /// Every scope an API key of this build can hold, sorted: `members:read`, `members:write`, …
    pub fn api_scopes(&self) -> &[String] {
        &self.api_scopes
    }

    /// Events integrators may subscribe webhooks to, from every compiled module.
    pub fn public_events(&self) -> impl Iterator<Item = &'static PublicEvent> + '_ {
        self.iter().flat_map(|module| module.public_events())
    }

    /// Every module's event subscriptions, with [`PUBLIC_EVENTS`] expanded to one per public
    /// event.
    pub fn subscriptions(&self) -> Vec<Subscription> {
        let public: Vec<&'static str> =
            self.public_events().map(|event| event.event_type).collect();
        self.iter()
            .flat_map(|module| module.subscriptions())
            .flat_map(|subscription| {
                if subscription.event_type == PUBLIC_EVENTS {
                    public
                        .iter()
                        .map(|event_type| Subscription {
                            event_type,
                            job_kind: subscription.job_kind,
                        })
                        .collect()
                } else {
                    vec![subscription]
                }
            })
            .collect()
    }

    pub fn is_public_event(&self, event_type: &str) -> bool {
        self.public_events()
            .any(|event| event.event_type == event_type)
    }

    pub fn mode(&self) -> Mode {
        self.mode
    }

    pub fn get(&self, code: &str) -> Option<&'static dyn Module> {
        self.index.get(code).map(|&position| self.modules[position])
    }

    pub fn iter(&self) -> impl Iterator<Item = &'static dyn Module> + '_ {
        self.modules.iter().copied()
    }

    /// Whether `code` is on for a tenant, given the tenant's explicit choices.
    pub fn is_enabled(&self, code: &str, overrides: &HashMap<String, bool>) -> bool {
        match self.get(code) {
            None => false,
            Some(module) if module.is_core() => true,
            Some(module) => overrides
                .get(code)
                .copied()
                .unwrap_or_else(|| module.enabled_by_default(self.mode)),
        }
    }

    /// Modules that depend on `code` and are enabled under `overrides`.
    pub fn enabled_dependents(
        &self,
        code: &str,
        overrides: &HashMap<String, bool>,
    ) -> Vec<&'static str> {
        self.modules
            .iter()
            .filter(|module| module.depends_on().contains(&code))
            .filter(|module| self.is_enabled(module.code(), overrides))
            .map(|module| module.code())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Fake {
        code: &'static str,
        deps: &'static [&'static str],
        modes: &'static [Mode],
        core: bool,
    }

    impl Module for Fake {
        fn code(&self) -> &'static str {
            self.code
        }
        fn name(&self) -> &'static str {
            self.code
        }
        fn depends_on(&self) -> &'static [&'static str] {
            self.deps
        }
        fn modes(&self) -> &'static [Mode] {
            self.modes
        }
        fn is_core(&self) -> bool {
            self.core
        }
    }

    static CORE: Fake = Fake {
        code: "core",
        deps: &[],
        modes: &Mode::ALL,
        core: true,
    };
    static STORIES: Fake = Fake {
        code: "stories",
        deps: &["core"],
        modes: &Mode::ALL,
        core: false,
    };
    static ORPHAN: Fake = Fake {
        code: "orphan",
        deps: &["absent"],
        modes: &Mode::ALL,
        core: false,
    };
    static GYM_ONLY: Fake = Fake {
        code: "classes",
        deps: &[],
        modes: &[Mode::Gym],
        core: false,
    };
    static BAD_CORE: Fake = Fake {
        code: "bad",
        deps: &["stories"],
        modes: &Mode::ALL,
        core: true,
    };

    #[test]
    fn accepts_a_consistent_build() {
        let registry = Registry::new(Mode::Gym, vec![&CORE, &STORIES, &GYM_ONLY]);
        assert!(registry.is_ok());
    }

    #[test]
    fn refuses_inconsistent_builds() {
        let missing = Registry::new(Mode::Gym, vec![&CORE, &ORPHAN]).err();
        assert_eq!(
            missing,
            Some(RegistryError::MissingDependency {
                module: "orphan",
                missing: "absent"
            })
        );
        let duplicate = Registry::new(Mode::Gym, vec![&CORE, &CORE]).err();
        assert_eq!(duplicate, Some(RegistryError::Duplicate("core")));
        let wrong_mode = Registry::new(Mode::Trainer, vec![&CORE, &GYM_ONLY]).err();
        assert_eq!(
            wrong_mode,
            Some(RegistryError::WrongMode {
                module: "classes",
                mode: Mode::Trainer
            })
        );
        let core_on_optional = Registry::new(Mode::Gym, vec![&CORE, &STORIES, &BAD_CORE]).err();
        assert!(matches!(
            core_on_optional,
            Some(RegistryError::CoreDependsOnOptional { .. })
        ));
    }

    #[test]
    fn enablement_follows_overrides_then_defaults() -> Result<(), RegistryError> {
        let registry = Registry::new(Mode::Gym, vec![&CORE, &STORIES])?;
        let mut overrides = HashMap::new();
        assert!(registry.is_enabled("stories", &overrides));
        overrides.insert("stories".to_string(), false);
        overrides.insert("core".to_string(), false);
        assert!(!registry.is_enabled("stories", &overrides));
        assert!(
            registry.is_enabled("core", &overrides),
            "core modules ignore overrides"
        );
        assert!(!registry.is_enabled("unknown", &overrides));
        Ok(())
    }
}

#[cfg(test)]
mod catalog_tests {
    use super::*;

    struct Publisher;
    impl Module for Publisher {
        fn code(&self) -> &'static str {
            "publisher"
        }
        fn name(&self) -> &'static str {
            "Publisher"
        }
        fn api_resources(&self) -> &'static [&'static str] {
            &["things"]
        }
        fn public_events(&self) -> &'static [PublicEvent] {
            &[
                PublicEvent {
                    event_type: "thing_made",
                    description: "",
                },
                PublicEvent {
                    event_type: "thing_gone",
                    description: "",
                },
            ]
        }
    }

    struct Listener;
    impl Module for Listener {
        fn code(&self) -> &'static str {
            "listener"
        }
        fn name(&self) -> &'static str {
            "Listener"
        }
        fn subscriptions(&self) -> Vec<Subscription> {
            vec![
                Subscription {
                    event_type: PUBLIC_EVENTS,
                    job_kind: "listener.all",
                },
                Subscription {
                    event_type: "internal_tick",
                    job_kind: "listener.tick",
                },
            ]
        }
    }

    #[test]
    fn public_event_subscriptions_expand_to_the_catalog() {
        let registry = Registry::new(Mode::Gym, vec![&Publisher, &Listener]).unwrap();
        let pairs: Vec<(&str, &str)> = registry
            .subscriptions()
            .iter()
            .map(|s| (s.event_type, s.job_kind))
            .collect();
        assert_eq!(
            pairs,
            [
                ("thing_made", "listener.all"),
                ("thing_gone", "listener.all"),
                ("internal_tick", "listener.tick"),
            ]
        );
        assert_eq!(registry.api_scopes(), ["things:read", "things:write"]);
    }
}
