-- Insights count every view, not only the first: a view of a story seen before adds one here
-- (its row keeps the first view's time).
alter table story_views add column view_count integer not null default 1 check (view_count > 0);
-- The dashboard's figures of today: stories posted and reactions given since midnight.
create index stories_created_idx on stories (gym_id, created_at);
create index story_reactions_created_idx on story_reactions (gym_id, created_at);
create index story_views_time_idx on story_views (gym_id, viewed_at);
