//! Secrets at rest: values the app must read back (webhook signing secrets, payment provider
//! credentials) are stored sealed with AES-256-GCM, never readable.
//!
//! - Keys come from `[secrets]`: `keys = { <id> = "<base64 of 32 bytes>", ... }` and
//!   `active_key = "<id>"`. New values are sealed with the active key; values sealed with any
//!   other configured key still open, so keys rotate by adding one, making it active, letting
//!   [`Secrets::reseal`] move old values over (modules run it in a periodic job), then removing
//!   the old key.
//! - A [`Sealed`] value is text, `v1:<key id>:<nonce>:<ciphertext>` (base64url), so it fits a
//!   `text` column and says which key opens it.
//! - Every seal binds an owner string (`webhooks.endpoint_secret:<gym>:<endpoint>`,
//!   `payments.credentials:<gym>:<provider>`) as associated data: a ciphertext copied to
//!   another row does not open there.
//! - Keys never print (`Debug` names key ids only); opened values come back as [`Secret`].
//! - `config/default.toml` ships a development key so a checkout runs as it is; production
//!   refuses it as the active key and leaves it out of the key ring (anyone can read it).

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::str::FromStr;

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use serde::Deserialize;

use crate::config::{Environment, Secret};

/// The key `config/default.toml` ships for development and tests. Public: production refuses
/// it.
pub const DEVELOPMENT_KEY: &str = "ZGV2ZWxvcG1lbnQta2V5LW5vdC1mb3ItcHJvZHVjdGk=";

const VERSION: &str = "v1";
const NONCE_BYTES: usize = 12;

/// The `[secrets]` section.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SecretsSettings {
    /// The id of the key that seals new values.
    pub active_key: String,
    /// Every key that may open a stored value, by id: base64 of 32 random bytes
    /// (`openssl rand -base64 32`).
    pub keys: BTreeMap<String, Secret<String>>,
}

impl SecretsSettings {
    /// What start-up checks: key ids and lengths, the active key's presence, and no
    /// development key in production.
    pub fn validate(&self, environment: Environment) -> Result<(), String> {
        Keyring::build(self, environment).map(drop)
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SecretsError {
    /// The stored text is not a sealed value of this format.
    #[error("the stored value is not a sealed secret")]
    Malformed,
    /// Sealed with a key id the configuration no longer (or never) had.
    #[error("the value was sealed with key `{0}`, which is not configured in [secrets].keys")]
    UnknownKey(String),
    /// Wrong owner, or the ciphertext was changed: AES-GCM's tag does not match.
    #[error("the sealed value does not open: it was altered or belongs to another owner")]
    DoesNotOpen,
    /// The operating system's random generator failed.
    #[error("no randomness for a nonce: {0}")]
    Random(String),
}

/// A sealed value as stored: `v1:<key id>:<nonce>:<ciphertext>`.
#[derive(Clone, PartialEq, Eq)]
pub struct Sealed(String);

impl Sealed {
    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_string(self) -> String {
        self.0
    }

    /// The id of the key that sealed it.
    pub fn key_id(&self) -> &str {
        self.0.split(':').nth(1).unwrap_or_default()
    }

    fn parts(&self) -> Result<(&str, Vec<u8>, Vec<u8>), SecretsError> {
        let mut parts = self.0.split(':');
        let (Some(VERSION), Some(key_id), Some(nonce), Some(ciphertext), None) = (
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
        ) else {
            return Err(SecretsError::Malformed);
        };
        let nonce = URL_SAFE_NO_PAD
            .decode(nonce)
            .map_err(|_| SecretsError::Malformed)?;
        let ciphertext = URL_SAFE_NO_PAD
            .decode(ciphertext)
            .map_err(|_| SecretsError::Malformed)?;
        if nonce.len() != NONCE_BYTES || !valid_key_id(key_id) {
            return Err(SecretsError::Malformed);
        }
        Ok((key_id, nonce, ciphertext))
    }
}

impl FromStr for Sealed {
    type Err = SecretsError;
    fn from_str(text: &str) -> Result<Self, SecretsError> {
        let sealed = Sealed(text.to_string());
        sealed.parts()?;
        Ok(sealed)
    }
}

impl fmt::Debug for Sealed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Sealed({})", self.key_id())
    }
}

/// The key ring of a running app (on [`crate::AppContext::secrets`]).
#[derive(Clone)]
pub struct Secrets {
    ring: std::sync::Arc<Keyring>,
}

