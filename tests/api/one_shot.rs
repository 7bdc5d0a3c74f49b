//! One-round-trip tenant statements (`kernel::db::OneShot`) keep what scoped transactions
//! promise: row-level security, nothing left on the pooled connection, and arguments that
//! arrive as values whatever they contain.

use kernel::db::OneShot;
use sqlx::postgres::{PgPoolOptions, PgRow};
use sqlx::{PgPool, Row};
use uuid::Uuid;

use crate::helpers::two_tenants;

/// A pool of one connection, so every statement reuses what the one before left behind.
async fn one_connection(pool: &PgPool) -> PgPool {
    PgPoolOptions::new()
        .max_connections(1)
        .connect_with(pool.connect_options().as_ref().clone())
        .await
        .unwrap()
}

fn uuids(rows: &[PgRow]) -> Vec<Uuid> {
    rows.iter().map(|row| row.get(0)).collect()
}

#[sqlx::test(migrator = "gymapi::MIGRATOR")]
async fn one_shot_statements_see_only_their_tenant_on_a_shared_connection(pool: PgPool) {
    let (gym_a, gym_b) = two_tenants(&pool).await;
    let single = one_connection(&pool).await;
    for (gym, members) in [(gym_a, 2), (gym_b, 1), (gym_a, 2), (gym_b, 1)] {
        let rows = OneShot::new()
            .write(&single, gym, "select gym_id from gym_members")
            .await
            .unwrap();
        let seen = uuids(&rows);
        assert_eq!(seen.len(), members);
        assert!(seen.iter().all(|id| *id == gym), "only {gym}'s rows");
    }
    let leftover: Option<String> =
        sqlx::query_scalar("select nullif(current_setting('app.gym_id', true), '')")
            .fetch_one(&single)
            .await
            .unwrap();
    assert_eq!(leftover, None, "no tenant stays on the connection");
}

#[sqlx::test(migrator = "gymapi::MIGRATOR")]
async fn one_shot_writes_commit_and_cannot_reach_another_tenant(pool: PgPool) {
    let (gym_a, gym_b) = two_tenants(&pool).await;
    let single = one_connection(&pool).await;
    let mut shot = OneShot::new();
    let sql = format!(
        "update gym_members set first_name = {} where role = 'owner' returning gym_id",
        shot.bind("Renamed")
    );
    let rows = shot.write(&single, gym_a, &sql).await.unwrap();
    assert_eq!(uuids(&rows), vec![gym_a], "one owner, in its own tenant");
    let names: Vec<(Uuid, String)> =
        sqlx::query_as("select gym_id, first_name from gym_members where role = 'owner'")
            .fetch_all(&pool)
            .await
            .unwrap();
    for (gym, name) in names {
        assert_eq!(name == "Renamed", gym == gym_a, "{gym} has {name}");
    }

    // Moving rows into another tenant is refused, and the refusal leaves the connection clean.
    let mut shot = OneShot::new();
    let sql = format!("update gym_members set gym_id = {}", shot.bind(gym_b));
    assert!(shot.write(&single, gym_a, &sql).await.is_err());
    let rows = OneShot::new()
        .write(&single, gym_a, "select gym_id from gym_members")
        .await
        .unwrap();
    assert_eq!(rows.len(), 2, "nothing moved, and the next statement runs");
}

#[sqlx::test(migrator = "gymapi::MIGRATOR")]
async fn text_arguments_arrive_as_values_whatever_they_contain(pool: PgPool) {
    let (gym_a, _) = two_tenants(&pool).await;
    let single = one_connection(&pool).await;
    for text in [
        "o'brien",
        "x$a",
        "$a$); commit; select 1; --",
        "back\\slash and \"quotes\"",
        "ünïcödé 🏋️",
        "",
    ] {
        let mut shot = OneShot::new();
        let sql = format!("select {}::text", shot.bind(text));
        let rows = shot.write(&single, gym_a, &sql).await.unwrap();
        assert_eq!(rows[0].get::<String, _>(0), text);
    }
    // A NUL cannot be a literal (it would end the query message); it goes bound, and
    // PostgreSQL refuses it like any text with a NUL.
    let mut shot = OneShot::new();
    let sql = format!("select {}::text", shot.bind("nul\0byte"));
    assert!(shot.write(&single, gym_a, &sql).await.is_err());
    let rows = OneShot::new()
        .write(&single, gym_a, "select count(*) from gym_members")
        .await
        .unwrap();
    assert_eq!(rows[0].get::<i64, _>(0), 2);
}

#[sqlx::test(migrator = "gymapi::MIGRATOR")]
async fn every_kind_of_argument_round_trips(pool: PgPool) {
    let (gym_a, _) = two_tenants(&pool).await;
    let time = chrono::DateTime::parse_from_rfc3339("2026-12-03T10:20:30.123456-03:00")
        .unwrap()
        .with_timezone(&chrono::Utc);
    let id = Uuid::now_v7();
    let mut shot = OneShot::new();
    let sql = format!(
        "select {}, {}, {}, {}",
        shot.bind(id),
        shot.bind(-42i64),
        shot.bind(true),
        shot.bind(time)
    );
    let rows = shot.write(&pool, gym_a, &sql).await.unwrap();
    let row = &rows[0];
    assert_eq!(row.get::<Uuid, _>(0), id);
    assert_eq!(row.get::<i64, _>(1), -42);
    assert!(row.get::<bool, _>(2));
    assert_eq!(row.get::<chrono::DateTime<chrono::Utc>, _>(3), time);
}
