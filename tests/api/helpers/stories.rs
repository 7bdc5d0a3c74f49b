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
    sqlx::query(
        "update stories set created_at = now() - interval '25 hours',
             expires_at = now() - interval '1 hour'
         where id = $1",
    )
    .bind(story)
    .execute(pool)
    .await
    .expect("the story exists");
}
