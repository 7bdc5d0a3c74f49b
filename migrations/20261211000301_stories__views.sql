-- Views: one row per viewer and story, the first view's time (an upsert that does nothing on
-- a repeat). The primary key, viewer first, answers "has the caller seen it" for the feed,
-- story by story or as the set of what they have seen.
create table story_views (
    gym_id uuid not null,
    story_id uuid not null,
    viewer_id uuid not null references users (id) on delete cascade,
    viewed_at timestamptz not null default now(),
    primary key (gym_id, viewer_id, story_id),
    foreign key (gym_id, story_id) references stories (gym_id, id) on delete cascade
);
-- A story's viewers, newest first.
create index story_views_story_time_idx on story_views (gym_id, story_id, viewed_at desc, viewer_id);

alter table story_views enable row level security;
alter table story_views force row level security;
create policy tenant_isolation on story_views
    using (gym_id = (select nullif(current_setting('app.gym_id', true), '')::uuid))
    with check (gym_id = (select nullif(current_setting('app.gym_id', true), '')::uuid));