struct Keyring {
    active: String,
    keys: HashMap<String, Aes256Gcm>,
}

impl fmt::Debug for Secrets {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut ids: Vec<&String> = self.ring.keys.keys().collect();
        ids.sort();
        f.debug_struct("Secrets")
            .field("active_key", &self.ring.active)
            .field("keys", &ids)
            .finish()
    }
}

fn valid_key_id(id: &str) -> bool {
    (1..=32).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
}

impl Keyring {
    fn build(settings: &SecretsSettings, environment: Environment) -> Result<Self, String> {
        let production = environment == Environment::Production;
        let mut keys = HashMap::new();
        for (id, key) in &settings.keys {
            if !valid_key_id(id) {
                return Err(format!(
                    "secrets.keys: key id `{id}` must be 1 to 32 characters of a-z, 0-9, `_` and `-`"
                ));
            }
            let bytes = STANDARD.decode(key.expose().trim()).map_err(|_| {
                format!("secrets.keys.{id} is not base64 (make one with `openssl rand -base64 32`)")
            })?;
            if bytes.len() != 32 {
                return Err(format!(
                    "secrets.keys.{id} must be 32 bytes (base64 of them), not {}",
                    bytes.len()
                ));
            }
            let development = key.expose().trim() == DEVELOPMENT_KEY;
            if production && development {
                if *id == settings.active_key {
                    return Err(format!(
                        "secrets.active_key `{id}` is the development key shipped in config/default.toml; \
                         production needs its own (GYMAPI_SECRETS__KEYS__<ID>=$(openssl rand -base64 32) \
                         and GYMAPI_SECRETS__ACTIVE_KEY=<id>)"
                    ));
                }
                // Anyone can read the shipped key: nothing it sealed is trusted in production.
                continue;
            }
            let cipher = Aes256Gcm::new_from_slice(&bytes)
                .map_err(|_| format!("secrets.keys.{id} must be 32 bytes"))?;
            keys.insert(id.clone(), cipher);
        }
        if !keys.contains_key(&settings.active_key) {
            return Err(format!(
                "secrets.active_key `{}` is not one of the ids in secrets.keys",
                settings.active_key
            ));
        }
        Ok(Self {
            active: settings.active_key.clone(),
            keys,
        })
    }
}

/// What the cipher authenticates besides the plaintext: the format, the key id and the owner.
fn associated_data(key_id: &str, owner: &str) -> Vec<u8> {
    format!("gymapi.sealed.{VERSION}\0{key_id}\0{owner}").into_bytes()
}

impl Secrets {
    /// The key ring of `settings`; the error says what is wrong with them.
    pub fn from_settings(
        settings: &SecretsSettings,
        environment: Environment,
    ) -> Result<Self, String> {
        Ok(Self {
            ring: std::sync::Arc::new(Keyring::build(settings, environment)?),
        })
    }

    /// The id of the key new values are sealed with.
    pub fn active_key_id(&self) -> &str {
        &self.ring.active
    }

    /// Seals `plaintext` for `owner` with the active key and a fresh random nonce.
    pub fn seal(&self, plaintext: &[u8], owner: &str) -> Result<Sealed, SecretsError> {
        let key_id = self.ring.active.as_str();
        let cipher = self
            .ring
            .keys
            .get(key_id)
            .ok_or_else(|| SecretsError::UnknownKey(key_id.to_string()))?;
        let mut nonce = [0u8; NONCE_BYTES];
        getrandom::fill(&mut nonce).map_err(|err| SecretsError::Random(err.to_string()))?;
        let aad = associated_data(key_id, owner);
        let ciphertext = cipher
            .encrypt(
                Nonce::from_slice(&nonce),
                Payload {
                    msg: plaintext,
                    aad: &aad,
                },
            )
            .map_err(|_| SecretsError::DoesNotOpen)?;
        Ok(Sealed(format!(
            "{VERSION}:{key_id}:{}:{}",
            URL_SAFE_NO_PAD.encode(nonce),
            URL_SAFE_NO_PAD.encode(ciphertext)
        )))
    }

    pub fn seal_str(&self, plaintext: &str, owner: &str) -> Result<Sealed, SecretsError> {
        self.seal(plaintext.as_bytes(), owner)
    }

