-- The tenant's member directory: each membership carries the person's names and e-mail, kept
-- in step with identity through its `user_profile_changed` event, so listing and searching a
-- tenant's people is one indexed query on a tenancy table. `search_text` is the lower-cased,
-- unaccented "first last email" that `GET /api/v1/members?q=` matches with trigrams.
create extension if not exists pg_trgm;
create extension if not exists unaccent;
create extension if not exists btree_gin;

alter table gym_members
    add column first_name text not null default '',
    add column last_name text not null default '',
    add column email text not null default '',
    add column search_text text not null default '';

-- Memberships made before the directory existed: a one-time copy. From here on tenancy writes
-- these columns itself (when someone is added, and when their profile changes).
update gym_members m
set first_name = u.first_name,
    last_name = u.last_name,
    email = u.email,
    search_text = lower(unaccent(u.first_name || ' ' || u.last_name || ' ' || u.email))
from users u
where u.id = m.user_id;

-- Partial names within one tenant: gym_id first (btree_gin), then trigrams of the text.
create index gym_members_search_idx on gym_members using gin (gym_id, search_text gin_trgm_ops);
