-- The feed's index: each author's stories the expiry job has not marked (the active ones, and
-- those expired since its last run), carrying every column the feed and its visibility rule
-- read. A feed reads about four stories per followed author from this index alone (an
-- index-only scan, two or three pages per author), and the expired history is not in it at all.
create index stories_active_author_idx on stories (gym_id, author_id, expires_at)
    include (id, created_at, privacy, removed_at, hidden_from)
    where expired_at is null;
