-- Highlights: a person's named, ordered collections of their own stories, which never expire.
-- A story in a highlight keeps its uploads after it expires (the expiry job skips it), and
-- each reader still sees only the stories its privacy lets them (modules/stories/src/
-- visibility.rs), expired or not.
create table story_highlights (
    gym_id uuid not null references gyms (id) on delete cascade,
    id uuid not null,
    owner_id uuid not null references users (id) on delete cascade,
    title text not null check (char_length(title) between 1 and 50),
    description text check (char_length(description) <= 200),
    -- The cover: one of the owner's stories, the owner's upload (claimed with holder
    -- `highlight-cover:<id>`, its URL as the attachments port gave it), an emoji, or a
    -- `#RRGGBB` colour; exactly the columns of its kind are set.
    cover_kind text not null check (cover_kind in ('story', 'media', 'emoji', 'color')),
    cover_story_id uuid,
    cover_media_id uuid,
    cover_url text,
    cover_text text check (char_length(cover_text) between 1 and 16),
    -- The owner's order (pinned ones come first whatever their position).
    position integer not null,
    pinned boolean not null default false,
    -- Archived highlights are shown to their owner only.
    archived_at timestamptz,
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now(),
    primary key (gym_id, id),
    constraint story_highlights_cover check (
        (cover_story_id is not null) = (cover_kind = 'story')
        and (cover_media_id is not null and cover_url is not null) = (cover_kind = 'media')
        and (cover_text is not null) = (cover_kind in ('emoji', 'color')))
);
create index story_highlights_owner_idx on story_highlights (gym_id, owner_id, position, id);

create table story_highlight_items (
    gym_id uuid not null,
    highlight_id uuid not null,
    story_id uuid not null,
    position integer not null,
    added_at timestamptz not null default now(),
    primary key (gym_id, highlight_id, story_id),
    foreign key (gym_id, highlight_id) references story_highlights (gym_id, id) on delete cascade,
    foreign key (gym_id, story_id) references stories (gym_id, id) on delete cascade
);
-- Whether a story is in any highlight (the expiry job asks, story by story).
create index story_highlight_items_story_idx on story_highlight_items (gym_id, story_id);

alter table story_highlights enable row level security;
alter table story_highlights force row level security;
create policy tenant_isolation on story_highlights
    using (gym_id = (select nullif(current_setting('app.gym_id', true), '')::uuid))
    with check (gym_id = (select nullif(current_setting('app.gym_id', true), '')::uuid));

alter table story_highlight_items enable row level security;
alter table story_highlight_items force row level security;
create policy tenant_isolation on story_highlight_items
    using (gym_id = (select nullif(current_setting('app.gym_id', true), '')::uuid))
    with check (gym_id = (select nullif(current_setting('app.gym_id', true), '')::uuid));
