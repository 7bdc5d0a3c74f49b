-- Crash-safe Idempotency-Key claims (see modules/kernel/src/http/idempotency.rs).
--
-- A claim is a lease: `lease_token` names the request holding it, `lease_expires_at` says
-- when a retry may take it over if it is still unanswered. Rows from before this migration
-- have neither and count as expired, so keys they left stuck are freed.
alter table idempotency_keys
    add column lease_token uuid,
    add column lease_expires_at timestamptz;

-- One row per committed transaction that ran under a lease and wrote something: the proof
-- that a request's work (or part of it) is in the database. A retry never takes over a lease
-- with such a row; it is told the outcome instead of running the work a second time.
create table idempotency_writes (
    id bigint generated always as identity primary key,
    scope text not null,
    key text not null,
    lease_token uuid not null,
    -- Rows this transaction's session had written before the fence (see below).
    writes_before bigint not null,
    created_at timestamptz not null default now(),
    foreign key (scope, key) references idempotency_keys (scope, key) on delete cascade
);

create index idempotency_writes_lease_idx on idempotency_writes (scope, key, lease_token);

-- The fence runs inside tenant transactions, as the app role (default privileges grant this
-- already when one role runs every migration; said here so it holds either way).
grant select, insert, update, delete on idempotency_keys, idempotency_writes to gymapi_app;

-- Rows inserted, updated or deleted so far by this session's pending statistics, which in the
-- middle of a transaction include that transaction's own writes. Other transactions' counts
-- may be pending too, which is why callers compare two readings taken in one transaction.
create function idempotency_rows_written() returns bigint
language sql volatile
set search_path from current
as $$
    select coalesce(sum(n_tup_ins + n_tup_upd + n_tup_del), 0)::bigint
      from pg_catalog.pg_stat_xact_user_tables
     where relid <> 'idempotency_writes'::regclass
$$;

-- The fence, run first thing in every scoped transaction of a request that holds a lease
-- (kernel::db::begin_tenant / begin_user). It fails with SQLSTATE GYL01 unless the lease is
-- still this request's and unexpired; otherwise it holds a share lock on the claim row until
-- the transaction ends, so a retry cannot take the lease over while the transaction is open,
-- and records a write marker that exists after commit only if the transaction wrote.
create function idempotency_fence(p_scope text, p_key text, p_token uuid) returns void
language plpgsql volatile
set search_path from current
as $$
begin
    perform 1
       from idempotency_keys
      where scope = p_scope and key = p_key and lease_token = p_token
        and status is null and lease_expires_at > now()
        for share;
    if not found then
        raise exception 'the lease on this Idempotency-Key is no longer held by this request'
            using errcode = 'GYL01';
    end if;
    insert into idempotency_writes (scope, key, lease_token, writes_before)
    values (p_scope, p_key, p_token, idempotency_rows_written());
end
$$;

-- At commit: a transaction that wrote nothing besides its marker drops the marker, so a read
-- (resolving the caller's tenant, say) does not count as work done. Without statistics
-- (track_counts off) there is no telling, and the marker stays: a retry is then refused
-- rather than run twice.
create function idempotency_writes_check() returns trigger
language plpgsql volatile
set search_path from current
as $$
begin
    if current_setting('track_counts')::boolean
       and idempotency_rows_written() = new.writes_before then
        delete from idempotency_writes where id = new.id;
    end if;
    return null;
end
$$;

create constraint trigger idempotency_writes_check
    after insert on idempotency_writes
    deferrable initially deferred
    for each row execute function idempotency_writes_check();
