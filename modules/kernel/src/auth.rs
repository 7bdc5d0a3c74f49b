//! Credentials in `Authorization: Bearer`:
//! - access tokens, short-lived HS256 JWTs that identity issues to people;
//! - integrators' API keys (`gapi_<tenant id>_<secret>`), which the tenancy module issues and
//!   which only [`crate::Tenant`] routes accept, within the key's scopes.
//!
//! A request's credentials are read once, by [`crate::http::Authenticate`], into
//! [`Credentials`]: the token is verified (or the key hashed) a single time, and the rate
//! limiter, the idempotency layer and the extractors share the result.
//! [`BearerAuth`] (routes about the signed-in person) takes access tokens only.

use std::borrow::Cow;

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation, decode, encode};
use poem::Request;
use poem_openapi::SecurityScheme;
use poem_openapi::auth::Bearer;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::secret::Secret;
use crate::{ApiError, ApiResult, AppContext};

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthSettings {
    /// HMAC key for access tokens. Required outside development and test.
    pub jwt_secret: Option<Secret<String>>,
    pub issuer: String,
    pub audience: String,
    pub access_token_ttl_seconds: i64,
    pub refresh_token_ttl_days: i64,
}

#[derive(Debug, Serialize, Deserialize)]
struct Claims {
    sub: Uuid,
    iat: i64,
    exp: i64,
    iss: String,
    aud: String,
}

pub struct JwtKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
    issuer: String,
    audience: String,
    access_ttl_seconds: i64,
    /// Tokens that passed verification, with their subject and expiry. A client sends the
    /// same token with every request until it expires, and verifying it again (base64, the
    /// HMAC key schedule and signature, JSON twice) was the largest cost of a cached request
    /// (about 12% of the server's CPU on `/users/me`). Keyed by the whole token, so only
    /// the exact bytes that were verified are accepted; `exp` is still checked on every use.
    verified: moka::sync::Cache<String, Verified>,
}

#[derive(Debug, Clone, Copy)]
struct Verified {
    user_id: Uuid,
    expires_at: i64,
}

/// Verified tokens remembered at most (a token per active client).
const VERIFIED_TOKENS: u64 = 100_000;
/// How long a verified token is remembered (its own expiry still applies first).
const VERIFIED_FOR: std::time::Duration = std::time::Duration::from_secs(300);

impl JwtKeys {
    /// Keys from settings. Without a configured secret (development and test only; `validate`
    /// refuses it in production) a random per-process key is used, so tokens die on restart.
    pub fn from_settings(auth: &AuthSettings) -> Self {
        let secret = match &auth.jwt_secret {
            Some(secret) => secret.expose().as_bytes().to_vec(),
            None => {
                tracing::warn!("auth.jwt_secret is not set; using a random key for this process");
                let mut bytes = Uuid::new_v4().as_bytes().to_vec();
                bytes.extend_from_slice(Uuid::new_v4().as_bytes());
                bytes
            }
        };
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_issuer(&[&auth.issuer]);
        validation.set_audience(&[&auth.audience]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        // A token that says it is not valid yet is refused (when it says so at all).
        validation.validate_nbf = true;
        validation.leeway = 5;
        Self {
            encoding: EncodingKey::from_secret(&secret),
            decoding: DecodingKey::from_secret(&secret),
            validation,
            issuer: auth.issuer.clone(),
            audience: auth.audience.clone(),
            access_ttl_seconds: auth.access_token_ttl_seconds,
            verified: moka::sync::Cache::builder()
                .max_capacity(VERIFIED_TOKENS)
                .time_to_live(VERIFIED_FOR)
                .build(),
        }
    }

    pub fn access_ttl_seconds(&self) -> i64 {
        self.access_ttl_seconds
    }

    /// A signed access token for `user_id`.
    pub fn issue(&self, user_id: Uuid) -> ApiResult<String> {
        let now = chrono::Utc::now().timestamp();
        let claims = Claims {
            sub: user_id,
            iat: now,
            exp: now + self.access_ttl_seconds,
            iss: self.issuer.clone(),
            aud: self.audience.clone(),
        };
        encode(&Header::new(Algorithm::HS256), &claims, &self.encoding).map_err(ApiError::internal)
    }

    /// The user id of a valid token; why it is refused otherwise (bad signature, `alg: none`,
    /// wrong issuer or audience, not valid yet, expired).
    pub fn verify(&self, token: &str) -> Result<Uuid, TokenRejection> {
        self.verify_at(token, chrono::Utc::now().timestamp())
    }

    /// [`Self::verify`] at `now` (Unix seconds) for a token verified before; a new token is
    /// verified against the real clock.
    fn verify_at(&self, token: &str, now: i64) -> Result<Uuid, TokenRejection> {
        if let Some(verified) = self.verified.get(token) {
            // The same leeway as the full check, so a token expires at the same moment either way.
            return if now
                <= verified
                    .expires_at
                    .saturating_add(i64::try_from(self.validation.leeway).unwrap_or(i64::MAX))
            {
                Ok(verified.user_id)
            } else {
                Err(TokenRejection::Expired)
            };
        }
        decode::<Claims>(token, &self.decoding, &self.validation)
            .map(|data| {
                self.verified.insert(
                    token.to_owned(),
                    Verified {
                        user_id: data.claims.sub,
                        expires_at: data.claims.exp,
                    },
                );
                data.claims.sub
            })
            .map_err(|err| {
                tracing::debug!(error = %err, "rejected access token");
                match err.kind() {
                    jsonwebtoken::errors::ErrorKind::ExpiredSignature => TokenRejection::Expired,
                    _ => TokenRejection::Invalid,
                }
            })
    }
}

/// Why a bearer token was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenRejection {
    /// Past its `exp`: refresh it and retry.
    Expired,
    /// Forged, malformed, for another issuer or audience, or not valid yet (`nbf`).
    Invalid,
    /// Well signed, for an account that no longer exists.
    UnknownSubject,
}

