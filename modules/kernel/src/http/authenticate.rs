//! Reads a request's credentials once ([`Credentials::read`]) and stores them in the request's
//! extensions, where the rate limiter, the idempotency layer and the extractors find them: an
//! access token is verified a single time, an API key hashed a single time. Inbound webhooks
//! carry no bearer credentials; their header, if any, is not read.

use std::sync::Arc;

use poem::{Endpoint, Middleware, Request};

use crate::JwtKeys;
use crate::auth::Credentials;
use crate::routes::RoutePolicy;

pub struct Authenticate {
    jwt: Arc<JwtKeys>,
}

impl Authenticate {
    pub fn new(jwt: Arc<JwtKeys>) -> Self {
        Self { jwt }
    }
}

impl<E: Endpoint> Middleware<E> for Authenticate {
    type Output = AuthenticateEndpoint<E>;

    fn transform(&self, inner: E) -> Self::Output {
        AuthenticateEndpoint {
            inner,
            jwt: self.jwt.clone(),
        }
    }
}

pub struct AuthenticateEndpoint<E> {
    inner: E,
    jwt: Arc<JwtKeys>,
}

impl<E: Endpoint> Endpoint for AuthenticateEndpoint<E> {
    type Output = E::Output;

    async fn call(&self, mut req: Request) -> poem::Result<Self::Output> {
        let inbound = req
            .extensions()
            .get::<RoutePolicy>()
            .is_some_and(RoutePolicy::is_inbound_webhook);
        let credentials = if inbound {
            Credentials::Anonymous
        } else {
            Credentials::read(&self.jwt, &req)
        };
        req.extensions_mut().insert(credentials);
        self.inner.call(req).await
    }
}
