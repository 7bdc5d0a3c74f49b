//! The media module's figures on the tenant dashboard: this month's uploads and the storage
//! the tenant uses.

use kernel::dashboard::{DashboardContribution, DashboardPeriod, Figure};
use kernel::{ApiResult, AppContext, TenantInfo, db};

use crate::repo;

pub struct MediaFigures;

#[async_trait::async_trait]
impl DashboardContribution for MediaFigures {
    async fn figures(
        &self,
        ctx: &AppContext,
        tenant: &TenantInfo,
        period: &DashboardPeriod,
    ) -> ApiResult<Vec<Figure>> {
        let mut tx = db::read_tenant(&ctx.db, tenant.gym_id).await?;
        let (uploads, bytes) = repo::usage(&mut tx, tenant.gym_id, period.month_start).await?;
        Ok(vec![
            Figure::count("uploads_this_month", "Uploads this month", uploads),
            Figure::bytes("storage_bytes", "Storage used", bytes),
        ])
    }
}
