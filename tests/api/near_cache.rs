//! Two instances sharing PostgreSQL and Redis, each with a near cache in front of Redis. The
//! near copies live a minute here, so a change seen within a second reached the other
//! instance through its invalidation, not through expiry.

use std::time::{Duration, Instant};

use ::redis::AsyncCommands;
use serde_json::json;
use sqlx::PgPool;
use uuid::Uuid;

use crate::helpers::{Call, TestApp, redis, spawn_app_with};

const A_MINUTE: u64 = 60_000;

async fn instance(pool: PgPool, near_ttl_ms: u64) -> TestApp {
    spawn_app_with(pool, &[redis(), ("cache.near_ttl_ms", json!(near_ttl_ms))]).await
}

/// How long until `call` answers `status`; panics past `within`.
async fn until_status(call: impl Fn() -> Call, status: u16, within: Duration) -> Duration {
    let started = Instant::now();
    loop {
        let answered = call().send().await.status();
        if answered == status {
            return started.elapsed();
        }
        assert!(
            started.elapsed() < within,
            "still {answered} after {within:?}, expected {status}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[sqlx::test(migrator = "gymapi::MIGRATOR")]
async fn a_promotion_on_one_instance_is_seen_on_the_other_at_once(pool: PgPool) {
    let a = instance(pool.clone(), A_MINUTE).await;
    let b = instance(pool, A_MINUTE).await;
    let (owner, gym) = a.owner_with_tenant("near").await;
    let member = a.add_new_member(&owner, gym, "member", "member").await;
    let keys_on_b = || b.as_(&member).in_(gym).get("/api/v1/api-keys");
    // Warm on B: the membership is read, kept in Redis and in B's near cache.
    for _ in 0..3 {
        assert_eq!(keys_on_b().send().await.status(), 403);
    }

    a.change_role(&owner, gym, &member, "admin")
        .expect(200)
        .await;

    until_status(keys_on_b, 200, Duration::from_secs(1)).await;
}

#[sqlx::test(migrator = "gymapi::MIGRATOR")]
async fn a_removal_on_one_instance_locks_the_person_out_of_the_other_at_once(pool: PgPool) {
    let a = instance(pool.clone(), A_MINUTE).await;
    let b = instance(pool, A_MINUTE).await;
    let (owner, gym) = a.owner_with_tenant("near").await;
    let member = a.add_new_member(&owner, gym, "member", "member").await;
    let modules_on_b = || b.as_(&member).in_(gym).get("/api/v1/modules");
    modules_on_b().expect(200).await;
    modules_on_b().expect(200).await;

    a.remove_member(&owner, gym, &member).expect(204).await;

    until_status(modules_on_b, 403, Duration::from_secs(1)).await;
}

#[sqlx::test(migrator = "gymapi::MIGRATOR")]
async fn a_revoked_api_key_is_refused_at_once_on_both_instances(pool: PgPool) {
    let a = instance(pool.clone(), A_MINUTE).await;
    let b = instance(pool, A_MINUTE).await;
    let (owner, gym) = a.owner_with_tenant("near").await;
    let key = a.create_api_key(&owner, gym, &["members:read"]).await;
    let on_a = || a.as_(&key).get("/api/v1/members");
    let on_b = || b.as_(&key).get("/api/v1/members");
    for _ in 0..2 {
        on_a().expect(200).await;
        on_b().expect(200).await;
    }

    a.as_(&owner)
        .in_(gym)
        .delete(&format!("/api/v1/api-keys/{}", key.id))
        .expect(204)
        .await;

    on_a().expect_problem(401, "invalid_token").await;
    until_status(on_b, 401, Duration::from_secs(1)).await;
}

/// Redis forgets everything about `gym` but nobody publishes it: an invalidation lost while
/// pub/sub was down.
async fn forget_in_redis_silently(app: &TestApp, gym: Uuid) {
    let link = app.ctx.cache.redis_link().expect("with Redis");
    let mut connection = link
        .client()
        .get_multiplexed_async_connection()
        .await
        .unwrap();
    let keys: Vec<String> = connection.keys(format!("*{gym}*")).await.unwrap();
    if !keys.is_empty() {
        let _: () = connection.del(keys).await.unwrap();
    }
}

#[sqlx::test(migrator = "gymapi::MIGRATOR")]
async fn a_missed_invalidation_lasts_no_longer_than_the_near_ttl(pool: PgPool) {
    let near_ttl = Duration::from_millis(400);
    let a = instance(pool.clone(), 400).await;
    let b = instance(pool.clone(), 400).await;
    let (owner, gym) = a.owner_with_tenant("near").await;
    let member = a.add_new_member(&owner, gym, "member", "member").await;
    let keys_on_b = || b.as_(&member).in_(gym).get("/api/v1/api-keys");
    assert_eq!(keys_on_b().send().await.status(), 403);

    // The promotion is written, and Redis forgets the old membership, but B hears nothing.
    sqlx::query("update gym_members set role = 'admin' where gym_id = $1 and user_id = $2")
        .bind(gym)
        .bind(member.user_id)
        .execute(&pool)
        .await
        .unwrap();
    forget_in_redis_silently(&a, gym).await;

    until_status(keys_on_b, 200, near_ttl + Duration::from_millis(600)).await;
}
