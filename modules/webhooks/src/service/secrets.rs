//! Endpoint signing secrets at rest: sealed with the kernel's keys ([`kernel::secrets`]), bound
//! to their endpoint, and opened only to sign a delivery.
//!
//! Endpoints made before sealing keep a readable secret until the `webhooks.seal_secrets` job
//! seals it and clears the readable column. The job runs hourly; a new schedule is due at once,
//! so the first run comes right after the first start-up with this migration. The same job re-seals values sealed with a key that is no longer the
//! active one, so a key rotation completes by itself.

use std::time::Duration;

use kernel::config::Secret;
use kernel::jobs::Schedule;
use kernel::{ApiError, ApiResult, AppContext, Sealed, Secrets, db};
use sqlx::PgPool;
use uuid::Uuid;

use crate::repo::{self, PendingDelivery, StoredSecrets};

/// The job kind that seals readable secrets and re-seals old-key ones.
pub const SEAL_SECRETS: &str = "webhooks.seal_secrets";

pub fn seal_schedule() -> Schedule {
    Schedule {
        name: SEAL_SECRETS,
        every: Duration::from_secs(3600),
        kind: SEAL_SECRETS,
        payload: serde_json::json!({}),
    }
}

/// The owner a secret is sealed for: a ciphertext copied to another endpoint does not open.
fn owner(gym_id: Uuid, endpoint_id: Uuid) -> String {
    format!("webhooks.endpoint_secret:{gym_id}:{endpoint_id}")
}

/// `secret` sealed for the endpoint.
pub fn seal(ctx: &AppContext, gym_id: Uuid, endpoint_id: Uuid, secret: &str) -> ApiResult<Sealed> {
    ctx.secrets
        .seal_str(secret, &owner(gym_id, endpoint_id))
        .map_err(ApiError::internal)
}

/// One stored secret, opened: the sealed form when there is one, else the readable one.
fn open(
    secrets: &Secrets,
    owner: &str,
    readable: Option<&str>,
    sealed: Option<&str>,
) -> anyhow::Result<Option<Secret<String>>> {
    match (sealed, readable) {
        (Some(sealed), _) => {
            let sealed: Sealed = sealed.parse()?;
            Ok(Some(secrets.open_str(&sealed, owner)?))
        }
        (None, Some(readable)) => Ok(Some(Secret::new(readable.to_string()))),
        (None, None) => Ok(None),
    }
}

/// The secrets that sign a delivery: the endpoint's current one, then the previous one while a
/// rotation's overlap lasts. An error (a key removed too early, a tampered value) fails the
/// attempt, which is retried: nothing goes out unsigned.
pub fn signing_secrets(
    secrets: &Secrets,
    gym_id: Uuid,
    pending: &PendingDelivery,
) -> anyhow::Result<Vec<Secret<String>>> {
    let owner = owner(gym_id, pending.endpoint_id);
    let current = open(
        secrets,
        &owner,
        pending.secret.as_deref(),
        pending.secret_sealed.as_deref(),
    )?
    .ok_or_else(|| anyhow::anyhow!("webhook endpoint {} has no secret", pending.endpoint_id))?;
    let previous = open(
        secrets,
        &owner,
        pending.previous_secret.as_deref(),
        pending.previous_secret_sealed.as_deref(),
    )?;
    Ok(std::iter::once(current).chain(previous).collect())
}

/// Seals every tenant's readable secrets and re-seals old-key ones; how many endpoints changed.
pub async fn seal_stored(ctx: &AppContext) -> anyhow::Result<usize> {
    let mut changed = 0;
    let mut tenants = ctx.every_tenant();
    while let Some(batch) = tenants.next_batch().await? {
        for gym_id in batch {
            changed += seal_tenant(&ctx.db, &ctx.secrets, gym_id).await?;
        }
    }
    Ok(changed)
}

