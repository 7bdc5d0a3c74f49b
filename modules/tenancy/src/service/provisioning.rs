//! Creating tenants (a gym, or a trainer's workspace at sign-up) and converting a gym into a
//! trainer workspace.

use kernel::{
    ApiError, ApiResult, AppContext, Cache, FieldError, Mode, Registry, Role, TenantKind, db,
};
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use super::validate;
use crate::directory;
use crate::repo::{self, GymRow, NewGym, Person};

/// A validated tenant to create.
pub struct TenantSpec {
    pub kind: TenantKind,
    pub name: String,
    pub timezone: String,
    pub currency: String,
}

impl TenantSpec {
    /// Validates the fields, collecting every problem; `name_field` is the body's field name.
    pub fn check(
        kind: TenantKind,
        name_field: &str,
        name: &str,
        timezone: &str,
        currency: &str,
    ) -> Result<Self, Vec<FieldError>> {
        let mut errors = Vec::new();
        let name = validate::name(name_field, name, &mut errors);
        let timezone = validate::timezone(timezone, &mut errors);
        let currency = validate::currency(currency, &mut errors);
        if errors.is_empty() {
            Ok(Self {
                kind,
                name,
                timezone,
                currency,
            })
        } else {
            Err(errors)
        }
    }
}

/// Inserts the tenant, its owner and its module switches. `conn` must be a transaction scoped
/// (by [`db::begin_tenant`]) to `gym_id`, so the rows pass row-level security; it may hold the
/// owner's account, created a moment before (the trainer sign-up).
pub async fn create_tenant(
    ctx: &AppContext,
    conn: &mut PgConnection,
    gym_id: Uuid,
    spec: &TenantSpec,
    owner: Uuid,
) -> ApiResult<GymRow> {
    let registry = &ctx.registry;
    let gym = repo::insert_gym(
        &mut *conn,
        &NewGym {
            id: gym_id,
            kind: spec.kind,
            name: &spec.name,
            timezone: &spec.timezone,
            currency: &spec.currency,
        },
    )
    .await?;
    let people = ctx.accounts.summaries(&mut *conn, &[owner]).await?;
    let person = people
        .get(&owner)
        .ok_or_else(|| ApiError::invalid_token("invalid_token", "the account no longer exists"))?;
    repo::insert_member(
        &mut *conn,
        gym_id,
        owner,
        Role::Owner,
        &Person {
            first_name: &person.first_name,
            last_name: &person.last_name,
            email: &person.email,
        },
    )
    .await?;
    // Pin each optional module's current default, so a later change of defaults never flips
    // existing tenants' features.
    for module in registry.iter().filter(|module| !module.is_core()) {
        repo::set_module(
            &mut *conn,
            gym_id,
            module.code(),
            module.enabled_by_default(registry.mode()),
            Some(owner),
        )
        .await?;
    }
    Ok(gym)
}

#[derive(Debug)]
pub struct ConversionReport {
    pub gym_id: Uuid,
    pub name: String,
    pub kind_changed: bool,
    pub modules_disabled: Vec<&'static str>,
    pub members_kept: usize,
}

impl std::fmt::Display for ConversionReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.kind_changed {
            writeln!(
                f,
                "gym {} ({}) is now a personal_trainer workspace",
                self.gym_id, self.name
            )?;
        } else {
            writeln!(
                f,
                "gym {} ({}) was already a personal_trainer workspace",
                self.gym_id, self.name
            )?;
        }
        if self.modules_disabled.is_empty() {
            writeln!(f, "no gym-only modules to switch off")?;
        } else {
            writeln!(
                f,
                "switched off gym-only modules: {}",
                self.modules_disabled.join(", ")
            )?;
        }
        write!(
            f,
            "kept all data: {} members, no rows deleted",
            self.members_kept
        )
    }
}

/// Turns a gym into a trainer workspace: the kind changes, modules that cannot run in the
/// trainer build are switched off, nothing is deleted.
pub async fn convert_to_trainer(
    pool: &PgPool,
    cache: &Cache,
    registry: &Registry,
    gym_id: Uuid,
) -> ApiResult<ConversionReport> {
    let mut tx = db::begin_tenant(pool, gym_id).await?;
    let gym = repo::find_gym(&mut *tx, gym_id)
        .await?
        .ok_or_else(|| ApiError::not_found("no gym with this id"))?;
    let kind_changed = gym.kind != TenantKind::PersonalTrainer;
    if kind_changed {
        repo::set_kind(&mut *tx, gym_id, TenantKind::PersonalTrainer).await?;
    }
    let mut modules_disabled = Vec::new();
    let overrides = repo::module_overrides(&mut tx, gym_id).await?;
    for module in registry
        .iter()
        .filter(|module| !module.modes().contains(&Mode::Trainer))
    {
        if registry.is_enabled(module.code(), &overrides) {
            repo::set_module(&mut tx, gym_id, module.code(), false, None).await?;
            modules_disabled.push(module.code());
        }
    }
    let members = repo::member_ids(&mut tx, gym_id).await?;
    tx.commit().await?;
    directory::invalidate_tenant(cache, gym_id).await;
    for user_id in &members {
        directory::invalidate_member(cache, gym_id, *user_id).await;
    }
    Ok(ConversionReport {
        gym_id,
        name: gym.name,
        kind_changed,
        modules_disabled,
        members_kept: members.len(),
    })
}
