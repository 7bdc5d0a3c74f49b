//! Access tokens: short-lived HS256 JWTs. Identity issues them, every module checks them through
//! [`BearerAuth`] (user only) or [`crate::Tenant`] (user acting inside a tenant).

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation, decode, encode};
use poem::Request;
use poem_openapi::SecurityScheme;
use poem_openapi::auth::Bearer;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::config::{AuthSettings, Environment};
use crate::{ApiError, ApiResult, AppContext};

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
}

impl JwtKeys {
    /// Keys from settings. Without a configured secret (development and test only; `validate`
    /// refuses it in production) a random per-process key is used, so tokens die on restart.
    pub fn from_settings(auth: &AuthSettings, environment: Environment) -> Self {
        let secret = match &auth.jwt_secret {
            Some(secret) => secret.expose().as_bytes().to_vec(),
            None => {
                tracing::warn!(
                    ?environment,
                    "auth.jwt_secret is not set; using a random key for this process"
                );
                let mut bytes = Uuid::new_v4().as_bytes().to_vec();
                bytes.extend_from_slice(Uuid::new_v4().as_bytes());
                bytes
            }
        };
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_issuer(&[&auth.issuer]);
        validation.set_audience(&[&auth.audience]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        validation.leeway = 5;
        Self {
            encoding: EncodingKey::from_secret(&secret),
            decoding: DecodingKey::from_secret(&secret),
            validation,
            issuer: auth.issuer.clone(),
            audience: auth.audience.clone(),
            access_ttl_seconds: auth.access_token_ttl_seconds,
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

    /// The user id of a valid token; 401 for anything else (bad signature, `alg: none`,
    /// expired, wrong issuer or audience).
    pub fn verify(&self, token: &str) -> ApiResult<Uuid> {
        decode::<Claims>(token, &self.decoding, &self.validation)
            .map(|data| data.claims.sub)
            .map_err(|err| {
                tracing::debug!(error = %err, "rejected access token");
                ApiError::unauthorized("the access token is invalid or expired")
            })
    }
}

/// The authenticated caller.
#[derive(Debug, Clone, Copy)]
pub struct Principal {
    pub user_id: Uuid,
}

/// `Authorization: Bearer <access token>`.
#[derive(SecurityScheme)]
#[oai(ty = "bearer", bearer_format = "JWT", checker = "check_bearer")]
pub struct BearerAuth(pub Principal);

async fn check_bearer(req: &Request, bearer: Bearer) -> poem::Result<Principal> {
    if let Some(verified) = req.extensions().get::<VerifiedBearer>() {
        return Ok(verified.0);
    }
    let ctx = AppContext::from_request(req)?;
    let user_id = ctx.jwt.verify(&bearer.token)?;
    Ok(Principal { user_id })
}

/// Set by middleware that already verified this request's bearer token (the rate limiter),
/// so handlers do not verify it a second time.
#[derive(Debug, Clone, Copy)]
pub struct VerifiedBearer(pub Principal);

/// The bearer token of a request, if it is well-formed (not yet verified).
pub fn bearer_token(req: &Request) -> Option<&str> {
    let header = req
        .headers()
        .get(poem::http::header::AUTHORIZATION)?
        .to_str()
        .ok()?;
    let (scheme, token) = header.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

/// Reads and verifies the bearer token of a request by hand (for extractors that are more
/// than a security scheme).
pub(crate) fn principal_from_request(ctx: &AppContext, req: &Request) -> ApiResult<Principal> {
    if let Some(verified) = req.extensions().get::<VerifiedBearer>() {
        return Ok(verified.0);
    }
    let token = bearer_token(req)
        .ok_or_else(|| ApiError::unauthorized("an Authorization: Bearer token is required"))?;
    Ok(Principal {
        user_id: ctx.jwt.verify(token)?,
    })
}
