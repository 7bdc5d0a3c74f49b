use std::collections::HashSet;

use serde_json::json;
use sqlx::PgPool;

use crate::helpers::{PASSWORD, error_fields, items, spawn_app};

#[sqlx::test(migrator = "gymapi::MIGRATOR")]
async fn owners_add_people_and_staff_see_them(pool: PgPool) {
    let app = spawn_app(pool).await;
    let (owner, gym) = app.owner_with_tenant("own").await;
    let coach = app.register("coach").await;
    let member = app.register("member").await;
    let added = app
        .add_member(&owner, gym, &coach, "trainer")
        .expect(201)
        .await;
    assert_eq!(added["role"], "trainer");
    assert_eq!(added["email"], coach.email);
    app.add_member(&owner, gym, &member, "member")
        .expect(201)
        .await;
    app.add_member(&owner, gym, &member, "member")
        .expect_problem(409, "already_member")
        .await;

    let listed = app
        .as_(&coach)
        .in_(gym)
        .get("/api/v1/members")
        .expect(200)
        .await;
    assert_eq!(items(&listed).len(), 3);
    let trainers = app
        .as_(&owner)
        .in_(gym)
        .get("/api/v1/members?role=trainer")
        .expect(200)
        .await;
    assert_eq!(trainers["items"][0]["user_id"], coach.user_id.to_string());
    assert_eq!(items(&trainers).len(), 1);

    app.as_(&member)
        .in_(gym)
        .get("/api/v1/members")
        .expect_problem(403, "insufficient_role")
        .await;
    let stranger = app.register("stranger").await;
    for adder in [&member, &coach] {
        app.add_member(adder, gym, &stranger, "member")
            .expect_problem(403, "insufficient_role")
            .await;
    }
}

#[sqlx::test(migrator = "gymapi::MIGRATOR")]
async fn unknown_people_cannot_be_added(pool: PgPool) {
    let app = spawn_app(pool).await;
    let (owner, gym) = app.owner_with_tenant("own").await;
    let problem = app
        .as_(&owner)
        .in_(gym)
        .post("/api/v1/members")
        .json(&json!({"email": "nobody@example.com"}))
        .expect_problem(422, "validation_failed")
        .await;
    assert_eq!(error_fields(&problem), ["email"]);
}

#[sqlx::test(migrator = "gymapi::MIGRATOR")]
async fn nobody_raises_anyone_above_themselves(pool: PgPool) {
    let app = spawn_app(pool).await;
    let (owner, gym) = app.owner_with_tenant("own").await;
    let admin = app.add_new_member(&owner, gym, "admin", "admin").await;
    let member = app.add_new_member(&admin, gym, "member", "member").await;

    app.change_role(&admin, gym, &member, "owner")
        .expect_problem(403, "insufficient_role")
        .await;
    app.change_role(&admin, gym, &owner, "member")
        .expect_problem(403, "insufficient_role")
        .await;
    app.remove_member(&admin, gym, &owner)
        .expect_problem(403, "insufficient_role")
        .await;
    let promoted = app
        .change_role(&admin, gym, &member, "admin")
        .expect(200)
        .await;
    assert_eq!(promoted["role"], "admin");
    // Admins manage admins.
    let demoted = app
        .change_role(&member, gym, &admin, "member")
        .expect(200)
        .await;
    assert_eq!(demoted["role"], "member");
    // The demoted admin's next request sees the new role (cache invalidated).
    app.as_(&admin)
        .in_(gym)
        .get("/api/v1/members")
        .expect_problem(403, "insufficient_role")
        .await;
}

