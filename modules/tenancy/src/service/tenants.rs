//! Gyms and workspaces: creation, reading, settings, and the dashboard figures.

use chrono::Utc;
use kernel::dashboard::DashboardPeriod;
use kernel::pagination::{Page, PageRequest};
use kernel::{
    ApiError, ApiResult, AppContext, FieldError, Role, TenantInfo, TenantKind, TokenPair, db,
    events,
};
use uuid::Uuid;

use super::provisioning::{self, TenantSpec};
use super::validate;
use crate::repo::{self, GymRow, MyGymRow};
use crate::{directory, errors};

/// Partial update of a tenant's settings.
pub struct TenantChange<'a> {
    pub name: Option<&'a str>,
    pub timezone: Option<&'a str>,
    pub currency: Option<&'a str>,
}

pub async fn create_gym(ctx: &AppContext, owner: Uuid, spec: TenantSpec) -> ApiResult<GymRow> {
    let gym_id = Uuid::now_v7();
    let mut tx = db::begin_tenant(&ctx.db, gym_id).await?;
    let gym = provisioning::create_tenant(ctx, &mut tx, gym_id, &spec, owner).await?;
    events::record(
        &mut tx,
        Some(gym_id),
        "gym_created",
        serde_json::json!({ "gym_id": gym_id, "owner_user_id": owner, "currency": gym.currency }),
    )
    .await?;
    tx.commit().await?;
    Ok(gym)
}

pub async fn my_gyms(
    ctx: &AppContext,
    user_id: Uuid,
    page: &PageRequest,
) -> ApiResult<Page<MyGymRow>> {
    let after: Option<Uuid> = page.after()?;
    let mut tx = db::read_user(&ctx.db, user_id).await?;
    let rows = repo::my_gyms(&mut tx, user_id, after, page.fetch_limit()).await?;
    Ok(page.finish(rows, |row| row.gym.id))
}

/// The gym and the caller's role in it; 404 when the caller is not a member (whether or not
/// the gym exists).
pub async fn gym_for_member(
    ctx: &AppContext,
    user_id: Uuid,
    gym_id: Uuid,
) -> ApiResult<(GymRow, Role)> {
    let access = match ctx.tenants.resolve(ctx, user_id, Some(gym_id)).await {
        Ok(Some(access)) => access,
        Ok(None) => return Err(ApiError::not_found("no such gym")),
        Err(err) if err.code() == errors::NOT_A_MEMBER => {
            return Err(ApiError::not_found("no such gym"));
        }
        Err(err) => return Err(err),
    };
    // The tenant's row is cached with its info (every request of the tenant needs its kind,
    // time zone and currency, and writes drop the copy): no second read of `gyms`.
    let info = ctx.tenants.tenant(ctx, gym_id).await?;
    let gym = GymRow {
        id: info.gym_id,
        kind: info.kind,
        name: info.name,
        timezone: info.timezone.name().to_owned(),
        currency: info.currency.code().to_owned(),
        created_at: info.created_at,
        updated_at: info.updated_at,
    };
    Ok((gym, access.role))
}

pub async fn update(
    ctx: &AppContext,
    gym_id: Uuid,
    role: Role,
    change: TenantChange<'_>,
) -> ApiResult<GymRow> {
    if role < Role::Admin {
        return Err(ApiError::forbidden(
            errors::INSUFFICIENT_ROLE,
            "only owners and admins change the settings",
        ));
    }
    let mut errors: Vec<FieldError> = Vec::new();
    let name = change
        .name
        .map(|name| validate::name("name", name, &mut errors));
    let timezone = change
        .timezone
        .map(|tz| validate::timezone(tz, &mut errors));
    let currency = change
        .currency
        .map(|code| validate::currency(code, &mut errors));
    if !errors.is_empty() {
        return Err(ApiError::validation(errors));
    }
    let gym = repo::update_gym(
        &ctx.db,
        gym_id,
        name.as_deref(),
        timezone.as_deref(),
        currency.as_deref(),
    )
    .await?
    .ok_or_else(|| ApiError::not_found("no such tenant"))?;
    directory::invalidate_tenant(&ctx.cache, gym_id).await;
    Ok(gym)
}

pub struct TrainerSignUp<'a> {
    pub email: &'a str,
    pub password: &'a str,
    pub first_name: &'a str,
    pub last_name: &'a str,
    pub workspace_name: Option<&'a str>,
    pub timezone: &'a str,
    pub currency: &'a str,
}

pub struct TrainerRegistration {
    pub user_id: Uuid,
    pub email: String,
    pub tokens: TokenPair,
    pub workspace: GymRow,
}

/// The trainer sign-up: user, workspace, owner membership, module switches and the
/// `workspace_created` event commit together or not at all. Nothing outside the database is
/// called here; the payments module reacts to the event later.
pub async fn register_trainer(
    ctx: &AppContext,
    input: TrainerSignUp<'_>,
) -> ApiResult<TrainerRegistration> {
    let default_name = format!("{} {}", input.first_name.trim(), input.last_name.trim());
    let name = input.workspace_name.unwrap_or(&default_name);
    let spec = TenantSpec::check(
        TenantKind::PersonalTrainer,
        "workspace_name",
        name,
        input.timezone,
        input.currency,
    );
    let account = ctx
        .accounts
        .prepare(
            input.email,
            input.password,
            input.first_name,
            input.last_name,
        )
        .await;
    let (spec, account) = match (spec, account) {
        (Ok(spec), Ok(account)) => (spec, account),
        (spec, account) => {
            // Report every field problem at once, from both halves.
            let mut errors = spec.err().unwrap_or_default();
            match account {
                Err(err) if err.code() == "validation_failed" => {
                    errors.extend(err.problem().errors)
                }
                Err(err) => return Err(err),
                Ok(_) => {}
            }
            return Err(ApiError::validation(errors));
        }
    };
    let email = account.email.clone();
    let gym_id = Uuid::now_v7();
    let mut tx = db::begin_tenant(&ctx.db, gym_id).await?;
    let user_id = ctx.accounts.create(&mut tx, account).await?;
    let workspace = provisioning::create_tenant(ctx, &mut tx, gym_id, &spec, user_id).await?;
    events::record(
        &mut tx,
        Some(gym_id),
        "workspace_created",
        serde_json::json!({
            "gym_id": gym_id,
            "owner_user_id": user_id,
            "email": email,
            "currency": workspace.currency,
        }),
    )
    .await?;
    let tokens = ctx.accounts.start_session(ctx, &mut tx, user_id).await?;
    tx.commit().await?;
    Ok(TrainerRegistration {
        user_id,
        email,
        tokens,
        workspace,
    })
}

/// The tenant's members by role, with this month's newcomers, for the dashboard and the
/// workspace view.
pub struct Figures {
    pub gym: GymRow,
    pub by_role: Vec<(Role, i64, i64)>,
    pub period: DashboardPeriod,
}

pub async fn figures(ctx: &AppContext, tenant: &TenantInfo) -> ApiResult<Figures> {
    let period = DashboardPeriod::in_timezone(tenant.timezone, Utc::now());
    let mut tx = db::read_tenant(&ctx.db, tenant.gym_id).await?;
    let gym = repo::find_gym(&mut *tx, tenant.gym_id)
        .await?
        .ok_or_else(|| ApiError::not_found("no such tenant"))?;
    let by_role = repo::member_figures(&mut tx, tenant.gym_id, period.month_start).await?;
    Ok(Figures {
        gym,
        by_role,
        period,
    })
}