    /// The plaintext of a value sealed for `owner`, with whichever configured key sealed it.
    pub fn open(&self, sealed: &Sealed, owner: &str) -> Result<Secret<Vec<u8>>, SecretsError> {
        let (key_id, nonce, ciphertext) = sealed.parts()?;
        let cipher = self
            .ring
            .keys
            .get(key_id)
            .ok_or_else(|| SecretsError::UnknownKey(key_id.to_string()))?;
        let aad = associated_data(key_id, owner);
        cipher
            .decrypt(
                Nonce::from_slice(&nonce),
                Payload {
                    msg: &ciphertext,
                    aad: &aad,
                },
            )
            .map(Secret::new)
            .map_err(|_| SecretsError::DoesNotOpen)
    }

    /// [`Secrets::open`] for text; a value that is not UTF-8 does not open.
    pub fn open_str(&self, sealed: &Sealed, owner: &str) -> Result<Secret<String>, SecretsError> {
        let bytes = self.open(sealed, owner)?;
        String::from_utf8(bytes.expose().clone())
            .map(Secret::new)
            .map_err(|_| SecretsError::DoesNotOpen)
    }

    /// Whether `sealed` is under the active key (nothing to re-seal).
    pub fn is_current(&self, sealed: &Sealed) -> bool {
        sealed.key_id() == self.ring.active
    }

