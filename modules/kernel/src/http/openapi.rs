//! The published OpenAPI document: poem-openapi's output plus what it cannot express, and the
//! method index that gives 405 answers their `Allow` header.

use serde_json::{Value, json};

use crate::Mode;
use crate::routes::RouteTable;
use crate::tenant::TENANT_HEADER_NOTE;

/// Adjusts the generated document in place:
/// - request body objects (JSON, and inline multipart ones) declare
///   `additionalProperties: false`, because [`super::JsonBody`]
///   refuses unknown properties (no mass assignment) and clients should know before sending;
/// - in the gym build, the `X-Gym-ID` header of tenant routes is `required` (the trainer build
///   resolves the tenant itself, and poem-openapi decides required-ness per type, not per build);
/// - the POSTs that [`super::idempotency::Idempotency`] covers declare the optional
///   `Idempotency-Key` header;
/// - inbound webhooks say they take no credentials (`security: []`).
fn idempotency_parameter() -> Value {
    json!({
        "name": super::idempotency::HEADER,
        "in": "header",
        "required": false,
        "deprecated": false,
        "explode": true,
        "description": "Makes a retry safe: the same key with the same body within 24 hours replays the \
            first answer (with `Idempotent-Replayed: true`) instead of acting twice; the same key with \
            another body answers 422.",
        "schema": {"type": "string", "minLength": 1, "maxLength": super::idempotency::MAX_KEY_LENGTH}
    })
}

pub fn finalize(document: &mut Value, mode: Mode, policies: &RouteTable) {
    let mut request_schemas = Vec::new();
    if let Some(paths) = document["paths"].as_object_mut() {
        for (path, item) in paths.iter_mut() {
            let Some(item) = item.as_object_mut() else {
                continue;
            };
            for (method, operation) in item.iter_mut() {
                let Ok(http_method) = method.to_uppercase().parse::<poem::http::Method>() else {
                    continue;
                };
                let policy = policies.policy(&http_method, path);
                if policy.is_inbound_webhook()
                    && let Some(operation) = operation.as_object_mut()
                {
                    operation.insert("security".into(), json!([]));
                }
                if super::idempotency::applies_to(&http_method, path, &policy) {
                    let parameters = operation
                        .as_object_mut()
                        .map(|op| op.entry("parameters").or_insert_with(|| json!([])));
                    if let Some(parameters) = parameters.and_then(Value::as_array_mut) {
                        parameters.push(idempotency_parameter());
                    }
                }
                if let Some(reference) =
                    operation["requestBody"]["content"]["application/json"]["schema"]["$ref"]
                        .as_str()
                {
                    request_schemas.push(
                        reference
                            .trim_start_matches("#/components/schemas/")
                            .to_string(),
                    );
                }
                // Multipart bodies are inline objects; their handlers refuse unknown parts too.
                if let Some(schema) = operation
                    .pointer_mut("/requestBody/content/multipart~1form-data/schema")
                    .and_then(Value::as_object_mut)
                    && schema.get("type") == Some(&json!("object"))
                {
                    schema.insert("additionalProperties".into(), json!(false));
                }
                if mode == Mode::Gym
                    && let Some(parameters) = operation
                        .get_mut("parameters")
                        .and_then(Value::as_array_mut)
                {
                    for parameter in parameters {
                        if parameter["schema"]["description"] == TENANT_HEADER_NOTE {
                            parameter["required"] = json!(true);
                        }
                    }
                }
            }
        }
    }
    if let Some(schemas) = document["components"]["schemas"].as_object_mut() {
        for name in request_schemas {
            if let Some(schema) = schemas.get_mut(&name).and_then(Value::as_object_mut) {
                schema.insert("additionalProperties".into(), json!(false));
            }
        }
    }
}

/// Every route policy a module declared must name an operation of the document: a policy for a
/// path that does not exist (a typo, a renamed route) would silently protect nothing.
pub fn check_declarations(document: &Value, policies: &RouteTable) -> Result<(), String> {
    let index = RouteIndex::from_document(document);
    for declared in policies.declared() {
        let methods = index.allow(&declared.template).unwrap_or_default();
        if !methods
            .split(", ")
            .any(|method| method == declared.method.as_str())
        {
            return Err(format!(
                "a module declares a route policy for {} {}, which is not an operation of the API",
                declared.method, declared.template
            ));
        }
    }
    Ok(())
}

/// What each documented path template accepts: its methods (for the `Allow` header of a 405)
/// and, per method, its query parameters (unknown ones are refused like unknown body fields).
pub struct RouteIndex {
    routes: Vec<RouteEntry>,
}

struct RouteEntry {
    /// Literal segments, `None` for a `{parameter}`.
    segments: Vec<Option<String>>,
    /// Upper-case method and the names of its query parameters.
    methods: Vec<(String, Vec<String>)>,
}

