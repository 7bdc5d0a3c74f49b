-- A viewer's recent views as one index range, for the feed's `seen` (stories::feed_repo::groups):
-- probing story_views once per story in the feed cost two buffers a story, a third of the
-- feed's reads.
create index story_views_viewer_time_idx on story_views (gym_id, viewer_id, viewed_at) include (story_id);
