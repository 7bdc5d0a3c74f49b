//! Stories: posting them, reading them through each read path, follows and close friends, and
//! a tenant peopled with every relation the visibility rule knows.

use serde_json::{Value, json};
use sqlx::PgPool;
use uuid::Uuid;

use super::{Call, Session, TestApp, uuid_of};

/// A text story's body with `privacy`.
pub fn text_story(privacy: &str) -> Value {
    json!({
        "kind": "text",
        "privacy": privacy,
        "text": {"text": "Leg day done", "background_color": "#FF8800"},
    })
}

/// One tenant with an author and someone in each relation to them, and a member of another
/// tenant.
pub struct StoryWorld {
    pub gym: Uuid,
    pub owner: Session,
    pub author: Session,
    /// Follows the author.
    pub follower: Session,
    /// On the author's close-friends list (and not a follower).
    pub close_friend: Session,
    /// A member with no relation to the author.
    pub member: Session,
    /// A follower and close friend whom the author's stories hide from.
    pub hidden: Session,
    /// The owner of another tenant.
    pub outsider: Session,
    pub other_gym: Uuid,
}

impl StoryWorld {
    pub async fn new(app: &TestApp) -> StoryWorld {
        let (owner, gym) = app.owner_with_tenant("stories").await;
        let author = app.add_new_member(&owner, gym, "author", "member").await;
        let follower = app.add_new_member(&owner, gym, "follower", "member").await;
        let close_friend = app.add_new_member(&owner, gym, "friend", "member").await;
        let member = app.add_new_member(&owner, gym, "member", "member").await;
        let hidden = app.add_new_member(&owner, gym, "hidden", "member").await;
        let (outsider, other_gym) = app.owner_with_tenant("outsider").await;
        for fan in [&follower, &hidden] {
            app.follow(fan, gym, author.user_id).expect(204).await;
        }
        for friend in [&close_friend, &hidden] {
            app.add_close_friend(&author, gym, friend.user_id)
                .expect(204)
                .await;
        }
        StoryWorld {
            gym,
            owner,
            author,
            follower,
            close_friend,
            member,
            hidden,
            outsider,
            other_gym,
        }
    }

    /// The author posts a text story with `privacy`, hidden from `hidden`; its id.
    pub async fn post(&self, app: &TestApp, privacy: &str) -> Uuid {
        let mut body = text_story(privacy);
        body["hidden_from"] = json!([self.hidden.user_id]);
        let story = app
            .post_story(&self.author, self.gym, &body)
            .expect(201)
            .await;
        uuid_of(&story["id"])
    }
}

impl TestApp {
    pub fn post_story(&self, who: &Session, gym: Uuid, body: &Value) -> Call {
        self.as_(who).in_(gym).post("/api/v1/stories").json(body)
    }

    pub fn story(&self, who: &Session, gym: Uuid, story: Uuid) -> Call {
        self.as_(who)
            .in_(gym)
            .get(&format!("/api/v1/stories/{story}"))
    }

    pub fn delete_story(&self, who: &Session, gym: Uuid, story: Uuid) -> Call {
        self.as_(who)
            .in_(gym)
            .delete(&format!("/api/v1/stories/{story}"))
    }

    pub fn user_stories(&self, who: &Session, gym: Uuid, user: Uuid) -> Call {
        self.as_(who)
            .in_(gym)
            .get(&format!("/api/v1/users/{user}/stories"))
    }

    /// Ids of `user`'s stories that `who` gets through `GET /users/{user_id}/stories`.
    pub async fn user_story_ids(&self, who: &Session, gym: Uuid, user: Uuid) -> Vec<Uuid> {
        let page = self.user_stories(who, gym, user).expect(200).await;
        super::items(&page)
            .iter()
            .map(|s| uuid_of(&s["id"]))
            .collect()
    }

    pub fn follow(&self, who: &Session, gym: Uuid, user: Uuid) -> Call {
        self.as_(who)
            .in_(gym)
            .post(&format!("/api/v1/users/{user}/follow"))
    }

    pub fn unfollow(&self, who: &Session, gym: Uuid, user: Uuid) -> Call {
        self.as_(who)
            .in_(gym)
            .delete(&format!("/api/v1/users/{user}/follow"))
    }

    pub fn add_close_friend(&self, who: &Session, gym: Uuid, user: Uuid) -> Call {
        self.as_(who)
            .in_(gym)
            .put(&format!("/api/v1/close-friends/{user}"))
    }

