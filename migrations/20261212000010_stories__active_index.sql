-- The active end of each author's stories, for the feed: only stories the expiry job has not
-- marked yet (the active ones, and those expired within the last minute), so its size follows
-- the stories alive now, never the history behind them. Reads still check `expires_at`: a
-- story is expired from that instant, whether or not the job has run.
create index stories_active_author_idx on stories (gym_id, author_id, expires_at)
    where expired_at is null;