#[sqlx::test(migrator = "gymapi::MIGRATOR")]
async fn a_tenant_always_keeps_an_owner(pool: PgPool) {
    let app = spawn_app(pool).await;
    let (owner, gym) = app.owner_with_tenant("own").await;
    app.remove_member(&owner, gym, &owner)
        .expect_problem(409, "last_owner")
        .await;
    app.change_role(&owner, gym, &owner, "admin")
        .expect_problem(409, "last_owner")
        .await;

    let partner = app.add_new_member(&owner, gym, "partner", "owner").await;
    let left = app.remove_member(&owner, gym, &owner).send().await;
    assert_eq!(left.status(), 204, "one owner may leave now");
    app.as_(&owner)
        .in_(gym)
        .get("/api/v1/modules")
        .expect_problem(403, "not_a_member")
        .await;
    app.remove_member(&partner, gym, &partner)
        .expect_problem(409, "last_owner")
        .await;
}

#[sqlx::test(migrator = "gymapi::MIGRATOR")]
async fn members_may_leave_and_lose_access_at_once(pool: PgPool) {
    let app = spawn_app(pool).await;
    let (owner, gym) = app.owner_with_tenant("own").await;
    let member = app.add_new_member(&owner, gym, "member", "member").await;
    let me = app
        .as_(&member)
        .in_(gym)
        .get("/api/v1/users/me")
        .expect(200)
        .await;
    assert_eq!(me["tenant"]["role"], "member");
    app.remove_member(&member, gym, &member).expect(204).await;
    app.as_(&member)
        .in_(gym)
        .get("/api/v1/users/me")
        .expect_problem(403, "not_a_member")
        .await;
    app.remove_member(&owner, gym, &member)
        .expect_problem(404, "not_found")
        .await;
}

#[sqlx::test(migrator = "gymapi::MIGRATOR")]
async fn another_tenants_people_are_out_of_reach(pool: PgPool) {
    let app = spawn_app(pool).await;
    let (owner_a, gym_a) = app.owner_with_tenant("a").await;
    let (owner_b, gym_b) = app.owner_with_tenant("b").await;
    let member_b = app
        .add_new_member(&owner_b, gym_b, "member-b", "member")
        .await;

    // Acting in A on B's member: 404, as if they did not exist.
    app.change_role(&owner_a, gym_a, &member_b, "admin")
        .expect_problem(404, "not_found")
        .await;
    app.remove_member(&owner_a, gym_a, &member_b)
        .expect_problem(404, "not_found")
        .await;
    // Naming B while not belonging to it: refused, never served from A.
    app.change_role(&owner_a, gym_b, &member_b, "admin")
        .expect_problem(403, "not_a_member")
        .await;
    app.as_(&owner_a)
        .in_(gym_b)
        .get("/api/v1/members")
        .expect_problem(403, "not_a_member")
        .await;
    let listed = app
        .as_(&owner_a)
        .in_(gym_a)
        .get("/api/v1/members")
        .expect(200)
        .await;
    assert_eq!(items(&listed).len(), 1);
    let unchanged = app
        .as_(&owner_b)
        .in_(gym_b)
        .get("/api/v1/members?role=member")
        .expect(200)
        .await;
    assert_eq!(unchanged["items"][0]["role"], "member");
}

#[sqlx::test(migrator = "gymapi::MIGRATOR")]
async fn member_lists_page_with_cursors(pool: PgPool) {
    let app = spawn_app(pool).await;
    let (owner, gym) = app.owner_with_tenant("own").await;
    for i in 0..6 {
        app.add_new_member(&owner, gym, &format!("p{i}"), "member")
            .await;
    }
    let mut seen = HashSet::new();
    let mut cursor: Option<String> = None;
    let mut pages = 0;
    loop {
        let path = match &cursor {
            Some(cursor) => format!("/api/v1/members?limit=3&cursor={cursor}"),
            None => "/api/v1/members?limit=3".to_string(),
        };
        let page = app.as_(&owner).in_(gym).get(&path).expect(200).await;
        pages += 1;
        for item in items(&page) {
            assert!(
                seen.insert(item["user_id"].as_str().unwrap().to_string()),
                "no duplicates across pages"
            );
        }
        match page["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_string()),
            None => break,
        }
    }
    assert_eq!(seen.len(), 7);
    assert_eq!(pages, 3);
}

