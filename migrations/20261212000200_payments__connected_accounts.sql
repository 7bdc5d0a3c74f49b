-- Stripe Connect (trainer build): each trainer workspace's Express account, created by the
-- platform with the idempotency key `connect-account:<gym_id>`, and its onboarding state as
-- Stripe last reported it. One account per workspace.
create table connected_accounts (
    gym_id uuid not null references gyms (id) on delete cascade,
    -- Stripe's id (`acct_…`), unique at Stripe.
    account_id text not null check (length(account_id) between 1 and 255),
    charges_enabled boolean not null default false,
    payouts_enabled boolean not null default false,
    details_submitted boolean not null default false,
    -- What Stripe still needs (currently due and past due), e.g. `individual.dob.day`.
    requirements text[] not null default '{}',
    created_at timestamptz not null default now(),
    -- When the status above was last read from Stripe; null until it first is (an account
    -- just created has no known status yet).
    updated_at timestamptz,
    primary key (gym_id)
);

-- `account.updated` names the account only: its tenant is found through this index.
create index connected_accounts_account_idx on connected_accounts (account_id);

alter table connected_accounts enable row level security;
alter table connected_accounts force row level security;
create policy tenant_isolation on connected_accounts
    using (gym_id = (select nullif(current_setting('app.gym_id', true), '')::uuid))
    with check (gym_id = (select nullif(current_setting('app.gym_id', true), '')::uuid));
-- Finding an account's tenant: a transaction that sets `app.stripe_account` may read the row
-- of that one account (fails closed when unset), and nothing else.
create policy account_lookup on connected_accounts for select
    using (account_id = (select nullif(current_setting('app.stripe_account', true), '')));
