-- Whose close friend someone is. The visibility rule asks, story by story, whether the viewer
-- is on the author's list (a primary-key probe). Under a generic plan, PostgreSQL may instead
-- hash every list the viewer is on, once per statement, and that subquery compares only
-- `friend_id` with a constant (the author is the hashed side). Without this index, finding
-- those lists meant reading the tenant's whole close-friends table: 5,000 rows, 52 pages, on
-- every read of a page of stories in the bench's tenant. With it, the hash holds the viewer's
-- own rows, a handful. `friend_id` leads because it is the column the subquery always fixes.
create index story_close_friends_friend_idx on story_close_friends (friend_id, gym_id, owner_id);
