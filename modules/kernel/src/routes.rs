//! Route policies: how the kernel's HTTP layers treat a route. Every route gets the defaults
//! (the global body limit, the API rate-limit classes, `Idempotency-Key` on POST, bearer
//! credentials); a module declares the exceptions next to its own routes
//! ([`crate::Module::routes`]), so the kernel never names a module's path.
//!
//! The [`RouteTable`] built from every module's declarations is consulted once per request
//! (the request observer stores the matching [`RoutePolicy`] in the request's extensions), and
//! once when the OpenAPI document is finalized.

use poem::http::Method;
use poem::{EndpointExt, IntoEndpoint, Response};

/// Which rate-limit class a route counts against.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RateClass {
    /// Per client IP, and per caller (user or API key) when one is known.
    Api,
    /// Sign-up, sign-in and token refresh: the strict per-IP class.
    SignIn,
    /// Inbound webhooks from providers: their own per-IP class, so a provider's burst of
    /// retries neither starves the API nor is starved by it.
    Inbound,
}

/// What a route is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RouteKind {
    /// A documented API operation with bearer credentials (or none, where the handler asks
    /// for none).
    Api,
    /// A provider's webhook: no bearer credentials are read, the handler receives the raw
    /// bytes ([`crate::http::InboundBody`]) and checks the provider's signature itself.
    InboundWebhook,
}

/// The policy of one route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RoutePolicy {
    pub kind: RouteKind,
    /// A body limit of its own (a streamed upload); `None` keeps `server.body_limit_bytes`.
    pub body_limit: Option<usize>,
    pub rate_class: RateClass,
    /// Whether a POST honours `Idempotency-Key`.
    pub idempotent: bool,
}

impl RoutePolicy {
    pub const DEFAULT: RoutePolicy = RoutePolicy {
        kind: RouteKind::Api,
        body_limit: None,
        rate_class: RateClass::Api,
        idempotent: true,
    };

    pub fn is_inbound_webhook(&self) -> bool {
        self.kind == RouteKind::InboundWebhook
    }
}

/// A route served outside the API document (files by key, for instance), mounted as is.
pub struct OutsideRoute {
    /// poem route syntax, e.g. `/media/*key`.
    pub path: String,
    pub endpoint: poem::endpoint::BoxEndpoint<'static, Response>,
}

/// One declared exception, for `method` on a path template (`/api/v1/webhooks/{provider}`).
#[derive(Debug, Clone)]
pub struct Declared {
    pub method: Method,
    pub template: String,
    pub policy: RoutePolicy,
}

/// What a module declares about its routes.
#[derive(Default)]
pub struct Routes {
    declared: Vec<Declared>,
    outside: Vec<OutsideRoute>,
}

impl Routes {
    pub fn new() -> Self {
        Self::default()
    }

    fn change(
        mut self,
        method: Method,
        template: &str,
        change: impl FnOnce(&mut RoutePolicy),
    ) -> Self {
        let index = match self
            .declared
            .iter()
            .position(|d| d.method == method && d.template == template)
        {
            Some(index) => index,
            None => {
                self.declared.push(Declared {
                    method,
                    template: template.to_string(),
                    policy: RoutePolicy::DEFAULT,
                });
                self.declared.len() - 1
            }
        };
        change(&mut self.declared[index].policy);
        self
    }

    /// A body limit of its own: the handler streams the body and checks it as it arrives.
    /// Such a route does not honour `Idempotency-Key` (that would mean holding the whole body
    /// in memory to hash it).
    pub fn body_limit(self, method: Method, template: &str, bytes: usize) -> Self {
        self.change(method, template, |policy| {
            policy.body_limit = Some(bytes);
            policy.idempotent = false;
        })
    }

    /// The strict sign-in rate-limit class (sign-up, sign-in, token refresh).
    pub fn sign_in(self, method: Method, template: &str) -> Self {
        self.change(method, template, |policy| {
            policy.rate_class = RateClass::SignIn
        })
    }

    /// Exempt from `Idempotency-Key`: the answer must not be stored or replayed (it carries
    /// tokens, for instance).
    pub fn without_idempotency(self, method: Method, template: &str) -> Self {
        self.change(method, template, |policy| policy.idempotent = false)
    }

    /// An inbound webhook from a provider: no bearer credentials, raw bytes to the handler,
    /// the inbound per-IP rate-limit class, no `Idempotency-Key` (providers de-duplicate by
    /// their event ids), and documented as unauthenticated.
    pub fn inbound_webhook(self, method: Method, template: &str) -> Self {
        self.change(method, template, |policy| {
            policy.kind = RouteKind::InboundWebhook;
            policy.rate_class = RateClass::Inbound;
            policy.idempotent = false;
        })
    }