impl TokenRejection {
    pub fn error(self) -> ApiError {
        match self {
            TokenRejection::Expired => {
                ApiError::invalid_token("token_expired", "the access token has expired; refresh it")
            }
            TokenRejection::Invalid => {
                ApiError::invalid_token("invalid_token", "the access token is not valid")
            }
            TokenRejection::UnknownSubject => ApiError::invalid_token(
                "invalid_token",
                "the access token is for an account that no longer exists",
            ),
        }
    }
}

/// The authenticated caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Principal {
    pub user_id: Uuid,
}

/// `Authorization: Bearer <access token>`.
#[derive(SecurityScheme)]
#[oai(ty = "bearer", bearer_format = "JWT", checker = "check_bearer")]
pub struct BearerAuth(pub Principal);

async fn check_bearer(req: &Request, _bearer: Bearer) -> poem::Result<Principal> {
    let ctx = AppContext::from_request(req)?;
    Ok(Credentials::of(ctx, req).await?.person()?)
}

/// What a request's `Authorization: Bearer` header holds, checked as far as it can be without
/// the database.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Credentials {
    /// No bearer token.
    Anonymous,
    /// A valid access token.
    Person(Principal),
    /// Text shaped like an API key; whether it is live is up to the tenant extractor (whose
    /// lookup is cached).
    ApiKey(ApiKeyToken),
    /// A bearer token that is neither a valid access token nor shaped like an API key, or one
    /// for an account that no longer exists.
    Rejected(TokenRejection),
}

impl Credentials {
    /// Reads the request's header: verifies an access token, or hashes an API key. A token
    /// is only as good as its account: the subject must still exist (a cached lookup).
    pub async fn read(ctx: &AppContext, req: &Request) -> ApiResult<Self> {
        let Some(token) = bearer_token(req) else {
            return Ok(Credentials::Anonymous);
        };
        if let Some(key) = ApiKeyToken::parse(token) {
            return Ok(Credentials::ApiKey(key));
        }
        let user_id = match ctx.jwt.verify(token) {
            Ok(user_id) => user_id,
            Err(rejection) => return Ok(Credentials::Rejected(rejection)),
        };
        Ok(if ctx.accounts.exists(ctx, user_id).await? {
            Credentials::Person(Principal { user_id })
        } else {
            Credentials::Rejected(TokenRejection::UnknownSubject)
        })
    }

    /// The credentials [`crate::http::Authenticate`] stored for this request, or read now
    /// where that middleware is not mounted.
    pub async fn of<'r>(ctx: &AppContext, req: &'r Request) -> ApiResult<Cow<'r, Credentials>> {
        match req.extensions().get::<Credentials>() {
            Some(credentials) => Ok(Cow::Borrowed(credentials)),
            None => Ok(Cow::Owned(Credentials::read(ctx, req).await?)),
        }
    }

    /// The signed-in person: 401 without a valid access token, 403 for an API key.
    pub fn person(&self) -> ApiResult<Principal> {
        match self {
            Credentials::Person(principal) => Ok(*principal),
            Credentials::ApiKey(_) => Err(api_key_not_allowed()),
            Credentials::Anonymous => Err(ApiError::unauthorized(
                "an Authorization: Bearer token is required",
            )),
            Credentials::Rejected(rejection) => Err(rejection.error()),
        }
    }

    /// Who the caller is for per-caller limits and idempotency scopes: `user:<id>` or
    /// `key:<fingerprint>`; `None` when nobody is known.
    pub fn scope(&self) -> Option<String> {
        match self {
            Credentials::Person(principal) => Some(format!("user:{}", principal.user_id)),
            Credentials::ApiKey(key) => Some(format!("key:{}", key.fingerprint())),
            Credentials::Anonymous | Credentials::Rejected(_) => None,
        }
    }
}

