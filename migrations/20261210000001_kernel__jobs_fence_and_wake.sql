-- Faster job queue (see modules/kernel/src/jobs).
--
-- `lease_token` fences a claim: every claim sets a fresh one, and a worker records its job's
-- outcome only while the token is still the one its claim set. A worker whose lease ran out
-- and whose job was taken over cannot then mark the new holder's run succeeded or failed.
alter table jobs add column lease_token uuid;

-- Idle workers LISTEN on `jobs_ready`. PostgreSQL delivers a notification when the
-- transaction that sent it commits, so a worker is woken exactly when the job it is woken for
-- becomes visible (outbox enqueues stay atomic), and never for a rolled-back one. One
-- notification per inserting statement, and none for jobs that are not due yet: the poll finds
-- those. Workers still poll, so a lost notification costs latency only.
create function jobs_notify_ready() returns trigger
language plpgsql volatile
set search_path from current
as $$
begin
    if exists (select 1 from inserted where run_at <= now()) then
        perform pg_notify('jobs_ready', '');
    end if;
    return null;
end
$$;

create trigger jobs_notify_ready
    after insert on jobs
    referencing new table as inserted
    for each statement execute function jobs_notify_ready();
