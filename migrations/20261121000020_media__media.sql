-- Uploaded files (images and videos) of a tenant. The bytes live in object storage under `key`
-- (`<gym_id>/<random>.<ext>`, unguessable, served at /media/<key>); a thumbnail, once a job has
-- made it, under `thumbnail_key`. Uploads are attached to something (a story, an avatar, ...)
-- through the media module's `attach`; those never attached are swept after a day.
create table media (
    gym_id uuid not null references gyms (id) on delete cascade,
    id uuid not null,
    uploaded_by uuid references users (id) on delete set null,
    key text not null,
    content_type text not null,
    bytes bigint not null check (bytes > 0),
    width integer check (width > 0),
    height integer check (height > 0),
    thumbnail_key text,
    created_at timestamptz not null default now(),
    attached_at timestamptz,
    primary key (gym_id, id),
    constraint media_key_key unique (gym_id, key)
);

-- /media/<key> finds thumbnails too.
create unique index media_thumbnail_key_idx on media (gym_id, thumbnail_key) where thumbnail_key is not null;
-- The sweep of uploads never attached.
create index media_unattached_idx on media (gym_id, created_at) where attached_at is null;

alter table media enable row level security;
alter table media force row level security;
create policy tenant_isolation on media
    using (gym_id = (select nullif(current_setting('app.gym_id', true), '')::uuid))
    with check (gym_id = (select nullif(current_setting('app.gym_id', true), '')::uuid));
