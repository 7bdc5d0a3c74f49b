//! The problem codes this module answers with, each declared once.

/// `X-Gym-ID` names a tenant the caller does not belong to (403).
pub const NOT_A_MEMBER: &str = "not_a_member";
/// Trainer build: the caller belongs to several workspaces and named none (400).
pub const TENANT_AMBIGUOUS: &str = "tenant_ambiguous";
/// The role is too low for this (403).
pub const INSUFFICIENT_ROLE: &str = "insufficient_role";
/// The person is a member of the tenant already (409).
pub const ALREADY_MEMBER: &str = "already_member";
/// The change would leave the tenant without an owner (409).
pub const LAST_OWNER: &str = "last_owner";
/// No module with this code is compiled into the build (404).
pub const UNKNOWN_MODULE: &str = "unknown_module";
/// A core module, or one other enabled modules need, cannot be switched off (409).
pub const MODULE_REQUIRED: &str = "module_required";
/// A module cannot be switched on while a module it needs is off (409).
pub const DEPENDENCY_DISABLED: &str = "dependency_disabled";
