-- Followers hear of an author's new stories at most once per batching window: the first story
-- of a window opens the author's batch (due at the window's end, one job), later ones find it
-- open; the job closes it and tells every follower who may see one of the stories posted since
-- the previous batch, in one step.
create table story_new_story_batches (
    gym_id uuid not null references gyms (id) on delete cascade,
    author_id uuid not null references users (id) on delete cascade,
    -- Set while a batch is open: when its job runs.
    due_at timestamptz,
    -- Stories posted up to this instant have been announced (none yet while null).
    announced_through timestamptz,
    primary key (gym_id, author_id)
);

alter table story_new_story_batches enable row level security;
alter table story_new_story_batches force row level security;
create policy tenant_isolation on story_new_story_batches
    using (gym_id = (select nullif(current_setting('app.gym_id', true), '')::uuid))
    with check (gym_id = (select nullif(current_setting('app.gym_id', true), '')::uuid));
