//! The published OpenAPI document: poem-openapi's output plus what it cannot express, and the
//! method index that gives 405 answers their `Allow` header.

use serde_json::{Value, json};

use super::document::{ApiLink, NO_NUL_PATTERN, Rule};
use crate::Mode;
use crate::module::Registry;
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
/// - inbound webhooks say they take no credentials (`security: []`);
/// - request fields state the rules their handlers apply (each module's
///   [`crate::Module::field_rules`]), and every other request string the one
///   [`super::JsonBody`] applies (no NUL character);
/// - a documented enum or object field is a bare `$ref` ([`bare_references`]), so generators
///   see the referenced schema instead of an `allOf` they cannot take apart;
/// - operations that create a resource link to the operations that use it ([`derived_links`]),
///   plus the links modules declare ([`crate::Module::links`]).
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

pub fn finalize(document: &mut Value, registry: &Registry, policies: &RouteTable) {
    let mode = registry.mode();
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
        for name in &request_schemas {
            if let Some(schema) = schemas.get_mut(name).and_then(Value::as_object_mut) {
                schema.insert("additionalProperties".into(), json!(false));
            }
        }
        // A rule for a schema this build does not have is skipped.
        for rule in registry.iter().flat_map(|module| module.field_rules()) {
            if let Some(property) = schemas
                .get_mut(rule.schema)
                .and_then(|schema| schema.get_mut("properties"))
                .and_then(|properties| properties.get_mut(rule.property))
            {
                apply(&rule.rule, property, registry);
            }
        }
        for name in &request_schemas {
            if let Some(properties) = schemas
                .get_mut(name)
                .and_then(|schema| schema.get_mut("properties"))
                .and_then(Value::as_object_mut)
            {
                properties.values_mut().for_each(no_nul);
            }
        }
        for schema in schemas.values_mut() {
            bare_references(schema);
        }
    }
    let mut links = derived_links(document);
    links.extend(
        registry
            .iter()
            .flat_map(|module| module.links())
            .map(Link::from),
    );
    add_links(document, &links);
}

/// Writes `rule` into `property`, with this build's scopes or event types where it asks for them.
fn apply(rule: &Rule, property: &mut Value, registry: &Registry) {
    match rule {
        Rule::Pattern(pattern) => property["pattern"] = json!(pattern),
        Rule::ItemsAreApiScopes => property["items"]["enum"] = json!(registry.api_scopes()),
        Rule::ItemsArePublicEvents => {
            let events: Vec<&str> = registry
                .public_events()
                .map(|event| event.event_type)
                .collect();
            property["items"]["enum"] = json!(events);
        }
        Rule::Example(value) => property["example"] = json!(value),
    }
}

/// A string (or the strings of an array) with no rule of its own gets [`NO_NUL_PATTERN`];
/// enums and formats exclude NUL already.
fn no_nul(property: &mut Value) {
    if property["type"] == "array" {
        if let Some(items) = property.get_mut("items") {
            no_nul(items);
        }
        return;
    }
    if property["type"] == "string"
        && ["pattern", "enum", "format"]
            .iter()
            .all(|key| property.get(key).is_none())
    {
        property["pattern"] = json!(NO_NUL_PATTERN);
    }
}

/// Keys that only annotate a schema: a wrapper holding nothing else says nothing a bare
/// `$ref` would not, apart from its text.
const ANNOTATIONS: &[&str] = &[
    "description",
    "default",
    "title",
    "example",
    "readOnly",
    "writeOnly",
    "deprecated",
];

