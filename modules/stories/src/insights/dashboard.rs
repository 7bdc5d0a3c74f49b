//! The module's figures on `GET /api/v1/dashboard`, for admins and owners: stories posted
//! today and active now, views and reactions today (the tenant's day), and the five people who
//! posted the most in the last seven days.

use kernel::dashboard::{DashboardContribution, DashboardPeriod, Figure};
use kernel::{ApiResult, AppContext, Role, TenantInfo, db};

use super::repo;

/// How many top creators the dashboard names.
const TOP_CREATORS: i64 = 5;

pub struct StoryFigures;

#[async_trait::async_trait]
impl DashboardContribution for StoryFigures {
    fn minimum_role(&self) -> Role {
        Role::Admin
    }

    async fn figures(
        &self,
        ctx: &AppContext,
        tenant: &TenantInfo,
        period: &DashboardPeriod,
    ) -> ApiResult<Vec<Figure>> {
        let mut tx = db::read_tenant(&ctx.db, tenant.gym_id).await?;
        let today = repo::today(&mut tx, tenant.gym_id, period.today_start).await?;
        let week_start = period.today_start - chrono::Duration::days(6);
        let top = repo::top_creators(&mut tx, tenant.gym_id, week_start, TOP_CREATORS).await?;
        let ids: Vec<_> = top.iter().map(|(user_id, _)| *user_id).collect();
        let names = ctx.accounts.summaries(&mut tx, &ids).await?;
        let mut figures = vec![
            Figure::count("stories_today", "Stories posted today", today.stories_today),
            Figure::count("active_stories", "Stories up now", today.active_stories),
            Figure::count(
                "story_views_today",
                "Story views today (each person once per story)",
                today.views_today,
            ),
            Figure::count(
                "story_reactions_today",
                "Reactions to stories today",
                today.reactions_today,
            ),
        ];
        for (rank, (user_id, stories)) in (1..).zip(top) {
            let name = names
                .get(&user_id)
                .map(|summary| summary.display_name())
                .unwrap_or_else(|| user_id.to_string());
            figures.push(Figure::count(
                &format!("top_creator_{rank}"),
                &format!("{name}: stories in the last 7 days"),
                stories,
            ));
        }
        Ok(figures)
    }
}
