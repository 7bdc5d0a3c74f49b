-- Stories: 24-hour posts of a tenant's people, who follows whom, and close-friends lists.
-- Who may see a story is one SQL predicate, built in one place (modules/stories/src/
-- visibility.rs) and used by every read; the indexes below serve it.

-- Follows inside a tenant: `follower_id` sees `followee_id`'s followers-only stories, and
-- their stories in the feed.
create table story_follows (
    gym_id uuid not null references gyms (id) on delete cascade,
    follower_id uuid not null references users (id) on delete cascade,
    followee_id uuid not null references users (id) on delete cascade,
    created_at timestamptz not null default now(),
    primary key (gym_id, follower_id, followee_id),
    constraint story_follows_not_self check (follower_id <> followee_id)
);
-- Someone's followers, and whom someone follows, newest first (the primary key serves the
-- feed and the visibility rule's probe).
create index story_follows_followee_idx on story_follows (gym_id, followee_id, created_at desc, follower_id);
create index story_follows_follower_idx on story_follows (gym_id, follower_id, created_at desc, followee_id);

-- A person's close friends: `friend_id` sees `owner_id`'s close-friends stories.
create table story_close_friends (
    gym_id uuid not null references gyms (id) on delete cascade,
    owner_id uuid not null references users (id) on delete cascade,
    friend_id uuid not null references users (id) on delete cascade,
    created_at timestamptz not null default now(),
    primary key (gym_id, owner_id, friend_id),
    constraint story_close_friends_not_self check (owner_id <> friend_id)
);
create index story_close_friends_list_idx on story_close_friends (gym_id, owner_id, created_at desc, friend_id);

create table stories (
    gym_id uuid not null references gyms (id) on delete cascade,
    id uuid not null,
    author_id uuid not null references users (id) on delete cascade,
    kind text not null check (kind in ('image', 'video', 'text', 'workout', 'achievement')),
    caption text check (char_length(caption) <= 2200),
    display_seconds smallint not null check (display_seconds between 1 and 15),
    privacy text not null check (privacy in ('public', 'followers', 'close_friends', 'private')),
    -- People who never see it, whatever the privacy says.
    hidden_from uuid[] not null default '{}',
    -- The claimed upload as the attachments port described it (image and video stories): id,
    -- kind, content type, URL and, for videos, the thumbnail's id and URL.
    media jsonb,
    -- The kind's own data: text and background, a workout, an achievement.
    content jsonb not null default '{}',
    created_at timestamptz not null default now(),
    -- Past this the story is gone from every read but its author's archive, whether or not
    -- the expiry job has run.
    expires_at timestamptz not null,
    primary key (gym_id, id),
    constraint stories_lifetime check (expires_at > created_at)
);
-- An author's stories by expiry: the feed and a person's stories read only the active end
-- (expires_at > now()), however long the expired history behind it grows; the archive reads
-- the other end.
create index stories_author_expiry_idx on stories (gym_id, author_id, expires_at, id);

alter table story_follows enable row level security;
alter table story_follows force row level security;
create policy tenant_isolation on story_follows
    using (gym_id = (select nullif(current_setting('app.gym_id', true), '')::uuid))
    with check (gym_id = (select nullif(current_setting('app.gym_id', true), '')::uuid));

alter table story_close_friends enable row level security;
alter table story_close_friends force row level security;
create policy tenant_isolation on story_close_friends
    using (gym_id = (select nullif(current_setting('app.gym_id', true), '')::uuid))
    with check (gym_id = (select nullif(current_setting('app.gym_id', true), '')::uuid));

alter table stories enable row level security;
alter table stories force row level security;
create policy tenant_isolation on stories
    using (gym_id = (select nullif(current_setting('app.gym_id', true), '')::uuid))
    with check (gym_id = (select nullif(current_setting('app.gym_id', true), '')::uuid));
