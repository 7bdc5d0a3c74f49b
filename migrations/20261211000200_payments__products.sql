-- What a tenant sells: membership plans (recurring, every `interval_count` months or years)
-- and credit packages (one-off, granting `credits` class credits). Prices are integer minor
-- units of the tenant's currency (the service refuses another currency); never a float.
create table products (
    gym_id uuid not null references gyms (id) on delete cascade,
    id uuid not null,
    kind text not null check (kind in ('plan', 'credit_package')),
    name text not null check (length(name) between 1 and 120),
    price_minor bigint not null check (price_minor > 0),
    currency char(3) not null check (currency ~ '^[A-Z]{3}$'),
    credits bigint check (credits between 1 and 1000000),
    interval_unit text check (interval_unit in ('month', 'year')),
    interval_count integer check (interval_count between 1 and 36),
    active boolean not null default true,
    -- Set on the packages every tenant starts with, so seeding them again (a retried job, the
    -- back-fill below) adds nothing and keeps whatever the tenant changed.
    default_key text,
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now(),
    primary key (gym_id, id),
    unique (gym_id, default_key),
    constraint products_shape check (
        (kind = 'credit_package' and credits is not null
            and interval_unit is null and interval_count is null)
        or (kind = 'plan' and credits is null
            and interval_unit is not null and interval_count is not null)
    )
);

alter table products enable row level security;
alter table products force row level security;
create policy tenant_isolation on products
    using (gym_id = (select nullif(current_setting('app.gym_id', true), '')::uuid))
    with check (gym_id = (select nullif(current_setting('app.gym_id', true), '')::uuid));

-- The four packages a new tenant starts with (100 credits = 10.00, 500 = 45.00,
-- 1000 = 80.00, 2000 = 150.00), priced in `currency`, whose minor unit is `scale` times
-- smaller than its major one (100 for EUR, 1 for JPY, 1000 for KWD). The one list of them:
-- the `payments.seed_default_products` job calls it for each new tenant (with the scale from
-- the kernel's ISO table), the back-fill below for the tenants that existed before. Runs as
-- the caller, so row-level security applies to the job's tenant transaction.
create function payments_seed_default_products(p_gym_id uuid, p_currency text, p_scale bigint)
returns integer
language sql
as $$
    with inserted as (
        insert into products (gym_id, id, kind, name, price_minor, currency, credits, default_key)
        select p_gym_id, gen_random_uuid(), 'credit_package', seed.name, seed.major * p_scale,
               p_currency, seed.credits, seed.key
        from (values
            ('credits_100', '100 credits', 100, 10),
            ('credits_500', '500 credits', 500, 45),
            ('credits_1000', '1000 credits', 1000, 80),
            ('credits_2000', '2000 credits', 2000, 150)
        ) as seed (key, name, credits, major)
        on conflict (gym_id, default_key) do nothing
        returning 1
    )
    select count(*)::integer from inserted
$$;

-- Tenants created before this migration. The decimals of the currencies a tenant may use
-- other than 2 come from ISO 4217 (the kernel's `money` module reads the same table).
select payments_seed_default_products(
    id,
    currency,
    case
        when currency in ('BIF', 'CLP', 'DJF', 'GNF', 'ISK', 'JPY', 'KMF', 'KRW', 'PYG', 'RWF',
                          'UGX', 'UYI', 'VND', 'VUV', 'XAF', 'XOF', 'XPF') then 1
        when currency in ('BHD', 'IQD', 'JOD', 'KWD', 'LYD', 'OMR', 'TND') then 1000
        when currency in ('CLF', 'UYW') then 10000
        else 100
    end
)
from gyms;