impl RouteIndex {
    pub fn from_document(document: &Value) -> Self {
        let Some(paths) = document["paths"].as_object() else {
            return Self { routes: Vec::new() };
        };
        let routes = paths
            .iter()
            .map(|(template, item)| {
                let segments = template
                    .split('/')
                    .map(|segment| (!segment.starts_with('{')).then(|| segment.to_string()))
                    .collect();
                let mut methods: Vec<(String, Vec<String>)> = item
                    .as_object()
                    .into_iter()
                    .flatten()
                    .map(|(method, operation)| {
                        let query = operation["parameters"]
                            .as_array()
                            .into_iter()
                            .flatten()
                            .filter(|parameter| parameter["in"] == "query")
                            .filter_map(|parameter| parameter["name"].as_str().map(String::from))
                            .collect();
                        (method.to_uppercase(), query)
                    })
                    .collect();
                methods.sort();
                RouteEntry { segments, methods }
            })
            .collect();
        Self { routes }
    }

    fn find(&self, path: &str) -> Option<&RouteEntry> {
        let segments: Vec<&str> = path.split('/').collect();
        self.routes.iter().find(|route| {
            route.segments.len() == segments.len()
                && route
                    .segments
                    .iter()
                    .zip(&segments)
                    .all(|(expected, actual)| {
                        expected.as_deref().is_none_or(|literal| literal == *actual)
                    })
        })
    }

    /// The `Allow` value for a concrete request path, if it matches a documented route.
    pub fn allow(&self, path: &str) -> Option<String> {
        let route = self.find(path)?;
        Some(
            route
                .methods
                .iter()
                .map(|(method, _)| method.as_str())
                .collect::<Vec<_>>()
                .join(", "),
        )
    }

    /// The first query parameter the operation does not declare, if any.
    pub fn unknown_query_parameter<'q>(
        &self,
        path: &str,
        method: &str,
        query: &'q str,
    ) -> Option<&'q str> {
        let route = self.find(path)?;
        let (_, known) = route
            .methods
            .iter()
            .find(|(candidate, _)| candidate == method)?;
        query
            .split('&')
            .filter(|pair| !pair.is_empty())
            .map(|pair| pair.split_once('=').map_or(pair, |(name, _)| name))
            .find(|name| !known.iter().any(|known| known == name))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn document() -> Value {
        json!({
            "paths": {
                "/api/v1/members": {
                    "get": {"parameters": [{"name": "X-Gym-ID", "in": "header", "required": false,
                            "schema": {"type": "string", "description": TENANT_HEADER_NOTE}}]},
                    "post": {"requestBody": {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/AddMember"}}}}}
                },
                "/api/v1/members/{user_id}": {"patch": {}, "delete": {}}
            },
            "components": {"schemas": {"AddMember": {"type": "object"}, "Member": {"type": "object"}}}
        })
    }

    #[test]
    fn request_bodies_are_closed_and_gym_headers_required() {
        let mut gym = document();
        finalize(&mut gym, Mode::Gym, &RouteTable::default());
        assert_eq!(
            gym["components"]["schemas"]["AddMember"]["additionalProperties"],
            false
        );
        assert!(
            gym["components"]["schemas"]["Member"]["additionalProperties"].is_null(),
            "responses stay open"
        );
        assert_eq!(
            gym["paths"]["/api/v1/members"]["get"]["parameters"][0]["required"],
            true
        );
        let mut trainer = document();
        finalize(&mut trainer, Mode::Trainer, &RouteTable::default());
        assert_eq!(
            trainer["paths"]["/api/v1/members"]["get"]["parameters"][0]["required"],
            false
        );
    }

    #[test]
    fn allow_lists_the_methods_of_the_matching_template() {
        let index = RouteIndex::from_document(&document());
        assert_eq!(index.allow("/api/v1/members").as_deref(), Some("GET, POST"));
        assert_eq!(
            index.allow("/api/v1/members/0192").as_deref(),
            Some("DELETE, PATCH")
        );
        assert_eq!(index.allow("/api/v1/members/0192/extra"), None);
    }

    #[test]
    fn undeclared_query_parameters_are_found() {
        let mut doc = document();
        if let Some(parameters) =
            doc["paths"]["/api/v1/members"]["get"]["parameters"].as_array_mut()
        {
            parameters.push(json!({"name": "limit", "in": "query"}));
        }
        let index = RouteIndex::from_document(&doc);
        let members = "/api/v1/members";
        assert_eq!(
            index.unknown_query_parameter(members, "GET", "limit=2"),
            None
        );
        assert_eq!(
            index.unknown_query_parameter(members, "GET", "limit=2&debug=1"),
            Some("debug")
        );
        assert_eq!(
            index.unknown_query_parameter(members, "POST", "x"),
            Some("x")
        );
        assert_eq!(
            index.unknown_query_parameter("/nowhere", "GET", "x=1"),
            None,
            "404 decides there"
        );
    }
}
