-- Seeds the stories bench (scripts/bench, section k) in gym :'gym': :members members, each
-- following :follows others, :active active stories and :expired expired ones behind them.
-- psql variables: gym, members, follows, active, expired. Everything in set-based statements
-- (generate_series), so millions of rows take minutes, not hours.
\set ON_ERROR_STOP on
create temporary table bench_people as
    select gen_random_uuid() as id, i from generate_series(1, :members) as i;
create unique index on bench_people (i);
insert into users (id, email, password_hash, first_name, last_name)
    select id, 'story' || i || '@bench.example', 'not-a-password-hash', 'Story', 'Teller ' || i
    from bench_people;
insert into gym_members (gym_id, user_id, role, first_name, last_name, email, search_text)
    select :'gym', id, 'member', 'Story', 'Teller ' || i, 'story' || i || '@bench.example',
        'story teller ' || i || ' story' || i || '@bench.example'
    from bench_people;
-- Member i follows i + 13k (k = 1..follows, modulo members): distinct people, never oneself.
insert into story_follows (gym_id, follower_id, followee_id)
    select :'gym', a.id, b.id
    from bench_people a
    cross join generate_series(1, :follows) as k
    join bench_people b on b.i = 1 + (a.i + 13 * k) % :members;
-- Every tenth person's close friends: the first ten they follow.
insert into story_close_friends (gym_id, owner_id, friend_id)
    select :'gym', a.id, b.id
    from bench_people a
    cross join generate_series(1, 10) as k
    join bench_people b on b.i = 1 + (a.i + 13 * k) % :members
    where a.i % 10 = 0;
-- Active stories: posted within the last 23 hours, by author n modulo members; 70% public,
-- 20% followers, 7% close friends, 3% private.
insert into stories (gym_id, id, author_id, kind, display_seconds, privacy, content, created_at, expires_at)
    select :'gym', gen_random_uuid(), p.id, 'text', 5,
        case when n % 100 < 70 then 'public' when n % 100 < 90 then 'followers'
             when n % 100 < 97 then 'close_friends' else 'private' end,
        '{"text": {"text": "Leg day", "background_color": "#FF8800"}}',
        now() - make_interval(secs => (n::bigint * 7919) % 82800), now() - make_interval(secs => (n::bigint * 7919) % 82800) + interval '24 hours'
    from generate_series(1, :active) as n
    join bench_people p on p.i = 1 + n % :members;
-- The expired history: posted over the last 60 days, each gone a day later, and marked by
-- the expiry job (as it is within a minute in a running deployment).
insert into stories (gym_id, id, author_id, kind, display_seconds, privacy, content, created_at, expires_at, expired_at)
    select :'gym', gen_random_uuid(), p.id, 'text', 5, 'public',
        '{"text": {"text": "Old news", "background_color": "#000000"}}',
        now() - interval '25 hours' - make_interval(secs => (n::bigint * 7919) % 5184000),
        now() - interval '1 hour' - make_interval(secs => (n::bigint * 7919) % 5184000),
        now() - interval '1 hour' - make_interval(secs => (n::bigint * 7919) % 5184000)
    from generate_series(1, :expired) as n
    join bench_people p on p.i = 1 + n % :members;
-- Vacuumed as well as analysed, as autovacuum leaves tables in a running deployment: reads of
-- tables written a moment ago would measure the visibility map being rebuilt (every
-- index-only scan visiting the heap), and autovacuum doing it in the middle of the run.
vacuum analyze story_follows;
vacuum analyze story_close_friends;
vacuum analyze stories;
vacuum analyze gym_members;