/// One tenant's part of [`seal_stored`], in one transaction scoped to it.
pub async fn seal_tenant(pool: &PgPool, secrets: &Secrets, gym_id: Uuid) -> anyhow::Result<usize> {
    let mut tx = db::begin_tenant(pool, gym_id).await?;
    let stored = repo::lock_stored_secrets(&mut tx, gym_id).await?;
    let mut changed = 0;
    for row in &stored {
        match sealed_again(secrets, gym_id, row) {
            Ok(Some((current, previous))) => {
                repo::store_sealed(
                    &mut tx,
                    gym_id,
                    row.id,
                    current.as_str(),
                    previous.as_ref().map(Sealed::as_str),
                )
                .await?;
                changed += 1;
            }
            Ok(None) => {}
            // One unreadable row (its key removed before it was re-sealed) must not stop the
            // others; its deliveries fail visibly until the key is configured again.
            Err(err) => tracing::error!(%gym_id, endpoint_id = %row.id, error = %err,
                "cannot re-seal a webhook endpoint secret"),
        }
    }
    tx.commit().await?;
    Ok(changed)
}

/// The row's secrets sealed with the active key, or `None` when they already are.
fn sealed_again(
    secrets: &Secrets,
    gym_id: Uuid,
    row: &StoredSecrets,
) -> anyhow::Result<Option<(Sealed, Option<Sealed>)>> {
    let owner = owner(gym_id, row.id);
    let settle = |readable: Option<&str>, sealed: Option<&str>| -> anyhow::Result<_> {
        Ok(match (sealed, readable) {
            (Some(sealed), _) => {
                let sealed: Sealed = sealed.parse()?;
                match secrets.reseal(&sealed, &owner)? {
                    Some(resealed) => (Some(resealed), true),
                    None => (Some(sealed), false),
                }
            }
            (None, Some(readable)) => (Some(secrets.seal_str(readable, &owner)?), true),
            (None, None) => (None, false),
        })
    };
    let (current, current_changed) = settle(row.secret.as_deref(), row.secret_sealed.as_deref())?;
    let (previous, previous_changed) = settle(
        row.previous_secret.as_deref(),
        row.previous_secret_sealed.as_deref(),
    )?;
    let Some(current) = current else {
        anyhow::bail!("the endpoint has no secret");
    };
    Ok((current_changed || previous_changed).then_some((current, previous)))
}

#[cfg(test)]
mod tests {
    use kernel::config::Environment;
    use kernel::secrets::SecretsSettings;

    use super::*;
    use crate::signature;

    const K1: &str = "MTExMTExMTExMTExMTExMTExMTExMTExMTExMTExMTE=";
    const K2: &str = "MjIyMjIyMjIyMjIyMjIyMjIyMjIyMjIyMjIyMjIyMjI=";

    fn ring(active: &str, keys: &[(&str, &str)]) -> Secrets {
        let settings = SecretsSettings {
            active_key: active.into(),
            keys: keys
                .iter()
                .map(|(id, key)| (id.to_string(), Secret::new(key.to_string())))
                .collect(),
        };
        Secrets::from_settings(&settings, Environment::Test).unwrap()
    }

    async fn gym(pool: &PgPool) -> Uuid {
        let gym_id = Uuid::now_v7();
        sqlx::query(
            "insert into gyms (id, kind, name, timezone, currency) values ($1, 'gym', 'Gym', 'UTC', 'EUR')",
        )
        .bind(gym_id)
        .execute(pool)
        .await
        .unwrap();
        gym_id
    }

    /// An endpoint as stored before sealing existed: the secret readable.
    async fn legacy_endpoint(pool: &PgPool, gym_id: Uuid, secret: &str) -> Uuid {
        let id = Uuid::now_v7();
        sqlx::query(
            "insert into webhook_endpoints (gym_id, id, url, event_types, secret) \
             values ($1, $2, 'https://hooks.example.com/', '{credits.changed}', $3)",
        )
        .bind(gym_id)
        .bind(id)
        .bind(secret)
        .execute(pool)
        .await
        .unwrap();
        id
    }

