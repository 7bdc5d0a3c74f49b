use chrono::{DateTime, Utc};
use kernel::http::JsonBody;
use kernel::http::document::{ApiLink, EMAIL_PATTERN, FieldRule, NOT_BLANK_PATTERN, Rule};
use kernel::{ApiResult, AppContext, BearerAuth, OptionalTenant, Role, TenantKind, TokenPair};
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Object, OpenApi, Tags};
use uuid::Uuid;

use crate::Identity;
use crate::repo::UserRow;
use crate::service::{self, ProfileChange};

/// What the handlers check beyond the fields' types, for the document (written there by the
/// kernel rather than as `#[oai(validator)]`: the handlers word these problems themselves).
pub(crate) const FIELD_RULES: &[FieldRule] = &[
    FieldRule {
        schema: "RegisterRequest",
        property: "email",
        rule: Rule::Pattern(EMAIL_PATTERN),
    },
    FieldRule {
        schema: "RegisterRequest",
        property: "email",
        rule: Rule::Example("new.member@example.com"),
    },
    FieldRule {
        schema: "RegisterRequest",
        property: "first_name",
        rule: Rule::Pattern(NOT_BLANK_PATTERN),
    },
    FieldRule {
        schema: "RegisterRequest",
        property: "last_name",
        rule: Rule::Pattern(NOT_BLANK_PATTERN),
    },
    FieldRule {
        schema: "UpdateMeRequest",
        property: "first_name",
        rule: Rule::Pattern(NOT_BLANK_PATTERN),
    },
    FieldRule {
        schema: "UpdateMeRequest",
        property: "last_name",
        rule: Rule::Pattern(NOT_BLANK_PATTERN),
    },
    FieldRule {
        schema: "LoginRequest",
        property: "email",
        rule: Rule::Example("ann@example.com"),
    },
    FieldRule {
        schema: "LoginRequest",
        property: "password",
        rule: Rule::Example("correct-horse-battery-staple"),
    },
];

/// A new account can sign in; a session's refresh token refreshes or ends it.
pub(crate) const LINKS: &[ApiLink] = &[
    ApiLink {
        from: "auth_register",
        status: 201,
        to: "auth_login",
        parameters: &[],
        body: &[
            ("email", "$request.body#/email"),
            ("password", "$request.body#/password"),
        ],
    },
    ApiLink {
        from: "auth_login",
        status: 200,
        to: "auth_refresh",
        parameters: &[],
        body: &[("refresh_token", "$response.body#/tokens/refresh_token")],
    },
    ApiLink {
        from: "auth_login",
        status: 200,
        to: "auth_logout",
        parameters: &[],
        body: &[("refresh_token", "$response.body#/tokens/refresh_token")],
    },
];

#[derive(Tags)]
enum IdentityTags {
    /// Sign-up, sign-in, token refresh and sign-out.
    Auth,
    /// The signed-in user's profile.
    Users,
}

#[derive(Debug, Object)]
#[oai(deny_unknown_fields)]
pub struct RegisterRequest {
    /// Used to sign in; case-insensitive and unique.
    #[oai(validator(max_length = 254))]
    pub email: String,
    /// At least 10 characters.
    #[oai(validator(min_length = 10, max_length = 256))]
    pub password: String,
    #[oai(validator(min_length = 1, max_length = 100))]
    pub first_name: String,
    #[oai(validator(min_length = 1, max_length = 100))]
    pub last_name: String,
}

#[derive(Debug, Object)]
#[oai(deny_unknown_fields)]
pub struct LoginRequest {
    #[oai(validator(max_length = 254))]
    pub email: String,
    #[oai(validator(max_length = 256))]
    pub password: String,
}

#[derive(Debug, Object)]
#[oai(deny_unknown_fields)]
pub struct RefreshRequest {
    /// The refresh token from sign-in or the previous refresh. Single use.
    #[oai(validator(max_length = 512))]
    pub refresh_token: String,
}

