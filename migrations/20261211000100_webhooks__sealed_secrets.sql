-- Endpoint signing secrets are stored sealed (kernel::secrets, AES-256-GCM bound to the
-- endpoint), no longer readable. The key lives in configuration, not in the database, so
-- existing readable secrets are sealed by the app: the `webhooks.seal_secrets` job seals them
-- and clears the readable columns (until then signing still uses them).
alter table webhook_endpoints
    add column secret_sealed text,
    add column previous_secret_sealed text,
    alter column secret drop not null;

alter table webhook_endpoints
    add constraint webhook_endpoints_secret_present
        check (secret is not null or secret_sealed is not null);

comment on column webhook_endpoints.secret is
    'Legacy readable secret; cleared by the webhooks.seal_secrets job once sealed.';
comment on column webhook_endpoints.previous_secret is
    'Legacy readable previous secret; cleared by the webhooks.seal_secrets job once sealed.';