    async fn delivery(pool: &PgPool, gym_id: Uuid, endpoint_id: Uuid) -> PendingDelivery {
        let delivery_id = Uuid::now_v7();
        sqlx::query(
            "insert into webhook_deliveries (gym_id, id, endpoint_id, event_id, event_type, body) \
             values ($1, $2, $3, $4, 'credits.changed', '{}')",
        )
        .bind(gym_id)
        .bind(delivery_id)
        .bind(endpoint_id)
        .bind(Uuid::now_v7())
        .execute(pool)
        .await
        .unwrap();
        let mut tx = db::begin_tenant(pool, gym_id).await.unwrap();
        repo::find_pending(&mut tx, gym_id, delivery_id)
            .await
            .unwrap()
            .unwrap()
    }

    async fn stored(pool: &PgPool, endpoint_id: Uuid) -> (Option<String>, Option<String>) {
        sqlx::query_as("select secret, secret_sealed from webhook_endpoints where id = $1")
            .bind(endpoint_id)
            .fetch_one(pool)
            .await
            .unwrap()
    }

    fn plain(secrets: Vec<Secret<String>>) -> Vec<String> {
        secrets.into_iter().map(|s| s.expose().clone()).collect()
    }

    #[sqlx::test(migrations = "../../migrations")]
    async fn a_new_endpoint_stores_its_secret_sealed_only(pool: PgPool) {
        let secrets = ring("k1", &[("k1", K1)]);
        let gym_id = gym(&pool).await;
        let id = Uuid::now_v7();
        let sealed = secrets
            .seal_str("whsec_brand_new", &owner(gym_id, id))
            .unwrap();
        sqlx::query("insert into users (id, email, password_hash, first_name, last_name) values ($1, 'a@example.com', 'x', 'A', 'B')")
            .bind(Uuid::nil())
            .execute(&pool)
            .await
            .unwrap();
        let mut tx = db::begin_tenant(&pool, gym_id).await.unwrap();
        let new = repo::NewEndpoint {
            id,
            url: "https://hooks.example.com/",
            description: "",
            event_types: &["credits.changed".to_string()],
            secret_sealed: sealed.as_str(),
            created_by: Uuid::nil(),
        };
        repo::insert_endpoint(&mut tx, gym_id, &new).await.unwrap();
        tx.commit().await.unwrap();

        let whole_row: String = sqlx::query_scalar(
            "select row_to_json(e)::text from webhook_endpoints e where id = $1",
        )
        .bind(id)
        .fetch_one(&pool)
        .await
        .unwrap();
        assert!(!whole_row.contains("whsec_brand_new"), "{whole_row}");
        let pending = delivery(&pool, gym_id, id).await;
        let signing = plain(signing_secrets(&secrets, gym_id, &pending).unwrap());
        assert_eq!(signing, ["whsec_brand_new"]);
    }

    #[sqlx::test(migrations = "../../migrations")]
    async fn an_existing_readable_secret_gets_sealed_and_still_signs(pool: PgPool) {
        let secrets = ring("k1", &[("k1", K1)]);
        let gym_id = gym(&pool).await;
        let endpoint_id = legacy_endpoint(&pool, gym_id, "whsec_legacy").await;

        // Before the job runs, the readable secret signs.
        let before = delivery(&pool, gym_id, endpoint_id).await;
        assert_eq!(
            plain(signing_secrets(&secrets, gym_id, &before).unwrap()),
            ["whsec_legacy"]
        );

        assert_eq!(seal_tenant(&pool, &secrets, gym_id).await.unwrap(), 1);
        let (readable, sealed) = stored(&pool, endpoint_id).await;
        assert_eq!(readable, None);
        let sealed = sealed.unwrap();
        assert!(!sealed.contains("whsec_legacy"));
        assert!(sealed.starts_with("v1:k1:"), "{sealed}");

        // Signing now opens the sealed value: the same signature as with the original secret.
        let after = delivery(&pool, gym_id, endpoint_id).await;
        let signing = signing_secrets(&secrets, gym_id, &after).unwrap();
        assert_eq!(
            signature::header_value(signing.iter().map(|s| s.expose().as_str()), 1, b"{}"),
            signature::header_value(["whsec_legacy"], 1, b"{}")
        );

        // A second run has nothing to do.
        assert_eq!(seal_tenant(&pool, &secrets, gym_id).await.unwrap(), 0);
    }

