-- Tenants: gyms and personal-trainer workspaces. `gyms` is the tenant registry itself (its id
-- is the tenant id), so it is not under row-level security; the tables below are.
create table gyms (
    id uuid primary key,
    kind text not null check (kind in ('gym', 'personal_trainer')),
    name text not null check (length(btrim(name)) between 1 and 120),
    timezone text not null,
    currency char(3) not null check (currency ~ '^[A-Z]{3}$'),
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now()
);

create table gym_members (
    gym_id uuid not null references gyms (id) on delete cascade,
    user_id uuid not null references users (id) on delete cascade,
    role text not null check (role in ('owner', 'admin', 'trainer', 'member')),
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now(),
    primary key (gym_id, user_id)
);

-- Resolving a caller's tenants starts from the user.
create index gym_members_user_idx on gym_members (user_id, gym_id);
-- Keyset pagination of a gym's people.
create index gym_members_listing_idx on gym_members (gym_id, created_at, user_id);

-- Explicit per-tenant module choices; a module without a row uses its default for the build.
create table gym_modules (
    gym_id uuid not null references gyms (id) on delete cascade,
    module_code text not null check (module_code ~ '^[a-z][a-z0-9_]*$'),
    enabled boolean not null,
    updated_at timestamptz not null default now(),
    updated_by uuid references users (id) on delete set null,
    primary key (gym_id, module_code)
);

-- Row-level security. The policy expression is wrapped in (select ...) so it is evaluated once
-- per statement, and nullif(...) makes an unset or reset setting match nothing (fail closed).
alter table gym_members enable row level security;
alter table gym_members force row level security;
create policy tenant_isolation on gym_members
    using (gym_id = (select nullif(current_setting('app.gym_id', true), '')::uuid))
    with check (gym_id = (select nullif(current_setting('app.gym_id', true), '')::uuid));
-- A caller may read their own memberships across tenants (to resolve which tenant they act in).
create policy own_memberships on gym_members for select
    using (user_id = (select nullif(current_setting('app.user_id', true), '')::uuid));

alter table gym_modules enable row level security;
alter table gym_modules force row level security;
create policy tenant_isolation on gym_modules
    using (gym_id = (select nullif(current_setting('app.gym_id', true), '')::uuid))
    with check (gym_id = (select nullif(current_setting('app.gym_id', true), '')::uuid));
