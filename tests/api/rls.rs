//! Row-level security backs up the tenant filter: inside a tenant transaction even a query
//! that forgets `where gym_id = ...` sees only that tenant.

use futures_util::future::join_all;
use sqlx::PgPool;
use sqlx::postgres::PgPoolOptions;
use uuid::Uuid;

use crate::helpers::two_tenants;

#[sqlx::test(migrator = "gymapi::MIGRATOR")]
async fn unfiltered_queries_see_only_the_current_tenant(pool: PgPool) {
    let (gym_a, gym_b) = two_tenants(&pool).await;
    for (gym, expected) in [(gym_a, 2i64), (gym_b, 1)] {
        let mut tx = kernel::db::begin_tenant(&pool, gym).await.unwrap();
        let visible: Vec<Uuid> = sqlx::query_scalar("select gym_id from gym_members")
            .fetch_all(&mut *tx)
            .await
            .unwrap();
        assert_eq!(visible.len() as i64, expected);
        assert!(visible.iter().all(|id| *id == gym), "only {gym}'s rows");
        let modules: Vec<Uuid> = sqlx::query_scalar("select gym_id from gym_modules")
            .fetch_all(&mut *tx)
            .await
            .unwrap();
        assert!(!modules.is_empty() && modules.iter().all(|id| *id == gym));
        // Writing into another tenant is refused by the policy's WITH CHECK.
        let other = if gym == gym_a { gym_b } else { gym_a };
        let write = sqlx::query("update gym_members set gym_id = $1")
            .bind(other)
            .execute(&mut *tx)
            .await;
        assert!(write.is_err(), "moving rows to another tenant must fail");
    }
}

#[sqlx::test(migrator = "gymapi::MIGRATOR")]
async fn without_a_tenant_the_app_role_sees_nothing(pool: PgPool) {
    two_tenants(&pool).await;
    let mut tx = kernel::db::begin(&pool).await.unwrap();
    sqlx::query("select set_config('role', 'gymapi_app', true)")
        .execute(&mut *tx)
        .await
        .unwrap();
    let members: i64 = sqlx::query_scalar("select count(*) from gym_members")
        .fetch_one(&mut *tx)
        .await
        .unwrap();
    let modules: i64 = sqlx::query_scalar("select count(*) from gym_modules")
        .fetch_one(&mut *tx)
        .await
        .unwrap();
    assert_eq!((members, modules), (0, 0), "fails closed");
}

#[sqlx::test(migrator = "gymapi::MIGRATOR")]
async fn pooled_connections_never_leak_a_tenant(pool: PgPool) {
    let (gym_a, gym_b) = two_tenants(&pool).await;
    let options = pool.connect_options().as_ref().clone();
    let small = PgPoolOptions::new()
        .max_connections(2)
        .connect_with(options)
        .await
        .unwrap();
    let checks = (0..400).map(|i| {
        let small = small.clone();
        let gym = if i % 2 == 0 { gym_a } else { gym_b };
        async move {
            let mut tx = kernel::db::begin_tenant(&small, gym).await.unwrap();
            let foreign: i64 =
                sqlx::query_scalar("select count(*) from gym_members where gym_id <> $1")
                    .bind(gym)
                    .fetch_one(&mut *tx)
                    .await
                    .unwrap();
            tx.commit().await.unwrap();
            foreign
        }
    });
    assert!(join_all(checks).await.iter().all(|foreign| *foreign == 0));
    // After those transactions, a plain connection of the pool carries no tenant setting.
    let leftover: Option<String> =
        sqlx::query_scalar("select nullif(current_setting('app.gym_id', true), '')")
            .fetch_one(&small)
            .await
            .unwrap();
    assert_eq!(leftover, None);
}

#[sqlx::test(migrator = "gymapi::MIGRATOR")]
async fn every_tenant_table_forces_row_level_security(pool: PgPool) {
    // Tables with a gym_id column, except the system tables the workers read across tenants
    // (the event outbox and the job queue; handlers open tenant transactions themselves), and
    // payments' provider-webhook inbox and payment-to-tenant index, which hold ids only and are
    // read before the tenant of a provider's event is known.
    let unprotected: Vec<String> = sqlx::query_scalar(
        "select c.relname::text from pg_class c join pg_namespace n on n.oid = c.relnamespace \
         where n.nspname = 'public' and c.relkind = 'r' \
           and exists (select 1 from pg_attribute a where a.attrelid = c.oid and a.attname = 'gym_id' and not a.attisdropped) \
           and c.relname not in ('domain_events', 'jobs', 'provider_events', 'payment_tenants') \
           and not (c.relrowsecurity and c.relforcerowsecurity)",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    assert!(
        unprotected.is_empty(),
        "tables without forced RLS: {unprotected:?}"
    );
    let (superuser, bypass): (bool, bool) =
        sqlx::query_as("select rolsuper, rolbypassrls from pg_roles where rolname = 'gymapi_app'")
            .fetch_one(&pool)
            .await
            .unwrap();
    assert!(!superuser && !bypass);
}

/// Polls `future` `polls` times at most, then drops it: a request whose client hung up at
/// that point.
async fn abandon_after<F: std::future::Future>(future: F, polls: usize) {
    let mut future = std::pin::pin!(future);
    let mut seen = 0;
    std::future::poll_fn(|cx| {
        seen += 1;
        match future.as_mut().poll(cx) {
            std::task::Poll::Pending if seen < polls => std::task::Poll::Pending,
            _ => std::task::Poll::Ready(()),
        }
    })
    .await;
}

#[sqlx::test(migrator = "gymapi::MIGRATOR")]
async fn a_request_dropped_while_its_transaction_opens_leaves_no_transaction_behind(pool: PgPool) {
    // One connection: every abandoned opening and every check below share it.
    let one = PgPoolOptions::new()
        .max_connections(1)
        .connect_with((*pool.connect_options()).clone())
        .await
        .unwrap();
    let owner: String = sqlx::query_scalar("select current_user")
        .fetch_one(&one)
        .await
        .unwrap();
    let gym = Uuid::new_v4();
    for attempt in 0..240 {
        abandon_after(kernel::db::read_tenant(&one, gym), 1 + attempt % 6).await;
        // Inside a leaked tenant transaction the role would still be the app's.
        let role: String = sqlx::query_scalar("select current_user")
            .fetch_one(&one)
            .await
            .unwrap();
        assert_eq!(role, owner, "attempt {attempt} left its transaction open");
    }
}