    /// After a rotation: the value sealed again with the active key, or `None` when it already
    /// is. The old key must still be configured to open it.
    pub fn reseal(&self, sealed: &Sealed, owner: &str) -> Result<Option<Sealed>, SecretsError> {
        if self.is_current(sealed) {
            return Ok(None);
        }
        let plaintext = self.open(sealed, owner)?;
        self.seal(plaintext.expose(), owner).map(Some)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const K1: &str = "MTExMTExMTExMTExMTExMTExMTExMTExMTExMTExMTE=";
    const K2: &str = "MjIyMjIyMjIyMjIyMjIyMjIyMjIyMjIyMjIyMjIyMjI=";

    fn settings(active: &str, keys: &[(&str, &str)]) -> SecretsSettings {
        SecretsSettings {
            active_key: active.into(),
            keys: keys
                .iter()
                .map(|(id, key)| (id.to_string(), Secret::new(key.to_string())))
                .collect(),
        }
    }

    fn ring(active: &str, keys: &[(&str, &str)]) -> Secrets {
        Secrets::from_settings(&settings(active, keys), Environment::Test)
            .unwrap_or_else(|err| panic!("{err}"))
    }

    const OWNER: &str = "payments.credentials:gym-1:stripe";

    #[test]
    fn a_sealed_value_opens_for_its_owner() {
        let secrets = ring("k1", &[("k1", K1)]);
        let sealed = secrets.seal_str("sk_test_123", OWNER).unwrap();
        assert!(!sealed.as_str().contains("sk_test_123"));
        assert_eq!(sealed.key_id(), "k1");
        let opened = secrets.open_str(&sealed, OWNER).unwrap();
        assert_eq!(opened.expose(), "sk_test_123");
    }

    #[test]
    fn the_same_plaintext_seals_differently_each_time() {
        let secrets = ring("k1", &[("k1", K1)]);
        let one = secrets.seal_str("same", OWNER).unwrap();
        let two = secrets.seal_str("same", OWNER).unwrap();
        assert_ne!(one, two);
    }

    #[test]
    fn a_value_copied_to_another_owner_does_not_open() {
        let secrets = ring("k1", &[("k1", K1)]);
        let sealed = secrets.seal_str("sk_test_123", OWNER).unwrap();
        assert_eq!(
            secrets.open_str(&sealed, "payments.credentials:gym-2:stripe"),
            Err(SecretsError::DoesNotOpen)
        );
    }

    #[test]
    fn a_tampered_ciphertext_does_not_open() {
        let secrets = ring("k1", &[("k1", K1)]);
        let sealed = secrets.seal_str("sk_test_123", OWNER).unwrap();
        let (head, ciphertext) = sealed.as_str().rsplit_once(':').unwrap();
        let mut bytes = URL_SAFE_NO_PAD.decode(ciphertext).unwrap();
        bytes[0] ^= 1;
        let tampered: Sealed = format!("{head}:{}", URL_SAFE_NO_PAD.encode(bytes))
            .parse()
            .unwrap();
        assert_eq!(
            secrets.open(&tampered, OWNER).map(drop),
            Err(SecretsError::DoesNotOpen)
        );
    }

    #[test]
    fn relabelling_the_key_id_does_not_open() {
        let secrets = ring("k1", &[("k1", K1), ("k2", K2)]);
        let sealed = secrets.seal_str("sk_test_123", OWNER).unwrap();
        let relabelled: Sealed = sealed.as_str().replacen(":k1:", ":k2:", 1).parse().unwrap();
        assert_eq!(
            secrets.open(&relabelled, OWNER).map(drop),
            Err(SecretsError::DoesNotOpen)
        );
    }

    #[test]
    fn after_a_rotation_old_values_open_and_new_ones_use_the_active_key() {
        let before = ring("k1", &[("k1", K1)]);
        let old = before.seal_str("whsec_old", OWNER).unwrap();

        let after = ring("k2", &[("k1", K1), ("k2", K2)]);
        assert_eq!(after.open_str(&old, OWNER).unwrap().expose(), "whsec_old");
        assert!(!after.is_current(&old));
        let new = after.seal_str("whsec_new", OWNER).unwrap();
        assert_eq!(new.key_id(), "k2");

        let resealed = after.reseal(&old, OWNER).unwrap().unwrap();
        assert_eq!(resealed.key_id(), "k2");
        assert_eq!(after.reseal(&resealed, OWNER).unwrap(), None);
        // Once k1 is gone, the re-sealed value still opens.
        let only_k2 = ring("k2", &[("k2", K2)]);
        assert_eq!(
            only_k2.open_str(&resealed, OWNER).unwrap().expose(),
            "whsec_old"
        );
    }

    #[test]
    fn a_value_sealed_with_an_unknown_key_says_which() {
        let before = ring("old", &[("old", K1)]);
        let sealed = before.seal_str("x", OWNER).unwrap();
        let after = ring("k2", &[("k2", K2)]);
        assert_eq!(
            after.open(&sealed, OWNER).map(drop),
            Err(SecretsError::UnknownKey("old".into()))
        );
        assert!(
            SecretsError::UnknownKey("old".into())
                .to_string()
                .contains("`old`")
        );
    }

    #[test]
    fn text_that_is_not_a_sealed_value_is_refused() {
        for text in ["whsec_plain", "v1:k1:x", "v2:k1:AAAAAAAAAAAAAAAA:AAAA", ""] {
            assert_eq!(
                text.parse::<Sealed>(),
                Err(SecretsError::Malformed),
                "{text}"
            );
        }
    }

    #[test]
    fn settings_are_checked_at_start_up() {
        let check = |s: SecretsSettings| s.validate(Environment::Development);
        assert!(check(settings("k1", &[("k1", K1)])).is_ok());
        let short = check(settings("k1", &[("k1", "c2hvcnQ=")])).unwrap_err();
        assert!(short.contains("32 bytes"), "{short}");
        let not_base64 = check(settings("k1", &[("k1", "not base64!")])).unwrap_err();
        assert!(not_base64.contains("base64"), "{not_base64}");
        let missing = check(settings("k9", &[("k1", K1)])).unwrap_err();
        assert!(missing.contains("`k9`"), "{missing}");
        let bad_id = check(settings("K 1", &[("K 1", K1)])).unwrap_err();
        assert!(bad_id.contains("key id"), "{bad_id}");
    }

    #[test]
    fn production_refuses_the_development_key() {
        let shipped = settings("dev", &[("dev", DEVELOPMENT_KEY)]);
        assert!(shipped.validate(Environment::Development).is_ok());
        let refused = shipped.validate(Environment::Production).unwrap_err();
        assert!(refused.contains("development key"), "{refused}");

        // With a key of its own active, the shipped one is left out of the ring.
        let own = settings("k1", &[("dev", DEVELOPMENT_KEY), ("k1", K1)]);
        let secrets = Secrets::from_settings(&own, Environment::Production).unwrap();
        let dev = Secrets::from_settings(&shipped, Environment::Development).unwrap();
        let sealed_in_dev = dev.seal_str("x", OWNER).unwrap();
        assert_eq!(
            secrets.open(&sealed_in_dev, OWNER).map(drop),
            Err(SecretsError::UnknownKey("dev".into()))
        );
    }

    #[test]
    fn keys_never_print() {
        let secrets = ring("k1", &[("k1", K1)]);
        let printed = format!("{secrets:?} {:?}", settings("k1", &[("k1", K1)]));
        assert!(!printed.contains(K1), "{printed}");
        assert!(printed.contains("k1"));
    }

    #[test]
    fn the_shipped_development_key_is_32_bytes() {
        assert_eq!(STANDARD.decode(DEVELOPMENT_KEY).unwrap().len(), 32);
    }
}
