-- A tenant's own provider credentials (Stripe secret key, MercadoPago access token, and their
-- webhook signing secrets), sealed with the kernel's keys and bound to the tenant and provider
-- (`payments.credentials:<gym_id>:<provider>`): a copied row does not open elsewhere. Without a
-- row the deployment's defaults (`[payments.providers]`) apply.
create table provider_credentials (
    gym_id uuid not null references gyms (id) on delete cascade,
    provider text not null check (provider in ('stripe', 'mercadopago')),
    sealed text not null,
    -- The deployment mode the key was accepted in (`sk_test_`/`TEST-` keys in test mode).
    mode text not null check (mode in ('test', 'live')),
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now(),
    primary key (gym_id, provider)
);

alter table provider_credentials enable row level security;
alter table provider_credentials force row level security;
create policy tenant_isolation on provider_credentials
    using (gym_id = (select nullif(current_setting('app.gym_id', true), '')::uuid))
    with check (gym_id = (select nullif(current_setting('app.gym_id', true), '')::uuid));
