//! A build without the `stories` feature (the plain trainer build) serves none of its routes.

use sqlx::PgPool;
use uuid::Uuid;

use crate::helpers::spawn_app;

#[sqlx::test(migrator = "gymapi::MIGRATOR")]
async fn the_stories_routes_are_not_there(pool: PgPool) {
    let app = spawn_app(pool).await;
    let (owner, gym) = app.owner_with_tenant("nostories").await;
    let id = Uuid::now_v7();
    let caller = app.as_(&owner).in_(gym);
    for call in [
        caller.post("/api/v1/stories"),
        caller.get(&format!("/api/v1/stories/{id}")),
        caller.get("/api/v1/stories/archive"),
        caller.get(&format!("/api/v1/users/{}/stories", owner.user_id)),
        caller.post(&format!("/api/v1/users/{}/follow", owner.user_id)),
        caller.get("/api/v1/close-friends"),
    ] {
        assert_eq!(call.send().await.status(), 404);
    }
    let modules: Vec<String> = app
        .compiled_modules()
        .await
        .into_iter()
        .map(|module| module.code)
        .collect();
    assert!(!modules.contains(&"stories".to_string()));
}
