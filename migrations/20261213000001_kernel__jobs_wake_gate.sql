-- Job wake-ups at most once every 5 ms.
--
-- A transaction that sends NOTIFY takes one lock for the whole cluster as it commits and holds
-- it until its commit is on disk, so every transaction that notifies commits after the other:
-- concurrent credit spends, each enqueueing its event's dispatch, ran at 1,031/s with the
-- notification and 1,576/s without. One notification wakes the workers for every job
-- committed by then, so the trigger now notifies only when the last notification is 5 ms old
-- or more. The clock is a sequence, because `setval` is not transactional: it is seen at once
-- and never waits for another transaction. Workers claim once more 10 ms after a wake-up
-- (modules/kernel/src/jobs/worker.rs) for the jobs whose notification was skipped, and poll
-- as before; a skipped notification costs latency, never a job.
create sequence jobs_wake_clock minvalue 0 start 0;
grant select, update on sequence jobs_wake_clock to gymapi_app;

create or replace function jobs_notify_ready() returns trigger
language plpgsql volatile
set search_path from current
as $$
declare
    now_ms bigint := (extract(epoch from clock_timestamp()) * 1000)::bigint;
begin
    if exists (select 1 from inserted where run_at <= now())
        and now_ms - (select last_value from jobs_wake_clock) >= 5
    then
        perform setval('jobs_wake_clock', now_ms);
        perform pg_notify('jobs_ready', '');
    end if;
    return null;
end
$$;
