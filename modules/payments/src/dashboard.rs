//! The module's figures on `GET /api/v1/dashboard`: revenue this month (paid minus refunded,
//! in the tenant's currency and time zone) and payments still pending.

use kernel::dashboard::{DashboardContribution, DashboardPeriod, Figure, FigureUnit};
use kernel::{ApiResult, AppContext, TenantInfo, db};

use crate::repo::payments;

pub struct PaymentFigures;

#[async_trait::async_trait]
impl DashboardContribution for PaymentFigures {
    async fn figures(
        &self,
        ctx: &AppContext,
        tenant: &TenantInfo,
        period: &DashboardPeriod,
    ) -> ApiResult<Vec<Figure>> {
        let currency = tenant.currency.code();
        let mut tx = db::read_tenant(&ctx.db, tenant.gym_id).await?;
        let (revenue, pending) =
            payments::figures(&mut tx, tenant.gym_id, currency, period.month_start).await?;
        Ok(vec![
            Figure {
                key: "revenue_this_month".into(),
                label: "Revenue this month (refunds deducted)".into(),
                value: revenue,
                unit: FigureUnit::MinorUnits,
                currency: Some(currency.to_string()),
            },
            Figure::count("pending_payments", "Payments pending", pending),
        ])
    }
}
