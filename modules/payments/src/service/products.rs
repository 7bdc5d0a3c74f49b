//! Products: who sees and changes them, what a valid one is, and the default packages of a
//! new tenant.

use kernel::money;
use kernel::pagination::{Page, PageRequest};
use kernel::{ApiError, ApiResult, AppContext, FieldError, Role, Tenant, db};
use poem::http::StatusCode;
use uuid::Uuid;

use crate::errors;
use crate::repo::products::{self as repo, Interval, ProductFields, ProductKind, ProductRow};

/// Highest price, in minor units (a billion in a two-decimal currency).
pub const MAX_PRICE_MINOR: i64 = 100_000_000_000;
pub const MAX_NAME_CHARS: usize = 120;

/// A product as a request describes it; absent fields keep the product's (on creation:
/// the defaults below).
#[derive(Default)]
pub struct ProductInput<'a> {
    pub name: Option<&'a str>,
    pub price_minor: Option<i64>,
    pub currency: Option<&'a str>,
    pub credits: Option<i64>,
    pub interval: Option<Interval>,
    pub interval_count: Option<i32>,
    pub active: Option<bool>,
}

fn no_product() -> ApiError {
    ApiError::not_found("no product with this id in this tenant")
}

/// The tenant's products: staff (trainer and up) see archived ones too.
pub async fn list<M>(
    ctx: &AppContext,
    tenant: &Tenant<M>,
    page: &PageRequest,
) -> ApiResult<Page<ProductRow>> {
    let after: Option<Uuid> = page.after()?;
    let active_only = tenant.role < Role::Trainer;
    let mut tx = tenant.read(&ctx.db).await?;
    let rows = repo::page(
        &mut tx,
        tenant.gym_id,
        active_only,
        after,
        page.fetch_limit(),
    )
    .await?;
    Ok(page.finish(rows, |row| row.id))
}

pub async fn create<M>(
    ctx: &AppContext,
    tenant: &Tenant<M>,
    kind: ProductKind,
    input: ProductInput<'_>,
) -> ApiResult<ProductRow> {
    tenant.require(Role::Admin)?;
    let (name, currency) = checked(tenant, kind, &input)?;
    let fields = ProductFields {
        kind,
        name: &name,
        price_minor: input.price_minor.unwrap_or_default(),
        currency: &currency,
        credits: input.credits,
        interval_unit: input.interval,
        interval_count: input.interval.map(|_| input.interval_count.unwrap_or(1)),
        active: input.active.unwrap_or(true),
    };
    let mut tx = tenant.begin(&ctx.db).await?;
    let row = repo::insert(&mut tx, tenant.gym_id, Uuid::now_v7(), &fields).await?;
    tx.commit().await?;
    Ok(row)
}

/// Changes what the request names; the kind stays.
pub async fn update<M>(
    ctx: &AppContext,
    tenant: &Tenant<M>,
    id: Uuid,
    input: ProductInput<'_>,
) -> ApiResult<ProductRow> {
    tenant.require(Role::Admin)?;
    let mut tx = tenant.begin(&ctx.db).await?;
    let current = repo::get(&mut tx, tenant.gym_id, id)
        .await?
        .ok_or_else(no_product)?;
    let merged = ProductInput {
        name: input.name.or(Some(&current.name)),
        price_minor: input.price_minor.or(Some(current.price_minor)),
        currency: input.currency.or(Some(&current.currency)),
        credits: input.credits.or(current.credits),
        interval: input.interval.or(current.interval_unit),
        interval_count: input.interval_count.or(current.interval_count),
        active: input.active.or(Some(current.active)),
    };
    let (name, currency) = checked(tenant, current.kind, &merged)?;
    let fields = ProductFields {
        kind: current.kind,
        name: &name,
        price_minor: merged.price_minor.unwrap_or(current.price_minor),
        currency: &currency,
        credits: merged.credits,
        interval_unit: merged.interval,
        interval_count: merged.interval.map(|_| merged.interval_count.unwrap_or(1)),
        active: merged.active.unwrap_or(current.active),
    };
    let row = repo::update(&mut tx, tenant.gym_id, id, &fields).await?;
    tx.commit().await?;
    Ok(row)
}

