-- Interactive stickers on stories (polls, quizzes, questions, sliders, countdowns, mentions,
-- locations, personal records, class countdowns) and the responses people give them.
--
-- A sticker's kind-specific part (a poll's options, a quiz's answer, a record's exercise...)
-- is one jsonb document, `data`: nine kinds with disjoint fields would otherwise be some
-- twenty nullable columns held together by per-kind checks, while the data is written once
-- with the story and always read whole with it (the service validates it per kind). What
-- SQL itself filters or schedules on is typed: the kind, the position, and `ends_at`, the
-- instant a countdown or class countdown counts down to, which its job and its follow check
-- read.
create table story_stickers (
    gym_id uuid not null,
    id uuid not null,
    story_id uuid not null,
    -- Its place in the story's list of stickers, from 0.
    ordinal smallint not null check (ordinal between 0 and 9),
    kind text not null check (kind in ('poll', 'quiz', 'question', 'countdown', 'slider',
        'mention', 'location', 'personal_record', 'class_countdown')),
    -- Position on the story, normalised to its width and height; rotation in degrees.
    x double precision not null check (x between 0 and 1),
    y double precision not null check (y between 0 and 1),
    width double precision not null check (width > 0 and width <= 1),
    height double precision not null check (height > 0 and height <= 1),
    rotation double precision not null default 0 check (rotation between -180 and 180),
    data jsonb not null default '{}',
    ends_at timestamptz,
    -- When the countdown's followers were told it ended (the job's mark, so a rerun tells
    -- nobody twice).
    notified_at timestamptz,
    -- Running totals of its responses, kept by the statement that records each one: every
    -- read of stories shows results, and counting the responses there instead costs a page
    -- of stories about a second once its stickers have thousands (measured: 120 stickers of
    -- 2,000 responses each, 1.0 s against 1–5 ms). Responses, quiz answers that were right,
    -- the sum of slider values, and the votes for each option, by index.
    responses integer not null default 0,
    correct integer not null default 0,
    value_sum bigint not null default 0,
    votes integer[] not null default '{0,0,0,0}',
    created_at timestamptz not null default now(),
    primary key (gym_id, id),
    unique (gym_id, story_id, id),
    unique (gym_id, story_id, ordinal),
    foreign key (gym_id, story_id) references stories (gym_id, id) on delete cascade,
    constraint story_stickers_countdown_end check (
        (kind in ('countdown', 'class_countdown')) = (ends_at is not null))
);

-- One row per response. Votes, quiz attempts, slider values and countdown follows are one per
-- person and sticker (the partial unique index); questions take several answers from the same
-- person, as a question box does.
create table story_sticker_responses (
    gym_id uuid not null,
    id uuid not null,
    sticker_id uuid not null,
    story_id uuid not null,
    user_id uuid not null references users (id) on delete cascade,
    -- The sticker's kind, so the one-per-person rule and per-kind counts need no join.
    kind text not null check (kind in ('poll', 'quiz', 'question', 'slider', 'countdown',
        'class_countdown')),
    -- Polls and quizzes: the chosen option, from 0.
    option smallint check (option between 0 and 3),
    -- Quizzes: whether the option was the right one.
    correct boolean,
    -- Sliders: 0–100.
    value smallint check (value between 0 and 100),
    -- Questions: the answer, 1–500 characters.
    text text check (char_length(text) between 1 and 500),
    created_at timestamptz not null default now(),
    primary key (gym_id, id),
    foreign key (gym_id, story_id, sticker_id)
        references story_stickers (gym_id, story_id, id) on delete cascade,
    constraint story_sticker_responses_shape check (case kind
        when 'poll' then option is not null and correct is null and value is null and text is null
        when 'quiz' then option is not null and correct is not null and value is null and text is null
        when 'slider' then value is not null and option is null and correct is null and text is null
        when 'question' then text is not null and option is null and correct is null and value is null
        else option is null and correct is null and value is null and text is null
    end)
);
create unique index story_sticker_responses_once_idx
    on story_sticker_responses (gym_id, sticker_id, user_id) where kind <> 'question';
-- A sticker's responses: its results and the per-sticker counts of insights (by its
-- prefix), and each reader's own response to the stickers they see, questions included,
-- which the partial unique index cannot serve.
create index story_sticker_responses_sticker_idx
    on story_sticker_responses (gym_id, sticker_id, user_id);

alter table story_stickers enable row level security;
alter table story_stickers force row level security;
create policy tenant_isolation on story_stickers
    using (gym_id = (select nullif(current_setting('app.gym_id', true), '')::uuid))
    with check (gym_id = (select nullif(current_setting('app.gym_id', true), '')::uuid));

alter table story_sticker_responses enable row level security;
alter table story_sticker_responses force row level security;
create policy tenant_isolation on story_sticker_responses
    using (gym_id = (select nullif(current_setting('app.gym_id', true), '')::uuid))
    with check (gym_id = (select nullif(current_setting('app.gym_id', true), '')::uuid));
