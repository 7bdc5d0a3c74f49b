-- Class credits of a tenant's people: a balance per (gym, user) and the ledger of every change
-- to it. The balance row is what concurrent spends contend on: a spend is
-- `update ... set balance = balance - n where balance >= n` in the transaction that appends
-- the ledger row, so two spends of the last credit cannot both succeed, and the check below
-- holds the line even against a query that forgets the condition.
create table credit_balances (
    gym_id uuid not null references gyms (id) on delete cascade,
    user_id uuid not null references users (id) on delete cascade,
    balance bigint not null default 0,
    updated_at timestamptz not null default now(),
    primary key (gym_id, user_id),
    constraint credit_balances_not_negative check (balance >= 0)
);

-- Append-only: every change of a balance is one row, never updated or deleted by the app
-- (grants below). `amount` is the signed change, `balance_after` the balance it left, so a
-- statement can be audited row by row. Kinds:
--   purchase    credits bought (positive); for the coming purchases of the payments issue,
--               which no route writes yet
--   spend       credits used by their holder (negative)
--   refund      a purchase reversed (negative; comes with refunds)
--   adjustment  an admin's manual change with a reason (either sign)
create table credit_transactions (
    gym_id uuid not null,
    id uuid not null,
    user_id uuid not null,
    kind text not null check (kind in ('purchase', 'spend', 'refund', 'adjustment')),
    amount bigint not null check (amount <> 0),
    balance_after bigint not null check (balance_after >= 0),
    reason text not null check (length(reason) between 1 and 200),
    -- Who made the change (the holder for spends, the admin for adjustments); kept as an id
    -- only, so the ledger never changes when an account goes.
    created_by uuid not null,
    created_at timestamptz not null default now(),
    primary key (gym_id, id),
    foreign key (gym_id, user_id) references credit_balances (gym_id, user_id) on delete cascade,
    constraint credit_transactions_sign check (
        (kind = 'purchase' and amount > 0)
        or (kind in ('spend', 'refund') and amount < 0)
        or kind = 'adjustment'
    )
);

-- A person's statement, newest first (ids are UUID v7, so id order is time order).
create index credit_transactions_user_idx on credit_transactions (gym_id, user_id, id desc);

alter table credit_balances enable row level security;
alter table credit_balances force row level security;
create policy tenant_isolation on credit_balances
    using (gym_id = (select nullif(current_setting('app.gym_id', true), '')::uuid))
    with check (gym_id = (select nullif(current_setting('app.gym_id', true), '')::uuid));

alter table credit_transactions enable row level security;
alter table credit_transactions force row level security;
create policy tenant_isolation on credit_transactions
    using (gym_id = (select nullif(current_setting('app.gym_id', true), '')::uuid))
    with check (gym_id = (select nullif(current_setting('app.gym_id', true), '')::uuid));

-- The default privileges of the app role include update and delete; the ledger takes them
-- back, so a mistake in the app (or an injected statement) cannot rewrite history. Deleting a
-- tenant or a person still removes their rows: foreign-key cascades run as the table owner.
revoke update, delete, truncate on credit_transactions from gymapi_app;
