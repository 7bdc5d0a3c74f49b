-- Integrators' webhook endpoints and the log of what was sent to them.
create table webhook_endpoints (
    gym_id uuid not null references gyms (id) on delete cascade,
    id uuid not null,
    url text not null,
    description text not null default '',
    -- Public event types (see each module's catalog) this endpoint receives.
    event_types text[] not null,
    enabled boolean not null default true,
    -- Kept readable because every delivery is signed with it; shown to people once.
    secret text not null,
    -- After a rotation the old secret keeps signing (alongside the new one) until it expires.
    previous_secret text,
    previous_secret_expires_at timestamptz,
    created_by uuid references users (id) on delete set null,
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now(),
    primary key (gym_id, id)
);

create table webhook_deliveries (
    gym_id uuid not null,
    id uuid not null,
    endpoint_id uuid not null,
    -- The domain event (or ping) delivered; receivers de-duplicate on it, so a replay keeps it.
    event_id uuid not null,
    event_type text not null,
    -- The exact bytes sent, so retries and replays send the same body.
    body text not null,
    status text not null default 'pending' check (status in ('pending', 'succeeded', 'failed')),
    attempts integer not null default 0,
    last_status_code integer,
    last_error text,
    last_attempt_at timestamptz,
    next_attempt_at timestamptz,
    replay_of uuid,
    created_at timestamptz not null default now(),
    primary key (gym_id, id),
    foreign key (gym_id, endpoint_id) references webhook_endpoints (gym_id, id) on delete cascade
);

-- One delivery per event and endpoint, however often the fan-out job runs (replays aside).
create unique index webhook_deliveries_once_idx on webhook_deliveries (endpoint_id, event_id)
    where replay_of is null;
create index webhook_deliveries_log_idx on webhook_deliveries (gym_id, endpoint_id, id desc);

alter table webhook_endpoints enable row level security;
alter table webhook_endpoints force row level security;
create policy tenant_isolation on webhook_endpoints
    using (gym_id = (select nullif(current_setting('app.gym_id', true), '')::uuid))
    with check (gym_id = (select nullif(current_setting('app.gym_id', true), '')::uuid));

alter table webhook_deliveries enable row level security;
alter table webhook_deliveries force row level security;
create policy tenant_isolation on webhook_deliveries
    using (gym_id = (select nullif(current_setting('app.gym_id', true), '')::uuid))
    with check (gym_id = (select nullif(current_setting('app.gym_id', true), '')::uuid));
