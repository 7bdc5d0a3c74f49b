//! Membership changes, with the role rules of [`crate::rules`].

use chrono::{DateTime, Utc};
use kernel::error::unique_violation;
use kernel::{ApiError, ApiResult, AppContext, FieldError, Role, Tenant, events, pagination};
use uuid::Uuid;

use crate::repo::{self, MemberRow};
use crate::{directory, rules};

pub struct Members<'a, M> {
    pub ctx: &'a AppContext,
    pub tenant: &'a Tenant<M>,
}

fn no_such_member() -> ApiError {
    ApiError::not_found("no member with this user id in this tenant")
}

impl<M> Members<'_, M> {
    /// Staff (trainer and up) see everyone; members do not get a directory of other members.
    pub async fn list(
        &self,
        role: Option<Role>,
        cursor: Option<&str>,
        limit: Option<u32>,
    ) -> ApiResult<(Vec<MemberRow>, Option<String>)> {
        self.tenant.require(Role::Trainer)?;
        let after: Option<(DateTime<Utc>, Uuid)> = pagination::decode_cursor(cursor)?;
        let limit = pagination::limit(limit);
        let mut tx = self.tenant.begin(&self.ctx.db).await?;
        let rows = repo::list_members(&mut tx, self.tenant.gym_id, role, after, limit + 1).await?;
        tx.commit().await?;
        Ok(pagination::finish_page(rows, limit, |row| {
            (row.created_at, row.user_id)
        }))
    }

    /// Adds a registered user by e-mail.
    pub async fn add(&self, email: &str, role: Role) -> ApiResult<MemberRow> {
        rules::may_grant(self.tenant.role, role)?;
        let email = email.trim().to_lowercase();
        let user_id = repo::user_id_by_email(&self.ctx.db, &email)
            .await?
            .ok_or_else(|| {
                ApiError::validation(vec![FieldError::new(
                    "email",
                    "no registered user has this e-mail address",
                )])
            })?;
        let mut tx = self.tenant.begin(&self.ctx.db).await?;
        repo::insert_member(&mut tx, self.tenant.gym_id, user_id, role)
            .await
            .map_err(|err| match unique_violation(&err) {
                Some("gym_members_pkey") => {
                    ApiError::conflict("already_member", "this user is already a member")
                }
                _ => err.into(),
            })?;
        let member = repo::find_member(&mut tx, self.tenant.gym_id, user_id)
            .await?
            .ok_or_else(no_such_member)?;
        let gym = repo::find_gym(&mut *tx, self.tenant.gym_id)
            .await?
            .ok_or_else(|| ApiError::not_found("no such tenant"))?;
        events::record(
            &mut tx,
            Some(self.tenant.gym_id),
            "member_added",
            serde_json::json!({
                "gym_id": gym.id,
                "gym_name": gym.name,
                "kind": gym.kind,
                "user_id": user_id,
                "role": role,
                "added_by": self.tenant.user_id,
            }),
        )
        .await?;
        tx.commit().await?;
        directory::invalidate_member(&self.ctx.cache, self.tenant.gym_id, user_id).await;
        Ok(member)
    }

    pub async fn change_role(&self, user_id: Uuid, role: Role) -> ApiResult<MemberRow> {
        let mut tx = self.tenant.begin(&self.ctx.db).await?;
        let owners = repo::lock_owners(&mut tx, self.tenant.gym_id).await?;
        let current = repo::find_member(&mut tx, self.tenant.gym_id, user_id)
            .await?
            .ok_or_else(no_such_member)?;
        rules::may_change(self.tenant.role, current.role, role)?;
        rules::keeps_an_owner(owners, current.role == Role::Owner, role == Role::Owner)?;
        repo::update_role(&mut tx, self.tenant.gym_id, user_id, role).await?;
        let member = repo::find_member(&mut tx, self.tenant.gym_id, user_id)
            .await?
            .ok_or_else(no_such_member)?;
        if current.role != role {
            let gym = repo::find_gym(&mut *tx, self.tenant.gym_id)
                .await?
                .ok_or_else(|| ApiError::not_found("no such tenant"))?;
            events::record(
                &mut tx,
                Some(self.tenant.gym_id),
                "member_role_changed",
                serde_json::json!({
                    "gym_id": self.tenant.gym_id,
                    "gym_name": gym.name,
                    "user_id": user_id,
                    "previous_role": current.role,
                    "role": role,
                    "changed_by": self.tenant.user_id,
                }),
            )
            .await?;
        }
        tx.commit().await?;
        directory::invalidate_member(&self.ctx.cache, self.tenant.gym_id, user_id).await;
        Ok(member)
    }

    pub async fn remove(&self, user_id: Uuid) -> ApiResult<()> {
        let mut tx = self.tenant.begin(&self.ctx.db).await?;
        let owners = repo::lock_owners(&mut tx, self.tenant.gym_id).await?;
        let current = repo::find_member(&mut tx, self.tenant.gym_id, user_id)
            .await?
            .ok_or_else(no_such_member)?;
        rules::may_remove(
            self.tenant.role,
            current.role,
            user_id == self.tenant.user_id,
        )?;
        rules::keeps_an_owner(owners, current.role == Role::Owner, false)?;
        repo::delete_member(&mut tx, self.tenant.gym_id, user_id).await?;
        events::record(
            &mut tx,
            Some(self.tenant.gym_id),
            "member_removed",
            serde_json::json!({
                "gym_id": self.tenant.gym_id,
                "user_id": user_id,
                "role": current.role,
                "removed_by": self.tenant.user_id,
            }),
        )
        .await?;
        tx.commit().await?;
        directory::invalidate_member(&self.ctx.cache, self.tenant.gym_id, user_id).await;
        Ok(())
    }
}
