//! Who may see a story: the one rule every read applies (a story, a person's stories, the
//! feed, viewers, highlights, insights, reports, and what later reads add), written once as a
//! SQL predicate so it cannot drift between them.
//!
//! The rule has two parts. Privacy ([`reachable`]) says whether someone may see the story at
//! all: nobody once moderation removed it (its author neither); otherwise its author always,
//! and anyone else who is not in its `hidden_from` when its privacy lets them:
//! - `public`: every member of the tenant;
//! - `followers`: people who follow the author;
//! - `close_friends`: people on the author's close-friends list;
//! - `private`: nobody else.
//!
//! Expiry ([`unexpired_for`]) then hides a story from everyone but its author once
//! `expires_at` has passed (whether or not the expiry job has run). [`visible`] is both, and
//! what reads of live stories use; highlights, which keep stories past their expiry, use
//! [`reachable`] alone.

/// The predicate for the `stories` row aliased `story`, seen by the user id the SQL expression
/// `viewer` yields (a bind parameter such as `$3`): privacy, then expiry. Both the follow and
/// close-friend lookups are primary-key probes, so the predicate costs two index lookups at
/// most per story.
pub fn visible(story: &str, viewer: &str) -> String {
    format!(
        "({} and {})",
        reachable(story, viewer),
        unexpired_for(story, viewer)
    )
}

/// [`visible`] where the query already knows whether `viewer` follows the story's author:
/// `follows` is a SQL boolean for it. The feed reads only the authors the viewer follows (and
/// the viewer), so it need not look each follow up again per story. The rule is the same one.
pub fn visible_following(story: &str, viewer: &str, follows: &str) -> String {
    format!(
        "({} and {})",
        reachable_with(story, viewer, follows),
        unexpired_for(story, viewer)
    )
}

/// The privacy part of [`visible`], expiry aside: whether `viewer` may see the story at all.
/// For highlights (which keep expired stories), and for telling an expired story (410) from
/// one that was never theirs (404).
pub fn reachable(story: &str, viewer: &str) -> String {
    reachable_with(story, viewer, &follows_author(story, viewer))
}

fn reachable_with(story: &str, viewer: &str, follows: &str) -> String {
    format!(
        "({story}.removed_at is null and ({story}.author_id = {viewer} or {}))",
        audience(story, viewer, follows)
    )
}

/// Whether `viewer` follows the story's author: a primary-key probe.
fn follows_author(story: &str, viewer: &str) -> String {
    format!(
        "exists (
            select 1 from story_follows f
            where f.gym_id = {story}.gym_id and f.follower_id = {viewer}
                and f.followee_id = {story}.author_id)"
    )
}

/// The expiry part of [`visible`]: the story is active, or `viewer` is its author (their
/// archive).
fn unexpired_for(story: &str, viewer: &str) -> String {
    format!("({story}.author_id = {viewer} or {story}.expires_at > now())")
}

/// Whether the story's privacy and `hidden_from` let `viewer`, who is not its author, see it;
/// `follows` says whether they follow the author.
fn audience(story: &str, viewer: &str, follows: &str) -> String {
    format!(
        "(not ({viewer} = any({story}.hidden_from))
            and case {story}.privacy
                when 'public' then true
                when 'followers' then {follows}
                when 'close_friends' then exists (
                    select 1 from story_close_friends c
                    where c.gym_id = {story}.gym_id and c.owner_id = {story}.author_id
                        and c.friend_id = {viewer})
                else false
            end)"
    )
}
