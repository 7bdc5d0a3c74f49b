-- Which records hold each upload, through the kernel's attachments port: `story:<id>`,
-- `highlight-cover:<id>`, ... `media.attached_at` stays the time of the first claim while any
-- claim remains and goes back to null when the last one is released, so the sweep of uploads
-- nobody holds keeps working on `attached_at is null`.
create table media_claims (
    gym_id uuid not null,
    media_id uuid not null,
    holder text not null check (length(holder) between 1 and 200),
    claimed_at timestamptz not null default now(),
    primary key (gym_id, media_id, holder),
    foreign key (gym_id, media_id) references media (gym_id, id) on delete cascade
);

alter table media_claims enable row level security;
alter table media_claims force row level security;
create policy tenant_isolation on media_claims
    using (gym_id = (select nullif(current_setting('app.gym_id', true), '')::uuid))
    with check (gym_id = (select nullif(current_setting('app.gym_id', true), '')::uuid));
