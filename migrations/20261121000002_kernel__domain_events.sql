-- Outbox of domain events: written in the transaction of the change that causes them,
-- delivered to subscribing modules by the job worker (platform issue).
create table domain_events (
    id uuid primary key,
    gym_id uuid,
    event_type text not null check (event_type ~ '^[a-z][a-z0-9_.]*$'),
    payload jsonb not null default '{}'::jsonb,
    created_at timestamptz not null default now(),
    delivered_at timestamptz
);

create index domain_events_undelivered_idx on domain_events (created_at) where delivered_at is null;
