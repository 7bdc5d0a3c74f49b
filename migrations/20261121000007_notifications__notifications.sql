-- In-app notifications, per user and tenant. Ids are UUID v7, so `id` orders them in time and
-- doubles as the SSE event id that a reconnecting stream resumes after.
create table notifications (
    gym_id uuid not null references gyms (id) on delete cascade,
    id uuid not null,
    user_id uuid not null references users (id) on delete cascade,
    kind text not null check (kind ~ '^[a-z][a-z0-9_.]*$'),
    title text not null,
    body text not null default '',
    data jsonb not null default '{}'::jsonb,
    created_at timestamptz not null default now(),
    read_at timestamptz,
    primary key (gym_id, id)
);

create index notifications_inbox_idx on notifications (gym_id, user_id, id desc);
create index notifications_unread_idx on notifications (gym_id, user_id, id desc) where read_at is null;

alter table notifications enable row level security;
alter table notifications force row level security;
create policy tenant_isolation on notifications
    using (gym_id = (select nullif(current_setting('app.gym_id', true), '')::uuid))
    with check (gym_id = (select nullif(current_setting('app.gym_id', true), '')::uuid));
