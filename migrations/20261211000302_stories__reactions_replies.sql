-- Reactions and replies to stories. A reaction is one emoji per person and story, changed in
-- place; a reply is a message to the story's author, which only the author reads.
create table story_reactions (
    gym_id uuid not null,
    story_id uuid not null,
    user_id uuid not null references users (id) on delete cascade,
    emoji text not null check (char_length(emoji) between 1 and 16),
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now(),
    primary key (gym_id, story_id, user_id),
    foreign key (gym_id, story_id) references stories (gym_id, id) on delete cascade
);

create table story_replies (
    gym_id uuid not null,
    id uuid not null,
    story_id uuid not null,
    user_id uuid not null references users (id) on delete cascade,
    message text not null check (char_length(message) between 1 and 1000),
    created_at timestamptz not null default now(),
    primary key (gym_id, id),
    foreign key (gym_id, story_id) references stories (gym_id, id) on delete cascade
);
-- A story's replies, newest first (ids are UUID v7).
create index story_replies_story_idx on story_replies (gym_id, story_id, id desc);

alter table story_reactions enable row level security;
alter table story_reactions force row level security;
create policy tenant_isolation on story_reactions
    using (gym_id = (select nullif(current_setting('app.gym_id', true), '')::uuid))
    with check (gym_id = (select nullif(current_setting('app.gym_id', true), '')::uuid));

alter table story_replies enable row level security;
alter table story_replies force row level security;
create policy tenant_isolation on story_replies
    using (gym_id = (select nullif(current_setting('app.gym_id', true), '')::uuid))
    with check (gym_id = (select nullif(current_setting('app.gym_id', true), '')::uuid));
