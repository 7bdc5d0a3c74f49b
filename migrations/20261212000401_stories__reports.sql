-- Moderation: members report stories, admins and owners resolve each report by dismissing
-- it or removing the story. A removed story keeps its row (reports and insights refer to it)
-- but the visibility rule excludes it from every read, its author's included.
alter table stories
    add column removed_at timestamptz,
    add column removed_by uuid references users (id) on delete set null;

create table story_reports (
    gym_id uuid not null,
    id uuid not null,
    story_id uuid not null,
    reporter_id uuid not null references users (id) on delete cascade,
    reason text not null check (reason in ('spam', 'harassment', 'nudity', 'violence', 'hate', 'self_harm', 'other')),
    details text check (char_length(details) <= 500),
    status text not null default 'open' check (status in ('open', 'dismissed', 'removed')),
    created_at timestamptz not null default now(),
    resolved_at timestamptz,
    resolved_by uuid references users (id) on delete set null,
    resolution_note text check (char_length(resolution_note) <= 500),
    primary key (gym_id, id),
    foreign key (gym_id, story_id) references stories (gym_id, id) on delete cascade,
    constraint story_reports_resolved check ((status = 'open') = (resolved_at is null))
);
-- One open report per reporter and story.
create unique index story_reports_one_open_idx on story_reports (gym_id, story_id, reporter_id)
    where status = 'open';
-- The queue: open first, newest first (ids are UUID v7), by status.
create index story_reports_queue_idx on story_reports (gym_id, (status = 'open') desc, id desc);
create index story_reports_status_idx on story_reports (gym_id, status, id desc);

alter table story_reports enable row level security;
alter table story_reports force row level security;
create policy tenant_isolation on story_reports
    using (gym_id = (select nullif(current_setting('app.gym_id', true), '')::uuid))
    with check (gym_id = (select nullif(current_setting('app.gym_id', true), '')::uuid));
