-- Payments, their refunds and the memberships plan payments pay for.
--
-- A payment's status only moves forward (see `modules/payments/src/state.rs`):
--   pending -> succeeded | failed | cancelled
--   succeeded -> partially_refunded | refunded, partially_refunded -> refunded
-- and every move is one conditional update (`where status = any(<allowed from>)`), so
-- duplicated or reordered observations of a payment converge on the same row.
create table payments (
    gym_id uuid not null references gyms (id) on delete cascade,
    id uuid not null,
    -- The member who pays (an id only: the payment stays when the account goes).
    user_id uuid not null,
    product_id uuid,
    amount_minor bigint not null check (amount_minor > 0),
    currency char(3) not null check (currency ~ '^[A-Z]{3}$'),
    refunded_minor bigint not null default 0,
    status text not null default 'pending' check (
        status in ('pending', 'succeeded', 'failed', 'cancelled', 'partially_refunded', 'refunded')
    ),
    provider text not null check (provider in ('stripe', 'mercadopago', 'manual')),
    -- The provider's id of the payment (Stripe's checkout session or payment intent,
    -- MercadoPago's payment id), once known; `null` for manual ones.
    provider_ref text,
    -- What we hand the provider to find this row again: our payment id.
    external_reference text not null,
    -- Manual payments: how it was paid, who recorded it, and their note.
    method text check (method in ('cash', 'transfer')),
    recorded_by uuid,
    note text check (length(note) <= 500),
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now(),
    succeeded_at timestamptz,
    primary key (gym_id, id),
    foreign key (gym_id, product_id) references products (gym_id, id),
    -- Leads with gym_id like every unique key of a tenant table (DESIGN §3); provider webhooks
    -- name the tenant (route or metadata), so lookups by reference have it.
    unique (gym_id, provider, provider_ref),
    constraint payments_refund_bounds check (refunded_minor between 0 and amount_minor),
    constraint payments_manual_shape check (
        provider <> 'manual' or (method is not null and recorded_by is not null)
    )
);

create index payments_list_idx on payments (gym_id, id desc);
create index payments_member_idx on payments (gym_id, user_id, id desc);
create index payments_pending_idx on payments (gym_id) where status = 'pending';

-- Money given back. A refund row is written before the provider is asked (idempotency key
-- `refund:<id>`), so a crash leaves a `pending` row a retry completes; manual refunds
-- complete in the transaction that writes them.
create table refunds (
    gym_id uuid not null,
    id uuid not null,
    payment_id uuid not null,
    amount_minor bigint not null check (amount_minor > 0),
    status text not null default 'pending' check (status in ('pending', 'succeeded', 'failed')),
    reason text not null check (length(reason) between 1 and 200),
    -- Credits of a credit-package purchase taken back by this refund (its unspent share).
    credits_reversed bigint not null default 0 check (credits_reversed >= 0),
    provider_ref text,
    -- Who asked; `null` for refunds the provider reported without us asking.
    requested_by uuid,
    created_at timestamptz not null default now(),
    completed_at timestamptz,
    primary key (gym_id, id),
    foreign key (gym_id, payment_id) references payments (gym_id, id) on delete cascade
);

create index refunds_payment_idx on refunds (gym_id, payment_id, id);

-- Memberships. A succeeded plan payment creates one or extends it; a failed renewal makes it
-- `past_due` until `grace_until` (access is not cut on the first failure); cancellation ends
-- it at the end of the paid period, the end of grace at once.
create table subscriptions (
    gym_id uuid not null references gyms (id) on delete cascade,
    id uuid not null,
    user_id uuid not null,
    product_id uuid not null,
    status text not null check (status in ('active', 'past_due', 'cancelled', 'ended')),
    current_period_end timestamptz not null,
    grace_until timestamptz,
    provider text check (provider in ('stripe', 'mercadopago', 'manual')),
    provider_ref text,
    cancelled_at timestamptz,
    ended_at timestamptz,
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now(),
    primary key (gym_id, id),
    foreign key (gym_id, product_id) references products (gym_id, id)
);

-- One live membership per member and plan: a second payment extends it.
create unique index subscriptions_live_idx on subscriptions (gym_id, user_id, product_id)
    where status in ('active', 'past_due', 'cancelled');
create index subscriptions_list_idx on subscriptions (gym_id, id desc);

alter table payments enable row level security;
alter table payments force row level security;
create policy tenant_isolation on payments
    using (gym_id = (select nullif(current_setting('app.gym_id', true), '')::uuid))
    with check (gym_id = (select nullif(current_setting('app.gym_id', true), '')::uuid));

alter table refunds enable row level security;
alter table refunds force row level security;
create policy tenant_isolation on refunds
    using (gym_id = (select nullif(current_setting('app.gym_id', true), '')::uuid))
    with check (gym_id = (select nullif(current_setting('app.gym_id', true), '')::uuid));

alter table subscriptions enable row level security;
alter table subscriptions force row level security;
create policy tenant_isolation on subscriptions
    using (gym_id = (select nullif(current_setting('app.gym_id', true), '')::uuid))
    with check (gym_id = (select nullif(current_setting('app.gym_id', true), '')::uuid));

-- Ledger rows caused by a payment or a refund name it, once per kind: the grant of a
-- purchase (`payment:<id>`) and the reversal of a refund (`refund:<id>`) can each be written
-- once only, whatever retries or duplicated provider events do.
alter table credit_transactions add column source text;
create unique index credit_transactions_source_idx
    on credit_transactions (gym_id, kind, source) where source is not null;