/// The tenant's product `id` (404 when it has none), for a payment of it.
pub async fn get(conn: &mut sqlx::PgConnection, gym_id: Uuid, id: Uuid) -> ApiResult<ProductRow> {
    repo::get(conn, gym_id, id).await?.ok_or_else(no_product)
}

/// A complete product is valid for the tenant: its trimmed name and currency code, or every
/// field problem at once (and a 422 `currency_mismatch` for another currency).
fn checked<M>(
    tenant: &Tenant<M>,
    kind: ProductKind,
    input: &ProductInput<'_>,
) -> ApiResult<(String, String)> {
    let mut errors = Vec::new();
    let name = kernel::error::trimmed_name(
        "name",
        input.name.unwrap_or_default(),
        MAX_NAME_CHARS,
        &mut errors,
    );
    match input.price_minor {
        Some(price) if (1..=MAX_PRICE_MINOR).contains(&price) => {}
        _ => errors.push(FieldError::new(
            "price_minor",
            format!("must be from 1 to {MAX_PRICE_MINOR} minor units"),
        )),
    }
    match kind {
        ProductKind::CreditPackage => {
            if !input
                .credits
                .is_some_and(|c| (1..=crate::service::credits::MAX_AMOUNT).contains(&c))
            {
                errors.push(FieldError::new(
                    "credits",
                    "a credit package grants 1 to 1000000 credits",
                ));
            }
            if input.interval.is_some() || input.interval_count.is_some() {
                errors.push(FieldError::new(
                    "interval",
                    "only membership plans have an interval",
                ));
            }
        }
        ProductKind::Plan => {
            if input.credits.is_some() {
                errors.push(FieldError::new(
                    "credits",
                    "only credit packages grant credits",
                ));
            }
            if input.interval.is_none() {
                errors.push(FieldError::new(
                    "interval",
                    "a plan renews every month or year",
                ));
            }
            if input.interval_count.is_some_and(|n| !(1..=36).contains(&n)) {
                errors.push(FieldError::new("interval_count", "must be from 1 to 36"));
            }
        }
    }
    let currency = in_tenant_currency(tenant, input.currency, &mut errors)?;
    if !errors.is_empty() {
        return Err(ApiError::validation(errors));
    }
    Ok((name, currency))
}

/// The tenant's currency code when `requested` is absent or names it; a field error for a
/// code that is no currency, and 422 `currency_mismatch` for another currency.
pub(crate) fn in_tenant_currency<M>(
    tenant: &Tenant<M>,
    requested: Option<&str>,
    errors: &mut Vec<FieldError>,
) -> ApiResult<String> {
    let own = tenant.info.currency;
    let Some(requested) = requested else {
        return Ok(own.code().to_string());
    };
    match money::currency(requested) {
        Ok(currency) if currency == own => Ok(own.code().to_string()),
        Ok(other) => Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            errors::CURRENCY_MISMATCH,
            format!("this tenant prices in {}, not {}", own.code(), other.code()),
        )
        .with_errors(vec![FieldError::new(
            "currency",
            format!("must be {}", own.code()),
        )])),
        Err(err) => {
            errors.push(FieldError::new("currency", err.to_string()));
            Ok(own.code().to_string())
        }
    }
}

/// Gives a new tenant the default credit packages, priced in its currency (idempotent).
pub async fn seed_defaults(ctx: &AppContext, gym_id: Uuid) -> anyhow::Result<i32> {
    let info = match ctx.tenants.tenant(ctx, gym_id).await {
        Ok(info) => info,
        // Deleted before the job ran: nothing to give products to.
        Err(err) if err.status() == StatusCode::NOT_FOUND => return Ok(0),
        Err(err) => return Err(err.into()),
    };
    let scale = 10i64.pow(money::exponent(info.currency)?);
    let mut tx = db::begin_tenant(&ctx.db, gym_id).await?;
    let added = repo::seed_defaults(&mut tx, gym_id, info.currency.code(), scale).await?;
    tx.commit().await?;
    Ok(added)
}
