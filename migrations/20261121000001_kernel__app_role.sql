-- The role tenant work runs as. Transactions switch to it with set_config('role', ..., true),
-- so row-level security applies even when the login role owns the tables. It cannot log in,
-- is not a superuser and cannot bypass RLS. Roles are cluster-wide: several databases (or
-- several test databases migrating at once) may race to create it, so losing the race is fine.
do $$
begin
    if not exists (select from pg_roles where rolname = 'gymapi_app') then
        begin
            create role gymapi_app nologin nosuperuser nobypassrls noinherit;
        exception when others then
            if not exists (select from pg_roles where rolname = 'gymapi_app') then
                raise;
            end if;
        end;
    end if;
end
$$;

-- The login role must be a member to switch to it (superusers may anyway).
do $$
begin
    execute format('grant gymapi_app to %I', current_user);
exception when others then
    raise notice 'could not grant gymapi_app to %: %; grant it by hand if % is not a superuser',
        current_user, sqlerrm, current_user;
end
$$;

grant usage on schema public to gymapi_app;
-- Every table later migrations create is usable by the app role; RLS decides which rows.
alter default privileges in schema public grant select, insert, update, delete on tables to gymapi_app;