/// The bearer token of a request, if it is well-formed (not yet verified).
fn bearer_token(req: &Request) -> Option<&str> {
    let header = req
        .headers()
        .get(poem::http::header::AUTHORIZATION)?
        .to_str()
        .ok()?;
    let (scheme, token) = header.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

/// Start of every API key, so keys are recognisable (and findable by secret scanners).
pub const API_KEY_PREFIX: &str = "gapi_";

/// A well-formed API key, not yet checked against the store: the tenant it names and the
/// SHA-256 under which it is stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiKeyToken {
    pub gym_id: Uuid,
    pub digest: Vec<u8>,
}

impl ApiKeyToken {
    /// A new key for `gym_id`: the text to show once, and what to store.
    pub fn generate(gym_id: Uuid) -> ApiResult<(String, Self)> {
        let text = format!(
            "{API_KEY_PREFIX}{}_{}",
            gym_id.simple(),
            crate::tokens::generate()?
        );
        let token = Self {
            gym_id,
            digest: crate::tokens::digest(&text),
        };
        Ok((text, token))
    }

    /// `Some` for text shaped like an API key. The tenant id travels in the key so the lookup
    /// runs inside that tenant's row-level security, like every other tenant query.
    pub fn parse(text: &str) -> Option<Self> {
        let rest = text.strip_prefix(API_KEY_PREFIX)?;
        let (gym, secret) = rest.split_once('_')?;
        if gym.len() != 32 || secret.len() != 43 {
            return None;
        }
        Some(Self {
            gym_id: Uuid::try_parse(gym).ok()?,
            digest: crate::tokens::digest(text),
        })
    }

    /// A short stable name for this key in rate-limit and idempotency scopes (not a secret:
    /// a prefix of the stored digest).
    pub fn fingerprint(&self) -> String {
        hex::encode(&self.digest[..12])
    }
}

pub(crate) fn api_key_not_allowed() -> ApiError {
    ApiError::forbidden(
        "api_key_not_allowed",
        "this route acts for a signed-in person; API keys cannot use it",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys() -> JwtKeys {
        JwtKeys::from_settings(&AuthSettings {
            jwt_secret: Some(Secret::new(
                "a-test-secret-that-is-long-enough-for-hs256".into(),
            )),
            issuer: "gymapi".into(),
            audience: "gymapi".into(),
            access_token_ttl_seconds: 900,
            refresh_token_ttl_days: 30,
        })
    }

    #[test]
    fn a_verified_token_is_accepted_again_until_it_expires() {
        let keys = keys();
        let user = Uuid::new_v4();
        let token = keys.issue(user).unwrap();
        assert_eq!(keys.verify(&token), Ok(user));
        assert_eq!(keys.verified.get(&token).map(|v| v.user_id), Some(user));
        let expires_at = chrono::Utc::now().timestamp() + 900;
        assert_eq!(keys.verify_at(&token, expires_at - 60), Ok(user));
        assert_eq!(
            keys.verify_at(&token, expires_at + 60),
            Err(TokenRejection::Expired)
        );
    }

    #[test]
    fn a_token_altered_after_its_original_was_verified_is_refused() {
        let keys = keys();
        let token = keys.issue(Uuid::new_v4()).unwrap();
        assert!(keys.verify(&token).is_ok());
        let (signed, signature) = token.rsplit_once('.').unwrap();
        let forged_claims = format!("{}.{}", signed.replacen('.', ".x", 1), signature);
        let forged_signature = format!("{signed}.{}", signature.replace(|_: char| true, "A"));
        for forged in [forged_claims, forged_signature] {
            assert_eq!(
                keys.verify(&forged),
                Err(TokenRejection::Invalid),
                "{forged}"
            );
        }
    }

    #[test]
    fn generated_keys_parse_back_to_their_tenant_and_digest() {
        let gym_id = Uuid::new_v4();
        let (text, token) = ApiKeyToken::generate(gym_id).unwrap();
        assert!(text.starts_with("gapi_"));
        assert_eq!(ApiKeyToken::parse(&text), Some(token));
    }

    #[test]
    fn other_text_is_not_an_api_key() {
        for text in [
            "eyJhbGciOiJIUzI1NiJ9.e30.x",
            "gapi_",
            "gapi_nothex_abc",
            &format!("gapi_{}_short", Uuid::new_v4().simple()),
        ] {
            assert_eq!(ApiKeyToken::parse(text), None, "{text}");
        }
    }
}