    pub fn remove_close_friend(&self, who: &Session, gym: Uuid, user: Uuid) -> Call {
        self.as_(who)
            .in_(gym)
            .delete(&format!("/api/v1/close-friends/{user}"))
    }
}

/// Moves a story's life into the past, as if it had been posted `hours_ago` and expired an
/// hour ago; the expiry job has not run (nothing else about the row changes).
pub async fn expire(pool: &PgPool, story: Uuid) {
    // The feed trays keep copies of both times (which never change once a story is posted).
    sqlx::query(
        "with story as (
             update stories set created_at = now() - interval '25 hours',
                 expires_at = now() - interval '1 hour'
             where id = $1
             returning id, created_at, expires_at
         )
         update story_tray_items t set created_at = story.created_at, expires_at = story.expires_at
         from story where t.story_id = story.id",
    )
    .bind(story)
    .execute(pool)
    .await
    .expect("the story exists");
}

/// Runs the expiry job now, as its schedule would.
pub async fn run_expiry(app: &TestApp, pool: &PgPool) {
    sqlx::query(
        "update job_schedules set next_run_at = now() where name = 'stories.expire.every_minute'",
    )
    .execute(pool)
    .await
    .expect("the expiry schedule exists");
    app.jobs.drain().await.expect("the jobs run");
}

/// A member made without the sign-up round trip (for tests that need hundreds): a user row,
/// a membership and an access token signed with the test key.
pub struct BulkMember {
    pub user_id: Uuid,
    pub token: String,
}

impl super::Credential for BulkMember {
    fn bearer(&self) -> &str {
        &self.token
    }
}

/// `count` new members of `gym`, written straight to the tables.
pub async fn bulk_members(pool: &PgPool, gym: Uuid, count: usize) -> Vec<BulkMember> {
    let secret = super::test_settings(&[])
        .auth
        .jwt_secret
        .expect("tests set a JWT secret");
    let now = chrono::Utc::now().timestamp();
    let mut members = Vec::with_capacity(count);
    for _ in 0..count {
        let user_id = Uuid::now_v7();
        sqlx::query(
            "insert into users (id, email, password_hash, first_name, last_name)
             values ($1, $2, 'not-a-hash', 'Bulk', 'Member')",
        )
        .bind(user_id)
        .bind(format!("bulk-{}@example.com", user_id.simple()))
        .execute(pool)
        .await
        .expect("a user row");
        sqlx::query("insert into gym_members (gym_id, user_id, role) values ($1, $2, 'member')")
            .bind(gym)
            .bind(user_id)
            .execute(pool)
            .await
            .expect("a membership");
        let claims = json!({"sub": user_id, "iat": now, "exp": now + 3600, "iss": "gymapi", "aud": "gymapi"});
        let token = jsonwebtoken::encode(
            &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
            &claims,
            &jsonwebtoken::EncodingKey::from_secret(secret.expose().as_bytes()),
        )
        .expect("the token signs");
        members.push(BulkMember { user_id, token });
    }
    members
}

impl TestApp {
    pub fn view_story(
        &self,
        who: &(impl super::Credential + ?Sized),
        gym: Uuid,
        story: Uuid,
    ) -> Call {
        self.as_(who)
            .in_(gym)
            .post(&format!("/api/v1/stories/{story}/view"))
    }

    pub fn viewers(&self, who: &Session, gym: Uuid, story: Uuid) -> Call {
        self.as_(who)
            .in_(gym)
            .get(&format!("/api/v1/stories/{story}/viewers"))
    }

    /// Every page of `who`'s feed, `limit` groups at a time: each group as its author and its
    /// stories' `(id, seen)`.
    pub async fn whole_feed(
        &self,
        who: &Session,
        gym: Uuid,
        limit: u32,
    ) -> Vec<(Uuid, Vec<(Uuid, bool)>)> {
        let mut groups = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let mut path = format!("/api/v1/stories/feed?limit={limit}");
            if let Some(cursor) = &cursor {
                path.push_str(&format!("&cursor={cursor}"));
            }
            let page = self.as_(who).in_(gym).get(&path).expect(200).await;
            for group in super::items(&page) {
                let stories = group["stories"]
                    .as_array()
                    .expect("stories")
                    .iter()
                    .map(|s| (uuid_of(&s["id"]), s["seen"].as_bool().expect("seen")))
                    .collect();
                groups.push((uuid_of(&group["author_id"]), stories));
            }
            match page["next_cursor"].as_str() {
                Some(next) => cursor = Some(next.to_string()),
                None => return groups,
            }
        }
    }
}
