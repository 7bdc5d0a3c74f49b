-- The expiry job's marks on a story: when it found it expired (and published story.expired),
-- and when it released its uploads after the grace period. Reads never look at these: a
-- story is expired from its expires_at, whether or not the job has run.
alter table stories
    add column expired_at timestamptz,
    add column media_released_at timestamptz;
-- What the job still has to do, oldest first, whatever the history behind it.
create index stories_unmarked_idx on stories (gym_id, expires_at) where expired_at is null;
create index stories_media_held_idx on stories (gym_id, expires_at)
    where media is not null and media_released_at is null;