/// poem-openapi writes a documented field whose type is an enum or object as
/// `{description, allOf: [{$ref}, {description}]}`. OpenAPI 3.0 ignores siblings of `$ref`,
/// hence the wrapper, but generators take `allOf` for composition and choke on it: an enum is
/// not an object they can merge ("Cannot take allOf a non-object" in openapi-python-client,
/// which then drops the schema and every operation that uses it). Such a field becomes a bare
/// `$ref`. Its text is not lost: it moves into the enclosing schema's description, as a line
/// `` `field`: text ``, the one place OpenAPI 3.0 keeps it and generators show it (the model's
/// docstring). It does not move into the referenced schema: that one is shared (`Role` is the
/// role of a member, of the caller, of a role filter), so one field's wording would be wrong
/// everywhere else. A field default (`role` of a new member) cannot ride on a `$ref` either;
/// the field's text states it.
fn bare_references(schema: &mut Value) {
    let Some(object) = schema.as_object_mut() else {
        return;
    };
    let mut notes = Vec::new();
    if let Some(properties) = object.get_mut("properties").and_then(Value::as_object_mut) {
        for (name, property) in properties.iter_mut() {
            if let Some((reference, text)) = wrapped_reference(property) {
                if let Some(text) = text {
                    notes.push(format!("- `{name}`: {text}"));
                }
                *property = json!({ "$ref": reference });
            } else {
                bare_references(property);
            }
        }
    }
    for key in ["items", "additionalProperties"] {
        if let Some(inner) = object.get_mut(key) {
            bare_references(inner);
        }
    }
    for key in ["allOf", "anyOf", "oneOf"] {
        if let Some(parts) = object.get_mut(key).and_then(Value::as_array_mut) {
            parts.iter_mut().for_each(bare_references);
        }
    }
    if !notes.is_empty() {
        let description = match object.get("description").and_then(Value::as_str) {
            Some(own) if !own.is_empty() => format!("{own}\n\n{}", notes.join("\n")),
            _ => notes.join("\n"),
        };
        object.insert("description".into(), json!(description));
    }
}

/// The reference and the field's text when `property` is only an annotated wrapper around one
/// `$ref`: `allOf` holding the `$ref` and, at most, annotations.
fn wrapped_reference(property: &Value) -> Option<(String, Option<String>)> {
    let object = property.as_object()?;
    if object.contains_key("$ref")
        || !object
            .keys()
            .all(|key| key == "allOf" || ANNOTATIONS.contains(&key.as_str()))
    {
        return None;
    }
    let parts = object.get("allOf")?.as_array()?;
    let mut reference = None;
    for part in parts {
        let part = part.as_object()?;
        if let Some(target) = part.get("$ref").and_then(Value::as_str) {
            if reference.is_some() || part.len() != 1 {
                return None;
            }
            reference = Some(target.to_string());
        } else if !part.keys().all(|key| ANNOTATIONS.contains(&key.as_str())) {
            return None;
        }
    }
    let text = object
        .get("description")
        .or_else(|| parts.iter().find_map(|part| part.get("description")))
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|text| !text.is_empty())
        .map(String::from);
    Some((reference?, text))
}

/// A link as added to the document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Link {
    pub from: String,
    pub status: u16,
    pub to: String,
    pub parameters: Vec<(String, String)>,
    pub body: Vec<(String, String)>,
}

impl From<&ApiLink> for Link {
    fn from(link: &ApiLink) -> Self {
        Self {
            from: link.from.into(),
            status: link.status,
            to: link.to.into(),
            parameters: link
                .parameters
                .iter()
                .map(|(name, expression)| (name.to_string(), expression.to_string()))
                .collect(),
            body: link
                .body
                .iter()
                .map(|(name, expression)| (name.to_string(), expression.to_string()))
                .collect(),
        }
    }
}

/// The links every create has, found from the document: a `POST` on a collection path
/// (`/api/v1/gyms`) that answers 201 with an object links to every operation below it whose
/// one path parameter names that object (`/api/v1/gyms/{gym_id}`,
/// `/api/v1/webhook-endpoints/{id}/ping`). The parameter comes from the answer's property of
/// the same name (`user_id` of a new member), or else from its `id`.
pub fn derived_links(document: &Value) -> Vec<Link> {
    let Some(paths) = document["paths"].as_object() else {
        return Vec::new();
    };
    let mut links = Vec::new();
    for (collection, item) in paths {
        if collection.ends_with('}') {
            continue;
        }
        let create = &item["post"];
        let Some(from) = create["operationId"].as_str() else {
            continue;
        };
        let Some(answer) = response_schema(document, &create["responses"]["201"]) else {
            continue;
        };
        let prefix = format!("{collection}/{{");
        for (path, item) in paths {
            let Some(rest) = path.strip_prefix(&prefix) else {
                continue;
            };
            let Some((parameter, below)) = rest.split_once('}') else {
                continue;
            };
            if below.contains('{') {
                continue;
            }
            let source = if answer.contains_key(parameter) {
                parameter
            } else if answer.contains_key("id") {
                "id"
            } else {
                continue;
            };
            let Some(operations) = item.as_object() else {
                continue;
            };
            for operation in operations.values() {
                if let Some(to) = operation["operationId"].as_str() {
                    links.push(Link {
                        from: from.into(),
                        status: 201,
                        to: to.into(),
                        parameters: vec![(
                            parameter.to_string(),
                            format!("$response.body#/{source}"),
                        )],
                        body: Vec::new(),
                    });
                }
            }
        }
    }
    links
}

