-- Hosted checkouts. A payment made through one remembers when its checkout stops taking money
-- (reconciliation cancels it after that) and, for a Stripe Connect destination charge, the
-- connected account (`acct_...`), so its refunds reverse the transfer and the fee.
alter table payments
    add column connect_account text,
    add column checkout_expires_at timestamptz;

-- Which tenant a provider payment belongs to. A webhook on the platform's endpoint names no
-- tenant, and neither does the object re-fetched from the provider: it carries our payment id
-- (the external reference) only. Row-level security would hide the payment from a query that
-- does not know its tenant yet, so this index, which holds ids and nothing else, has none: the
-- webhook and reconciliation jobs read it to open the right tenant's transaction, where every
-- further statement is scoped as usual. Written in the checkout's own transaction.
create table payment_tenants (
    payment_id uuid primary key,
    gym_id uuid not null references gyms (id) on delete cascade,
    provider text not null check (provider in ('stripe', 'mercadopago'))
);

create index payments_reconcile_idx on payments (created_at)
    where status = 'pending' and provider <> 'manual';
