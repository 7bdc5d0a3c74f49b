//! Who may change whose membership. Pure functions, so the rules are tested on their own.

use kernel::{ApiError, ApiResult, Role};

use crate::errors;

/// Staff who manage people: owners and admins.
pub const MANAGER: Role = Role::Admin;

fn forbidden(detail: &str) -> ApiError {
    ApiError::forbidden(errors::INSUFFICIENT_ROLE, detail.to_string())
}

/// Nobody grants a role above their own.
pub fn may_grant(actor: Role, granted: Role) -> ApiResult<()> {
    if actor < MANAGER {
        return Err(forbidden("only owners and admins manage members"));
    }
    if granted > actor {
        return Err(forbidden("you cannot grant a role above your own"));
    }
    Ok(())
}

/// Changing someone's role: the actor must outrank or equal both the current and the new role.
pub fn may_change(actor: Role, current: Role, new: Role) -> ApiResult<()> {
    may_grant(actor, new)?;
    if current > actor {
        return Err(forbidden("you cannot change the role of someone above you"));
    }
    Ok(())
}

/// Removing a member: anyone may leave; managers remove people at or below their own role.
pub fn may_remove(actor: Role, target: Role, is_self: bool) -> ApiResult<()> {
    if is_self {
        return Ok(());
    }
    if actor < MANAGER {
        return Err(forbidden("only owners and admins remove members"));
    }
    if target > actor {
        return Err(forbidden("you cannot remove someone above you"));
    }
    Ok(())
}

/// Whether a change leaves the tenant with at least one owner.
pub fn keeps_an_owner(owners: usize, target_is_owner: bool, stays_owner: bool) -> ApiResult<()> {
    if target_is_owner && !stays_owner && owners <= 1 {
        return Err(ApiError::conflict(
            errors::LAST_OWNER,
            "this is the last owner; make someone else owner first",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use Role::*;

    #[test]
    fn nobody_raises_anyone_above_themselves() {
        assert!(may_grant(Owner, Owner).is_ok());
        assert!(may_grant(Admin, Admin).is_ok());
        assert!(may_grant(Admin, Owner).is_err());
        assert!(
            may_grant(Trainer, Member).is_err(),
            "trainers do not manage members"
        );
        assert!(may_grant(Member, Member).is_err());
    }

    #[test]
    fn admins_cannot_touch_owners() {
        assert!(may_change(Admin, Owner, Member).is_err());
        assert!(may_change(Admin, Trainer, Admin).is_ok());
        assert!(may_change(Owner, Owner, Admin).is_ok());
        assert!(may_remove(Admin, Owner, false).is_err());
        assert!(may_remove(Admin, Admin, false).is_ok());
        assert!(may_remove(Member, Member, true).is_ok(), "anyone may leave");
        assert!(may_remove(Member, Member, false).is_err());
    }

    #[test]
    fn the_last_owner_stays() {
        assert!(keeps_an_owner(1, true, false).is_err());
        assert!(keeps_an_owner(2, true, false).is_ok());
        assert!(keeps_an_owner(1, true, true).is_ok());
        assert!(keeps_an_owner(1, false, false).is_ok());
    }
}
