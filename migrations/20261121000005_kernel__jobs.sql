-- The durable job queue. A job is inserted in the transaction of the change that causes it
-- (outbox), claimed with FOR UPDATE SKIP LOCKED under a lease, retried with exponential
-- backoff, and kept as `failed` once out of attempts so an operator can see and retry it.
create table jobs (
    id uuid primary key,
    kind text not null check (kind ~ '^[a-z][a-z0-9_.:-]*$'),
    gym_id uuid,
    payload jsonb not null default '{}'::jsonb,
    status text not null default 'queued' check (status in ('queued', 'running', 'succeeded', 'failed')),
    attempts integer not null default 0,
    max_attempts integer not null check (max_attempts > 0),
    run_at timestamptz not null default now(),
    -- While running: when the lease ends and another worker may take the job over.
    locked_until timestamptz,
    last_error text,
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now(),
    finished_at timestamptz
);

create index jobs_ready_idx on jobs (run_at) where status = 'queued';
create index jobs_leased_idx on jobs (locked_until) where status = 'running';
create index jobs_failed_idx on jobs (updated_at desc) where status = 'failed';

-- Periodic jobs: one row per schedule. Advancing `next_run_at` and enqueuing happen in one
-- transaction, and only the worker whose conditional update wins enqueues, so a period runs
-- once however many instances are up.
create table job_schedules (
    name text primary key,
    next_run_at timestamptz not null,
    last_run_at timestamptz
);