    /// A route served outside the API document, such as files fetched by an unguessable key.
    pub fn outside_document<E>(mut self, path: &str, endpoint: E) -> Self
    where
        E: IntoEndpoint,
        E::Endpoint: 'static,
    {
        self.outside.push(OutsideRoute {
            path: path.to_string(),
            endpoint: endpoint.into_endpoint().map_to_response().boxed(),
        });
        self
    }

    pub fn declared(&self) -> &[Declared] {
        &self.declared
    }

    pub fn into_parts(self) -> (Vec<Declared>, Vec<OutsideRoute>) {
        (self.declared, self.outside)
    }
}

/// Every module's declarations, looked up by request method and path.
#[derive(Debug, Clone, Default)]
pub struct RouteTable {
    entries: Vec<(Method, Vec<Segment>, Declared)>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Segment {
    Literal(String),
    Parameter,
}

fn segments(template: &str) -> Vec<Segment> {
    template
        .split('/')
        .map(|segment| {
            if segment.starts_with('{') || segment.starts_with(':') {
                Segment::Parameter
            } else {
                Segment::Literal(segment.to_string())
            }
        })
        .collect()
}

impl RouteTable {
    pub fn new(declared: impl IntoIterator<Item = Declared>) -> Self {
        Self {
            entries: declared
                .into_iter()
                .map(|d| (d.method.clone(), segments(&d.template), d))
                .collect(),
        }
    }

    /// The policy of a request.
    pub fn policy(&self, method: &Method, path: &str) -> RoutePolicy {
        if self.entries.is_empty() {
            return RoutePolicy::DEFAULT;
        }
        self.entries
            .iter()
            .find(|(declared_method, template, _)| {
                declared_method == method && matches(template, path)
            })
            .map_or(RoutePolicy::DEFAULT, |(_, _, declared)| declared.policy)
    }

    pub fn declared(&self) -> impl Iterator<Item = &Declared> {
        self.entries.iter().map(|(_, _, declared)| declared)
    }
}

fn matches(template: &[Segment], path: &str) -> bool {
    let mut parts = path.split('/');
    for expected in template {
        match (expected, parts.next()) {
            (_, None) => return false,
            (Segment::Parameter, Some(part)) if !part.is_empty() => {}
            (Segment::Literal(literal), Some(part)) if literal == part => {}
            _ => return false,
        }
    }
    parts.next().is_none()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table() -> RouteTable {
        let routes = Routes::new()
            .sign_in(Method::POST, "/api/v1/session")
            .without_idempotency(Method::POST, "/api/v1/session")
            .body_limit(Method::POST, "/api/v1/uploads", 10)
            .inbound_webhook(Method::POST, "/api/v1/inbound/{provider}/{gym_id}");
        let (declared, _) = routes.into_parts();
        RouteTable::new(declared)
    }

    #[test]
    fn undeclared_routes_get_the_defaults() {
        let table = table();
        assert_eq!(
            table.policy(&Method::POST, "/api/v1/things"),
            RoutePolicy::DEFAULT
        );
        assert_eq!(
            table.policy(&Method::GET, "/api/v1/session"),
            RoutePolicy::DEFAULT,
            "policies are per method"
        );
    }

    #[test]
    fn declarations_of_one_route_combine() {
        let login = table().policy(&Method::POST, "/api/v1/session");
        assert_eq!(login.rate_class, RateClass::SignIn);
        assert!(!login.idempotent);
        let upload = table().policy(&Method::POST, "/api/v1/uploads");
        assert_eq!(upload.body_limit, Some(10));
        assert!(!upload.idempotent, "streamed bodies are never hashed");
    }

    #[test]
    fn templates_match_one_segment_per_parameter() {
        let table = table();
        let inbound = table.policy(&Method::POST, "/api/v1/inbound/stripe/0192");
        assert!(inbound.is_inbound_webhook());
        assert_eq!(inbound.rate_class, RateClass::Inbound);
        for other in [
            "/api/v1/inbound/stripe",
            "/api/v1/inbound/stripe/0192/extra",
            "/api/v1/inbound//0192",
        ] {
            assert_eq!(
                table.policy(&Method::POST, other),
                RoutePolicy::DEFAULT,
                "{other}"
            );
        }
    }
}