#[sqlx::test(migrator = "gymapi::MIGRATOR")]
async fn the_front_desk_finds_people_by_part_of_a_name_or_email(pool: PgPool) {
    let app = spawn_app(pool).await;
    let (owner, gym) = app.owner_with_tenant("desk").await;
    for (first, last, email) in [
        ("José", "Álvarez", "jose.alvarez@acme.example"),
        ("Joséphine", "Martin", "jm@other.example"),
        ("Ana", "López", "ana@acme.example"),
        ("Bob", "50%_off", "bob@plain.example"),
    ] {
        app.sign_up(
            &json!({"email": email, "password": PASSWORD, "first_name": first, "last_name": last}),
        )
        .expect(201)
        .await;
        app.as_(&owner)
            .in_(gym)
            .post("/api/v1/members")
            .json(&json!({"email": email}))
            .expect(201)
            .await;
    }
    let search = |query: &str| {
        app.as_(&owner)
            .in_(gym)
            .get(&format!("/api/v1/members?{query}"))
    };
    let emails = |page: &serde_json::Value| -> Vec<String> {
        items(page)
            .iter()
            .map(|member| member["email"].as_str().unwrap().to_string())
            .collect()
    };
    // Case and accents do not matter, either way round.
    let jose = search("q=jose").expect(200).await;
    assert_eq!(
        emails(&jose),
        ["jose.alvarez@acme.example", "jm@other.example"]
    );
    let alvarez = search("q=%C3%81LVAREZ").expect(200).await;
    assert_eq!(emails(&alvarez), ["jose.alvarez@acme.example"]);
    assert_eq!(
        emails(&search("q=lopez").expect(200).await),
        ["ana@acme.example"]
    );
    // Part of an e-mail, combined with a role filter.
    assert_eq!(
        emails(&search("q=%40acme&role=member").expect(200).await),
        ["jose.alvarez@acme.example", "ana@acme.example"]
    );
    assert!(emails(&search("q=%40acme&role=admin").expect(200).await).is_empty());
    // Wildcards are text, not patterns.
    assert_eq!(
        emails(&search("q=50%25_").expect(200).await),
        ["bob@plain.example"]
    );
    assert!(emails(&search("q=%25").expect(200).await).len() == 1);
    // Results page like the plain list.
    let first = search("q=acme&limit=1").expect(200).await;
    assert_eq!(emails(&first), ["jose.alvarez@acme.example"]);
    let cursor = first["next_cursor"].as_str().unwrap();
    let second = search(&format!("q=acme&limit=1&cursor={cursor}"))
        .expect(200)
        .await;
    assert_eq!(emails(&second), ["ana@acme.example"]);
    assert!(second["next_cursor"].is_null());
    // A query longer than any name is refused, not run.
    let too_long = "x".repeat(101);
    search(&format!("q={too_long}"))
        .expect_problem(400, "invalid_parameter")
        .await;
}

#[sqlx::test(migrator = "gymapi::MIGRATOR")]
async fn a_new_name_reaches_every_directory_the_person_is_in(pool: PgPool) {
    let app = spawn_app(pool).await;
    let (owner, gym) = app.owner_with_tenant("rename").await;
    let member = app.add_new_member(&owner, gym, "before", "member").await;
    app.as_(&member)
        .patch("/api/v1/users/me")
        .json(&json!({"first_name": "Renée"}))
        .expect(200)
        .await;
    app.jobs.drain().await.unwrap();
    let found = app
        .as_(&owner)
        .in_(gym)
        .get("/api/v1/members?q=renee")
        .expect(200)
        .await;
    assert_eq!(items(&found).len(), 1);
    assert_eq!(items(&found)[0]["first_name"], "Renée");
}
