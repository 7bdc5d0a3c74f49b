-- Users are global: one person may belong to several gyms. E-mails are stored lower-cased and
-- trimmed, which makes them unique case-insensitively.
create table users (
    id uuid primary key,
    email text not null,
    password_hash text not null,
    first_name text not null,
    last_name text not null,
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now(),
    constraint users_email_key unique (email),
    constraint users_email_lowercase check (email = lower(btrim(email)))
);

-- Refresh tokens are stored as SHA-256 hashes. Each login starts a family; each refresh rotates
-- the token within its family. Presenting a rotated token again means it leaked: the whole
-- family is revoked.
create table refresh_tokens (
    id uuid primary key,
    user_id uuid not null references users (id) on delete cascade,
    family_id uuid not null,
    token_hash bytea not null,
    expires_at timestamptz not null,
    created_at timestamptz not null default now(),
    rotated_at timestamptz,
    revoked_at timestamptz,
    constraint refresh_tokens_token_hash_key unique (token_hash)
);

create index refresh_tokens_family_idx on refresh_tokens (family_id);
create index refresh_tokens_user_idx on refresh_tokens (user_id);
