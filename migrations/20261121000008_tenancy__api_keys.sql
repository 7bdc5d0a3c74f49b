-- Integrators' API keys, per tenant. Only the SHA-256 of a key is kept; the key text is shown
-- once, at creation. A key acts as its creator within its scopes.
create table api_keys (
    gym_id uuid not null references gyms (id) on delete cascade,
    id uuid not null,
    name text not null,
    scopes text[] not null,
    token_digest bytea not null unique,
    -- The key's first characters, so people can tell their keys apart in lists.
    hint text not null,
    created_by uuid not null references users (id) on delete cascade,
    created_at timestamptz not null default now(),
    expires_at timestamptz,
    last_used_at timestamptz,
    revoked_at timestamptz,
    primary key (gym_id, id)
);

create index api_keys_list_idx on api_keys (gym_id, id desc);

alter table api_keys enable row level security;
alter table api_keys force row level security;
create policy tenant_isolation on api_keys
    using (gym_id = (select nullif(current_setting('app.gym_id', true), '')::uuid))
    with check (gym_id = (select nullif(current_setting('app.gym_id', true), '')::uuid));
