//! A tenant's own provider credentials: stored sealed (kernel secrets), bound to the tenant
//! and provider, never printed.

use kernel::config::Secret;
use kernel::{Sealed, Secrets};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{ProviderError, ProviderKind};

/// Credentials for one provider. `Debug` shows none of them.
#[derive(Clone, PartialEq, Eq)]
pub enum Credentials {
    Stripe {
        /// `sk_test_…` / `sk_live_…` (or a restricted key).
        secret_key: Secret<String>,
        /// Webhook endpoint secrets (`whsec_…`); several during a rotation.
        webhook_secrets: Vec<Secret<String>>,
    },
    MercadoPago {
        /// `TEST-…` / `APP_USR-…`.
        access_token: Secret<String>,
        /// The application's webhook secret signature(s).
        webhook_secrets: Vec<Secret<String>>,
    },
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Credentials({}, [redacted])", self.kind())
    }
}

/// The sealed plaintext: JSON, so fields can be added later.
#[derive(Serialize, Deserialize)]
#[serde(tag = "provider", rename_all = "lowercase")]
enum Stored {
    Stripe {
        secret_key: String,
        webhook_secrets: Vec<String>,
    },
    #[serde(rename = "mercadopago")]
    MercadoPago {
        access_token: String,
        webhook_secrets: Vec<String>,
    },
}

fn owner(gym_id: Uuid, kind: ProviderKind) -> String {
    format!("payments.credentials:{gym_id}:{kind}")
}

fn exposed(secrets: &[Secret<String>]) -> Vec<String> {
    secrets.iter().map(|s| s.expose().clone()).collect()
}

fn wrapped(secrets: Vec<String>) -> Vec<Secret<String>> {
    secrets.into_iter().map(Secret::new).collect()
}

impl Credentials {
    pub fn kind(&self) -> ProviderKind {
        match self {
            Credentials::Stripe { .. } => ProviderKind::Stripe,
            Credentials::MercadoPago { .. } => ProviderKind::MercadoPago,
        }
    }

    pub fn webhook_secrets(&self) -> &[Secret<String>] {
        match self {
            Credentials::Stripe {
                webhook_secrets, ..
            }
            | Credentials::MercadoPago {
                webhook_secrets, ..
            } => webhook_secrets,
        }
    }

    /// Sealed for `gym_id` and this provider: copied to another tenant or provider, it does
    /// not open.
    pub fn seal(&self, secrets: &Secrets, gym_id: Uuid) -> Result<Sealed, ProviderError> {
        let stored = match self {
            Credentials::Stripe {
                secret_key,
                webhook_secrets,
            } => Stored::Stripe {
                secret_key: secret_key.expose().clone(),
                webhook_secrets: exposed(webhook_secrets),
            },
            Credentials::MercadoPago {
                access_token,
                webhook_secrets,
            } => Stored::MercadoPago {
                access_token: access_token.expose().clone(),
                webhook_secrets: exposed(webhook_secrets),
            },
        };
        let json = serde_json::to_vec(&stored)
            .map_err(|err| ProviderError::NotConfigured(err.to_string()))?;
        secrets
            .seal(&json, &owner(gym_id, self.kind()))
            .map_err(|err| ProviderError::NotConfigured(err.to_string()))
    }

    /// Opens what [`Credentials::seal`] stored for `gym_id` and `kind`.
    pub fn open(
        secrets: &Secrets,
        gym_id: Uuid,
        kind: ProviderKind,
        sealed: &Sealed,
    ) -> Result<Self, ProviderError> {
        let json = secrets
            .open(sealed, &owner(gym_id, kind))
            .map_err(|err| ProviderError::NotConfigured(format!("{kind} credentials: {err}")))?;
        let stored: Stored = serde_json::from_slice(json.expose())
            .map_err(|err| ProviderError::NotConfigured(format!("{kind} credentials: {err}")))?;
        Ok(match stored {
            Stored::Stripe {
                secret_key,
                webhook_secrets,
            } => Credentials::Stripe {
                secret_key: Secret::new(secret_key),
                webhook_secrets: wrapped(webhook_secrets),
            },
            Stored::MercadoPago {
                access_token,
                webhook_secrets,
            } => Credentials::MercadoPago {
                access_token: Secret::new(access_token),
                webhook_secrets: wrapped(webhook_secrets),
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use kernel::config::Environment;
    use kernel::secrets::SecretsSettings;

    use super::*;

    fn secrets() -> Secrets {
        let settings = SecretsSettings {
            active_key: "k1".into(),
            keys: [(
                "k1".to_string(),
                Secret::new("MTExMTExMTExMTExMTExMTExMTExMTExMTExMTExMTE=".to_string()),
            )]
            .into_iter()
            .collect(),
        };
        Secrets::from_settings(&settings, Environment::Test).unwrap()
    }

    fn stripe() -> Credentials {
        Credentials::Stripe {
            secret_key: Secret::new("sk_test_abc".into()),
            webhook_secrets: vec![Secret::new("whsec_1".into()), Secret::new("whsec_2".into())],
        }
    }

    #[test]
    fn credentials_seal_and_open_for_their_tenant_and_provider() {
        let secrets = secrets();
        let gym = Uuid::now_v7();
        let sealed = stripe().seal(&secrets, gym).unwrap();
        assert!(!sealed.as_str().contains("sk_test_abc"));
        let opened = Credentials::open(&secrets, gym, ProviderKind::Stripe, &sealed).unwrap();
        assert_eq!(opened, stripe());
    }

    #[test]
    fn credentials_do_not_open_for_another_tenant_or_provider() {
        let secrets = secrets();
        let gym = Uuid::now_v7();
        let sealed = stripe().seal(&secrets, gym).unwrap();
        assert!(
            Credentials::open(&secrets, Uuid::now_v7(), ProviderKind::Stripe, &sealed).is_err()
        );
        assert!(Credentials::open(&secrets, gym, ProviderKind::MercadoPago, &sealed).is_err());
    }

    #[test]
    fn credentials_never_print() {
        let printed = format!("{:?}", stripe());
        assert!(!printed.contains("sk_test_abc") && !printed.contains("whsec_1"));
    }
}
