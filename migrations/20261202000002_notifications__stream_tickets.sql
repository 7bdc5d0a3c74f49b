-- Single-use tickets that open a notification stream from a browser (EventSource cannot send
-- an Authorization header). Only the SHA-256 of a ticket is kept; redeeming deletes the row,
-- so a ticket works once, on whichever instance it reaches.
create table notification_stream_tickets (
    gym_id uuid not null references gyms (id) on delete cascade,
    digest bytea not null,
    user_id uuid not null references users (id) on delete cascade,
    expires_at timestamptz not null,
    primary key (gym_id, digest)
);

alter table notification_stream_tickets enable row level security;
alter table notification_stream_tickets force row level security;
create policy tenant_isolation on notification_stream_tickets
    using (gym_id = (select nullif(current_setting('app.gym_id', true), '')::uuid))
    with check (gym_id = (select nullif(current_setting('app.gym_id', true), '')::uuid));