/// The properties of a response's JSON body, its `$ref` resolved.
fn response_schema<'d>(
    document: &'d Value,
    response: &'d Value,
) -> Option<&'d serde_json::Map<String, Value>> {
    let content = response["content"].as_object()?;
    let schema = content
        .iter()
        .find(|(media_type, _)| media_type.starts_with("application/json"))
        .map(|(_, media)| &media["schema"])?;
    let schema = match schema["$ref"].as_str() {
        Some(reference) => document.pointer(reference.strip_prefix('#')?)?,
        None => schema,
    };
    schema["properties"].as_object()
}

/// Adds `links` to their answers, named after the target operation. A link whose operations
/// or answer this build does not have is skipped.
pub fn add_links(document: &mut Value, links: &[Link]) {
    let mut operations: std::collections::HashMap<String, (String, String)> =
        std::collections::HashMap::new();
    if let Some(paths) = document["paths"].as_object() {
        for (path, item) in paths {
            for (method, operation) in item.as_object().into_iter().flatten() {
                if let Some(id) = operation["operationId"].as_str() {
                    operations.insert(id.to_string(), (path.clone(), method.clone()));
                }
            }
        }
    }
    for link in links {
        let (Some((path, method)), true) = (
            operations.get(&link.from),
            operations.contains_key(&link.to),
        ) else {
            continue;
        };
        let Some(response) = document["paths"][path][method]["responses"]
            .get_mut(link.status.to_string())
            .and_then(Value::as_object_mut)
        else {
            continue;
        };
        let expressions = |pairs: &[(String, String)]| -> serde_json::Map<String, Value> {
            pairs
                .iter()
                .map(|(name, expression)| (name.clone(), json!(expression)))
                .collect()
        };
        let mut entry = json!({"operationId": link.to});
        if !link.parameters.is_empty() {
            entry["parameters"] = Value::Object(expressions(&link.parameters));
        }
        if !link.body.is_empty() {
            entry["requestBody"] = Value::Object(expressions(&link.body));
        }
        let links = response.entry("links").or_insert_with(|| json!({}));
        links[link.to.as_str()] = entry;
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

    /// The route a path reaches. Like the router, a literal segment wins over a parameter
    /// (`/payments/products` is not `/payments/{id}`), earlier segments first.
    fn find(&self, path: &str) -> Option<&RouteEntry> {
        let segments: Vec<&str> = path.split('/').collect();
        self.routes
            .iter()
            .filter(|route| {
                route.segments.len() == segments.len()
                    && route
                        .segments
                        .iter()
                        .zip(&segments)
                        .all(|(expected, actual)| {
                            expected.as_deref().is_none_or(|literal| literal == *actual)
                        })
            })
            .max_by_key(|route| {
                route
                    .segments
                    .iter()
                    .map(Option::is_some)
                    .collect::<Vec<bool>>()
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

    use crate::http::document::{FieldRule, NOT_BLANK_PATTERN, TIME_ZONE_PATTERN};

    fn registry(mode: Mode) -> Registry {
        Registry::new(mode, Vec::new()).unwrap_or_else(|err| panic!("{err}"))
    }

    fn document() -> Value {
        json!({
            "paths": {
                "/api/v1/things": {
                    "get": {"parameters": [{"name": "X-Gym-ID", "in": "header", "required": false,
                            "schema": {"type": "string", "description": TENANT_HEADER_NOTE}}]},
                    "post": {"requestBody": {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/AddThing"}}}}}
                },
                "/api/v1/things/{thing_id}": {"patch": {}, "delete": {}}
            },
            "components": {"schemas": {"AddThing": {"type": "object"}, "Member": {"type": "object"}}}
        })
    }

    #[test]
    fn request_bodies_are_closed_and_gym_headers_required() {
        let mut gym = document();
        finalize(&mut gym, &registry(Mode::Gym), &RouteTable::default());
        assert_eq!(
            gym["components"]["schemas"]["AddThing"]["additionalProperties"],
            false
        );
        assert!(
            gym["components"]["schemas"]["Member"]["additionalProperties"].is_null(),
            "responses stay open"
        );
        assert_eq!(
            gym["paths"]["/api/v1/things"]["get"]["parameters"][0]["required"],
            true
        );
        let mut trainer = document();
        finalize(
            &mut trainer,
            &registry(Mode::Trainer),
            &RouteTable::default(),
        );
        assert_eq!(
            trainer["paths"]["/api/v1/things"]["get"]["parameters"][0]["required"],
            false
        );
    }

    #[test]
    fn documented_references_become_bare_with_their_text_on_the_enclosing_schema() {
        let mut schema = json!({
            "type": "object",
            "description": "A gym.",
            "properties": {
                "my_role": {"description": "Your role in it.", "default": "member", "allOf": [
                    {"$ref": "#/components/schemas/Role"},
                    {"description": "Your role in it.", "default": "member"}
                ]},
                "kind": {"$ref": "#/components/schemas/TenantKind"},
                "owner": {"type": "object", "properties": {"role": {"allOf": [
                    {"$ref": "#/components/schemas/Role"}
                ]}}},
                "both": {"allOf": [
                    {"$ref": "#/components/schemas/A"},
                    {"$ref": "#/components/schemas/B"}
                ]}
            }
        });
        bare_references(&mut schema);
        assert_eq!(
            schema["properties"]["my_role"],
            json!({"$ref": "#/components/schemas/Role"})
        );
        assert_eq!(
            schema["description"],
            "A gym.\n\n- `my_role`: Your role in it."
        );
        assert_eq!(
            schema["properties"]["owner"]["properties"]["role"],
            json!({"$ref": "#/components/schemas/Role"})
        );
        assert!(
            schema["properties"]["owner"]["description"].is_null(),
            "no text, no note"
        );
        assert_eq!(
            schema["properties"]["both"]["allOf"]
                .as_array()
                .map(Vec::len),
            Some(2),
            "real composition stays"
        );
    }

    #[test]
    fn creates_link_to_the_operations_below_them() {
        let mut doc = json!({
            "paths": {
                "/api/v1/things": {"post": {"operationId": "things_add", "responses": {"201": {
                    "content": {"application/json; charset=utf-8": {"schema": {"$ref": "#/components/schemas/Member"}}}
                }}}},
                "/api/v1/things/{thing_id}": {"delete": {"operationId": "things_remove", "responses": {}}},
                "/api/v1/hooks": {"post": {"operationId": "hooks_create", "responses": {"201": {
                    "content": {"application/json": {"schema": {"type": "object", "properties": {"id": {}}}}}
                }}}},
                "/api/v1/hooks/{id}/ping": {"post": {"operationId": "hooks_ping", "responses": {"202": {}}}},
                "/api/v1/hooks/{id}/deliveries/{delivery_id}": {"get": {"operationId": "deliveries_get", "responses": {}}}
            },
            "components": {"schemas": {"Member": {"type": "object", "properties": {"thing_id": {}, "email": {}}}}}
        });
        let mut links = derived_links(&doc);
        links.sort_by(|a, b| a.to.cmp(&b.to));
        let found: Vec<(&str, &str, &str)> = links
            .iter()
            .map(|link| {
                (
                    link.from.as_str(),
                    link.to.as_str(),
                    link.parameters[0].1.as_str(),
                )
            })
            .collect();
        assert_eq!(
            found,
            [
                ("hooks_create", "hooks_ping", "$response.body#/id"),
                ("things_add", "things_remove", "$response.body#/thing_id"),
            ],
            "two path parameters need a declared link"
        );
        links.push(Link::from(&ApiLink {
            from: "hooks_ping",
            status: 202,
            to: "deliveries_get",
            parameters: &[
                ("id", "$request.path.id"),
                ("delivery_id", "$response.body#/id"),
            ],
            body: &[],
        }));
        links.push(Link::from(&ApiLink {
            from: "gyms_create",
            status: 201,
            to: "gyms_get",
            parameters: &[],
            body: &[],
        }));
        add_links(&mut doc, &links);
        let member = &doc["paths"]["/api/v1/things"]["post"]["responses"]["201"]["links"];
        assert_eq!(
            member["things_remove"],
            json!({"operationId": "things_remove", "parameters": {"thing_id": "$response.body#/thing_id"}})
        );
        let ping = &doc["paths"]["/api/v1/hooks/{id}/ping"]["post"]["responses"]["202"]["links"];
        assert_eq!(
            ping["deliveries_get"]["parameters"]["delivery_id"],
            "$response.body#/id"
        );
        assert!(
            !doc.to_string().contains("gyms_get"),
            "links between operations this build lacks are skipped"
        );
    }

    #[test]
    fn field_rules_and_nul_free_strings_land_on_request_schemas() {
        let mut doc = json!({
            "paths": {"/api/v1/widgets": {"post": {"requestBody": {"content": {"application/json": {
                "schema": {"$ref": "#/components/schemas/CreateWidgetRequest"}}}}}}},
            "components": {"schemas": {
                "CreateWidgetRequest": {"type": "object", "properties": {
                    "name": {"type": "string", "minLength": 1},
                    "timezone": {"type": "string"},
                    "currency": {"type": "string", "pattern": "^[A-Za-z]{3}$"},
                    "tags": {"type": "array", "items": {"type": "string"}},
                    "at": {"type": "string", "format": "date-time"}
                }},
                "Gym": {"type": "object", "properties": {"name": {"type": "string"}}}
            }}
        });
        struct Gyms;
        impl crate::Module for Gyms {
            fn code(&self) -> &'static str {
                "gyms"
            }
            fn name(&self) -> &'static str {
                "Gyms"
            }
            fn field_rules(&self) -> &'static [FieldRule] {
                &[
                    FieldRule {
                        schema: "CreateWidgetRequest",
                        property: "name",
                        rule: Rule::Pattern(NOT_BLANK_PATTERN),
                    },
                    FieldRule {
                        schema: "CreateWidgetRequest",
                        property: "timezone",
                        rule: Rule::Pattern(TIME_ZONE_PATTERN),
                    },
                    FieldRule {
                        schema: "Missing",
                        property: "name",
                        rule: Rule::Pattern(NOT_BLANK_PATTERN),
                    },
                ]
            }
        }
        static GYMS: Gyms = Gyms;
        let registry = Registry::new(Mode::Gym, vec![&GYMS]).unwrap_or_else(|err| panic!("{err}"));
        finalize(&mut doc, &registry, &RouteTable::default());
        let request = &doc["components"]["schemas"]["CreateWidgetRequest"]["properties"];
        assert_eq!(request["name"]["pattern"], NOT_BLANK_PATTERN);
        assert_eq!(request["timezone"]["pattern"], TIME_ZONE_PATTERN);
        assert_eq!(request["currency"]["pattern"], "^[A-Za-z]{3}$");
        assert_eq!(request["tags"]["items"]["pattern"], NO_NUL_PATTERN);
        assert!(request["at"]["pattern"].is_null());
        assert!(
            doc["components"]["schemas"]["Gym"]["properties"]["name"]["pattern"].is_null(),
            "answers are not requests"
        );
    }

    #[test]
    fn allow_lists_the_methods_of_the_matching_template() {
        let index = RouteIndex::from_document(&document());
        assert_eq!(index.allow("/api/v1/things").as_deref(), Some("GET, POST"));
        assert_eq!(
            index.allow("/api/v1/things/0192").as_deref(),
            Some("DELETE, PATCH")
        );
        assert_eq!(index.allow("/api/v1/things/0192/extra"), None);
    }

    #[test]
    fn undeclared_query_parameters_are_found() {
        let mut doc = document();
        if let Some(parameters) = doc["paths"]["/api/v1/things"]["get"]["parameters"].as_array_mut()
        {
            parameters.push(json!({"name": "limit", "in": "query"}));
        }
        let index = RouteIndex::from_document(&doc);
        let members = "/api/v1/things";
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

    #[test]
    fn a_literal_segment_wins_over_a_parameter_whatever_the_order() {
        for order in [
            ["/api/v1/things/{id}", "/api/v1/things/mine"],
            ["/api/v1/things/mine", "/api/v1/things/{id}"],
        ] {
            let mut paths = serde_json::Map::new();
            for path in order {
                let query = if path.ends_with("mine") {
                    "scope"
                } else {
                    "expand"
                };
                paths.insert(
                    path.to_string(),
                    json!({"get": {"parameters": [{"name": query, "in": "query"}]}}),
                );
            }
            let index = RouteIndex::from_document(&json!({ "paths": paths }));
            assert_eq!(
                index.unknown_query_parameter("/api/v1/things/mine", "GET", "scope=1"),
                None
            );
            assert_eq!(
                index.unknown_query_parameter("/api/v1/things/42", "GET", "expand=1"),
                None
            );
            assert_eq!(
                index.unknown_query_parameter("/api/v1/things/mine", "GET", "expand=1"),
                Some("expand")
            );
        }
    }
}
