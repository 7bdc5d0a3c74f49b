-- Responses to POST requests sent with an Idempotency-Key, kept 24 hours so a client's retry
-- replays the first answer instead of repeating the effect. `scope` is the caller (user id, or
-- "anonymous") plus method and path; `status` is null while the first request is in flight.
create table idempotency_keys (
    scope text not null,
    key text not null,
    request_hash bytea not null,
    status integer,
    content_type text,
    body bytea,
    created_at timestamptz not null default now(),
    primary key (scope, key)
);

create index idempotency_keys_created_idx on idempotency_keys (created_at);
