-- The feed's trays: for each viewer, the active stories their feed shows (their own, and those
-- of the people they follow that the visibility rule lets them see), with whether they have
-- seen each. The feed's order is one range of this table (about 700 rows for someone who
-- follows 200 people), where working it out from `stories` meant reading every followed
-- author's stories, the rule's lookups and a view probe per story (about 6 ms).
--
-- Trays are kept on write (a new story, a follow, a close-friends change, a removal, a first
-- view, the expiry job) and built on the viewer's first feed read: `story_trays` says whose
-- tray is built, so stories posted before it existed, or seeded in SQL, are never missed.
create table story_trays (
    gym_id uuid not null references gyms (id) on delete cascade,
    viewer_id uuid not null references users (id) on delete cascade,
    built_at timestamptz not null default now(),
    primary key (gym_id, viewer_id)
);

-- One row per viewer and story. `seen` is in no index, so marking a story seen is an update
-- PostgreSQL makes in place (heap-only), without new index entries. A deleted tenant takes
-- its trays with its stories (through the story's key).
create table story_tray_items (
    gym_id uuid not null,
    viewer_id uuid not null,
    story_id uuid not null,
    author_id uuid not null,
    created_at timestamptz not null,
    expires_at timestamptz not null,
    seen boolean not null default false,
    primary key (gym_id, viewer_id, story_id),
    foreign key (gym_id, story_id) references stories (gym_id, id) on delete cascade
);
-- A story's rows in every tray: for its deletion, its removal and its expiry.
create index story_tray_items_story_idx on story_tray_items (gym_id, story_id);

alter table story_trays enable row level security;
alter table story_trays force row level security;
create policy tenant_isolation on story_trays
    using (gym_id = (select nullif(current_setting('app.gym_id', true), '')::uuid))
    with check (gym_id = (select nullif(current_setting('app.gym_id', true), '')::uuid));

alter table story_tray_items enable row level security;
alter table story_tray_items force row level security;
create policy tenant_isolation on story_tray_items
    using (gym_id = (select nullif(current_setting('app.gym_id', true), '')::uuid))
    with check (gym_id = (select nullif(current_setting('app.gym_id', true), '')::uuid));
