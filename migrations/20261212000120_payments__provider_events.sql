-- The inbox of provider webhooks: each verified event stored once (unique on provider and the
-- provider's event id), and a `payments.provider_event` job enqueued in the same transaction
-- only when the row is new, so duplicates of an event (providers retry, and deliver
-- concurrently) cost one row and one job. Events are hints: the job re-fetches the object
-- from the provider before it moves anything, so the inbox keeps ids and kinds, never bodies.
--
-- No row-level security: an event on the platform's endpoint (Stripe's account and its
-- Connect accounts) arrives before anyone knows its tenant (`gym_id` null until the job has
-- fetched the object and found our payment); events on a tenant's own endpoint
-- (`/api/v1/webhooks/{provider}/{gym_id}`) carry it. Only the webhook routes and the job read
-- or write it, never a tenant's request.
create table provider_events (
    id uuid primary key,
    provider text not null check (provider in ('stripe', 'mercadopago')),
    event_key text not null check (length(event_key) between 1 and 255),
    gym_id uuid references gyms (id) on delete cascade,
    kind text not null,
    object_ref text not null check (length(object_ref) between 1 and 255),
    subscription_ref text,
    account text,
    occurred_at timestamptz not null,
    received_at timestamptz not null default now(),
    -- Set by the job: when it was done with the event, and what it did.
    processed_at timestamptz,
    outcome text,
    unique (provider, event_key)
);

create index provider_events_unprocessed_idx on provider_events (received_at)
    where processed_at is null;