#[derive(Debug, Object)]
pub struct User {
    pub id: Uuid,
    pub email: String,
    pub first_name: String,
    pub last_name: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<UserRow> for User {
    fn from(row: UserRow) -> Self {
        Self {
            id: row.id,
            email: row.email,
            first_name: row.first_name,
            last_name: row.last_name,
            created_at: row.created_at,
            updated_at: row.updated_at,
        }
    }
}

#[derive(Debug, Object)]
pub struct AuthSession {
    pub user: User,
    pub tokens: TokenPair,
}

/// The caller's standing in the tenant this request resolved to.
#[derive(Debug, Object)]
pub struct CurrentTenant {
    pub gym_id: Uuid,
    pub role: Role,
    pub kind: TenantKind,
}

#[derive(Debug, Object)]
pub struct Me {
    pub user: User,
    /// Present when a tenant resolved: from `X-Gym-ID`, or in the trainer build your own workspace.
    #[oai(skip_serializing_if_is_none)]
    pub tenant: Option<CurrentTenant>,
}

#[derive(Debug, Object)]
#[oai(deny_unknown_fields)]
pub struct UpdateMeRequest {
    #[oai(validator(min_length = 1, max_length = 100))]
    pub first_name: Option<String>,
    #[oai(validator(min_length = 1, max_length = 100))]
    pub last_name: Option<String>,
    /// A new password (at least 10 characters); needs `current_password`. Ends other sessions.
    #[oai(validator(min_length = 10, max_length = 256))]
    pub password: Option<String>,
    #[oai(validator(max_length = 256))]
    pub current_password: Option<String>,
}

#[derive(ApiResponse)]
enum RegisterResponse {
    /// Account created and signed in.
    #[oai(status = 201)]
    Created(Json<AuthSession>),
}

#[derive(ApiResponse)]
enum LogoutResponse {
    /// Session ended (also when the token was unknown).
    #[oai(status = 204)]
    Done,
}

pub struct IdentityApi {
    pub ctx: AppContext,
}

#[OpenApi(prefix_path = "/api/v1")]
impl IdentityApi {
    /// Create an account and sign in. The e-mail must not be registered yet (409 `email_taken`).
    #[oai(
        path = "/auth/register",
        method = "post",
        tag = "IdentityTags::Auth",
        operation_id = "auth_register"
    )]
    async fn register(&self, body: JsonBody<RegisterRequest>) -> ApiResult<RegisterResponse> {
        let body = body.0;
        let (user, tokens) = service::register(
            &self.ctx,
            &body.email,
            &body.password,
            &body.first_name,
            &body.last_name,
        )
        .await?;
        Ok(RegisterResponse::Created(Json(AuthSession {
            user: user.into(),
            tokens,
        })))
    }

    /// Sign in with e-mail and password
    ///
    /// Returns an access token and a refresh token. A wrong e-mail or password both answer
    /// 401 `invalid_credentials`.
    #[oai(
        path = "/auth/login",
        method = "post",
        tag = "IdentityTags::Auth",
        operation_id = "auth_login"
    )]
    async fn login(&self, body: JsonBody<LoginRequest>) -> ApiResult<Json<AuthSession>> {
        let (user, tokens) = service::login(&self.ctx, &body.email, &body.password).await?;
        Ok(Json(AuthSession {
            user: user.into(),
            tokens,
        }))
    }

    /// Exchange a refresh token for a new pair
    ///
    /// Each refresh token works once; presenting a used one again revokes the whole session
    /// (401 `refresh_token_reused`).
    #[oai(
        path = "/auth/refresh",
        method = "post",
        tag = "IdentityTags::Auth",
        operation_id = "auth_refresh"
    )]
    async fn refresh(&self, body: JsonBody<RefreshRequest>) -> ApiResult<Json<TokenPair>> {
        Ok(Json(
            service::refresh(&self.ctx, &body.refresh_token).await?,
        ))
    }

    /// Sign out: revokes the session the refresh token belongs to.
    #[oai(
        path = "/auth/logout",
        method = "post",
        tag = "IdentityTags::Auth",
        operation_id = "auth_logout"
    )]
    async fn logout(&self, body: JsonBody<RefreshRequest>) -> ApiResult<LogoutResponse> {
        service::logout(&self.ctx, &body.refresh_token).await?;
        Ok(LogoutResponse::Done)
    }

    /// Your profile, and your role in the tenant the request resolves to (if any).
    #[oai(
        path = "/users/me",
        method = "get",
        tag = "IdentityTags::Users",
        operation_id = "users_me_get"
    )]
    async fn me(
        &self,
        #[oai(name = "X-Gym-ID")] caller: OptionalTenant<Identity>,
    ) -> ApiResult<Json<Me>> {
        let user = service::profile(&self.ctx, caller.user_id).await?;
        let tenant = caller.tenant.map(|t| CurrentTenant {
            gym_id: t.gym_id,
            role: t.role,
            kind: t.kind,
        });
        Ok(Json(Me {
            user: user.into(),
            tenant,
        }))
    }

    /// Update your names, or your password (with `current_password`).
    #[oai(
        path = "/users/me",
        method = "patch",
        tag = "IdentityTags::Users",
        operation_id = "users_me_update"
    )]
    async fn update_me(
        &self,
        auth: BearerAuth,
        body: JsonBody<UpdateMeRequest>,
    ) -> ApiResult<Json<User>> {
        let body = body.0;
        let change = ProfileChange {
            first_name: body.first_name.as_deref(),
            last_name: body.last_name.as_deref(),
            password: body.password.as_deref(),
            current_password: body.current_password.as_deref(),
        };
        Ok(Json(
            service::update_profile(&self.ctx, auth.0.user_id, change)
                .await?
                .into(),
        ))
    }
}