    #[sqlx::test(migrations = "../../migrations")]
    async fn a_rotation_in_its_overlap_signs_with_both_and_seals_both(pool: PgPool) {
        let secrets = ring("k1", &[("k1", K1)]);
        let gym_id = gym(&pool).await;
        let endpoint_id = legacy_endpoint(&pool, gym_id, "whsec_old").await;
        let new = secrets
            .seal_str("whsec_new", &owner(gym_id, endpoint_id))
            .unwrap();
        let mut tx = db::begin_tenant(&pool, gym_id).await.unwrap();
        let overlap = chrono::Utc::now() + chrono::Duration::hours(1);
        repo::rotate_secret(&mut tx, gym_id, endpoint_id, new.as_str(), Some(overlap))
            .await
            .unwrap()
            .unwrap();
        tx.commit().await.unwrap();

        let pending = delivery(&pool, gym_id, endpoint_id).await;
        assert_eq!(
            plain(signing_secrets(&secrets, gym_id, &pending).unwrap()),
            ["whsec_new", "whsec_old"]
        );
        assert_eq!(seal_tenant(&pool, &secrets, gym_id).await.unwrap(), 1);
        let previous: (Option<String>, Option<String>) = sqlx::query_as(
            "select previous_secret, previous_secret_sealed from webhook_endpoints where id = $1",
        )
        .bind(endpoint_id)
        .fetch_one(&pool)
        .await
        .unwrap();
        assert_eq!(previous.0, None);
        assert!(!previous.1.unwrap().contains("whsec_old"));
        let pending = delivery(&pool, gym_id, endpoint_id).await;
        assert_eq!(
            plain(signing_secrets(&secrets, gym_id, &pending).unwrap()),
            ["whsec_new", "whsec_old"]
        );
    }

    #[sqlx::test(migrations = "../../migrations")]
    async fn after_a_key_rotation_the_job_reseals_with_the_active_key(pool: PgPool) {
        let gym_id = gym(&pool).await;
        let endpoint_id = legacy_endpoint(&pool, gym_id, "whsec_legacy").await;
        seal_tenant(&pool, &ring("k1", &[("k1", K1)]), gym_id)
            .await
            .unwrap();

        let rotated = ring("k2", &[("k1", K1), ("k2", K2)]);
        assert_eq!(seal_tenant(&pool, &rotated, gym_id).await.unwrap(), 1);
        let (_, sealed) = stored(&pool, endpoint_id).await;
        assert!(sealed.unwrap().starts_with("v1:k2:"));

        // k1 can now go: the secret opens with k2 alone.
        let only_k2 = ring("k2", &[("k2", K2)]);
        let pending = delivery(&pool, gym_id, endpoint_id).await;
        assert_eq!(
            plain(signing_secrets(&only_k2, gym_id, &pending).unwrap()),
            ["whsec_legacy"]
        );
    }

    #[sqlx::test(migrations = "../../migrations")]
    async fn a_sealed_secret_copied_to_another_endpoint_does_not_sign(pool: PgPool) {
        let secrets = ring("k1", &[("k1", K1)]);
        let gym_id = gym(&pool).await;
        let one = legacy_endpoint(&pool, gym_id, "whsec_one").await;
        let two = legacy_endpoint(&pool, gym_id, "whsec_two").await;
        seal_tenant(&pool, &secrets, gym_id).await.unwrap();
        sqlx::query(
            "update webhook_endpoints set secret_sealed = (select secret_sealed from webhook_endpoints where id = $1) where id = $2",
        )
        .bind(one)
        .bind(two)
        .execute(&pool)
        .await
        .unwrap();
        let pending = delivery(&pool, gym_id, two).await;
        assert!(signing_secrets(&secrets, gym_id, &pending).is_err());
    }
}
