//! Who may see a story: the one rule every read applies (a story, a person's stories, the
//! feed, viewers, and what later reads add), written once as a SQL predicate so it cannot
//! drift between them.
//!
//! The author always sees their own stories, expired ones too (their archive). Anyone else
//! sees a story while it is active (`expires_at` in the future, whether or not the expiry job
//! has run), unless they are in its `hidden_from`, and when its privacy lets them:
//! - `public`: every member of the tenant;
//! - `followers`: people who follow the author;
//! - `close_friends`: people on the author's close-friends list;
//! - `private`: nobody else.

/// The predicate for the `stories` row aliased `story`, seen by the user id the SQL expression
/// `viewer` yields (a bind parameter such as `$3`). Both the follow and close-friend lookups
/// are primary-key probes, so the predicate costs two index lookups at most per story.
pub fn visible(story: &str, viewer: &str) -> String {
    format!(
        "({story}.author_id = {viewer} or ({story}.expires_at > now() and {}))",
        audience(story, viewer)
    )
}

/// [`visible`] but for the expiry: whether `viewer` could see the story while it was active.
/// Only for telling an expired story (410) from one that was never theirs (404).
pub fn reachable(story: &str, viewer: &str) -> String {
    format!(
        "({story}.author_id = {viewer} or {})",
        audience(story, viewer)
    )
}

/// Whether the story's privacy and `hidden_from` let `viewer`, who is not its author, see it.
fn audience(story: &str, viewer: &str) -> String {
    format!(
        "(not ({viewer} = any({story}.hidden_from))
            and case {story}.privacy
                when 'public' then true
                when 'followers' then exists (
                    select 1 from story_follows f
                    where f.gym_id = {story}.gym_id and f.follower_id = {viewer}
                        and f.followee_id = {story}.author_id)
                when 'close_friends' then exists (
                    select 1 from story_close_friends c
                    where c.gym_id = {story}.gym_id and c.owner_id = {story}.author_id
                        and c.friend_id = {viewer})
                else false
            end)"
    )
}
