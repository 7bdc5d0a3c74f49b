//! Reads a request's credentials once ([`Credentials::read`]) and stores them in the request's
//! extensions, where the rate limiter, the idempotency layer and the extractors find them: an
//! access token is verified a single time, an API key hashed a single time. Inbound webhooks
//! carry no bearer credentials; their header, if any, is not read.

use poem::{Endpoint, Middleware, Request};

use crate::AppContext;
use crate::auth::Credentials;
use crate::routes::RoutePolicy;

/// Mount inside the layer that attaches the [`AppContext`] (`.data(ctx)`).
pub struct Authenticate;

impl<E: Endpoint> Middleware<E> for Authenticate {
    type Output = AuthenticateEndpoint<E>;

    fn transform(&self, inner: E) -> Self::Output {
        AuthenticateEndpoint { inner }
    }
}

pub struct AuthenticateEndpoint<E> {
    inner: E,
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
            Credentials::read(AppContext::from_request(&req)?, &req).await?
        };
        req.extensions_mut().insert(credentials);
        self.inner.call(req).await
    }
}
