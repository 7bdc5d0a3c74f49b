//! `JsonBody<T>`: a JSON request body like poem-openapi's `Json<T>`, but strict and precise
//! about what is wrong. poem-openapi's parser accepts `1` for a string and reports a missing
//! property without naming it; integrators need the field. Before parsing, the body is checked
//! against `T`'s own OpenAPI schema (required properties present, each property of the declared
//! JSON type and enum), so every problem comes back as a `{field, message}` pair.

use std::any::TypeId;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use poem::{FromRequest, Request, RequestBody};
use poem_openapi::payload::{ParsePayload, Payload};
use poem_openapi::registry::{MetaRequest, MetaSchema, MetaSchemaRef, Registry};
use poem_openapi::types::{ParseFromJSON, Type};
use poem_openapi::{ApiExtractor, ApiExtractorType, ExtractParamOptions};
use serde_json::Value;

use crate::{ApiError, FieldError};

#[derive(Debug, Clone)]
pub struct JsonBody<T>(pub T);

impl<T> std::ops::Deref for JsonBody<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.0
    }
}

/// The top-level shape of a request object: what must be there and what type each property is.
struct Shape {
    required: Vec<&'static str>,
    properties: HashMap<&'static str, Expected>,
}

struct Expected {
    json_type: &'static str,
    allowed: Vec<Value>,
    nullable: bool,
}

fn resolve<'r>(registry: &'r Registry, schema: &'r MetaSchemaRef) -> Option<&'r MetaSchema> {
    match schema {
        MetaSchemaRef::Inline(schema) => Some(schema),
        MetaSchemaRef::Reference(name) => registry.schemas.get(name),
    }
}

fn shape_of<T: Type + 'static>() -> Arc<Shape> {
    static SHAPES: OnceLock<Mutex<HashMap<TypeId, Arc<Shape>>>> = OnceLock::new();
    let shapes = SHAPES.get_or_init(Default::default);
    let mut shapes = shapes
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    shapes
        .entry(TypeId::of::<T>())
        .or_insert_with(|| {
            let mut registry = Registry::new();
            T::register(&mut registry);
            let schema_ref = T::schema_ref();
            let root = resolve(&registry, &schema_ref);
            let required = root
                .map(|schema| schema.required.clone())
                .unwrap_or_default();
            let properties = root
                .map(|schema| {
                    schema
                        .properties
                        .iter()
                        .filter_map(|(name, property)| {
                            let property = resolve(&registry, property)?;
                            // `Option<T>` properties are an allOf/anyOf wrapper in some versions.
                            let property = match (property.ty, property.all_of.first()) {
                                ("", Some(inner)) => resolve(&registry, inner)?,
                                _ => property,
                            };
                            Some((
                                *name,
                                Expected {
                                    json_type: property.ty,
                                    allowed: property.enum_items.clone(),
                                    nullable: property.nullable,
                                },
                            ))
                        })
                        .collect()
                })
                .unwrap_or_default();
            Arc::new(Shape {
                required,
                properties,
            })
        })
        .clone()
}

fn type_matches(json_type: &str, value: &Value) -> bool {
    match json_type {
        "string" => value.is_string(),
        "integer" => value.is_i64() || value.is_u64(),
        "number" => value.is_number(),
        "boolean" => value.is_boolean(),
        "array" => value.is_array(),
        "object" => value.is_object(),
        _ => true,
    }
}

/// Strings PostgreSQL cannot store (text never holds NUL), wherever they are in the body.
fn nul_fields(value: &Value, field: &str, errors: &mut Vec<FieldError>) {
    match value {
        Value::String(text) if text.contains('\0') => {
            errors.push(FieldError::new(field, "must not contain NUL characters"));
        }
        Value::Array(items) => items
            .iter()
            .for_each(|item| nul_fields(item, field, errors)),
        Value::Object(map) => map
            .iter()
            .for_each(|(key, item)| nul_fields(item, key, errors)),
        _ => {}
    }
}

fn check(shape: &Shape, value: &Value) -> Vec<FieldError> {
    let Some(object) = value.as_object() else {
        return vec![FieldError::new("body", "must be a JSON object")];
    };
    let mut errors = Vec::new();
    for name in &shape.required {
        if object.get(*name).is_none_or(Value::is_null) {
            errors.push(FieldError::new(*name, "is required"));
        }
    }
    for (name, value) in object {
        let Some(expected) = shape.properties.get(name.as_str()) else {
            continue;
        };
        if value.is_null() {
            // Optional properties are omitted, not null: the schema does not allow null.
            if !expected.nullable && !shape.required.contains(&name.as_str()) {
                errors.push(FieldError::new(
                    name.clone(),
                    "must not be null; omit it instead",
                ));
            }
            continue;
        }
        if !type_matches(expected.json_type, value) {
            errors.push(FieldError::new(
                name.clone(),
                format!("must be of type {}", expected.json_type),
            ));
        } else if !expected.allowed.is_empty() && !expected.allowed.contains(value) {
            let allowed: Vec<String> = expected.allowed.iter().map(Value::to_string).collect();
            errors.push(FieldError::new(
                name.clone(),
                format!("must be one of {}", allowed.join(", ")),
            ));
        }
    }
    errors
}

fn invalid(errors: Vec<FieldError>) -> poem::Error {
    let detail = errors
        .iter()
        .map(|e| format!("{} {}", e.field, e.message))
        .collect::<Vec<_>>()
        .join("; ");
    ApiError::bad_request("invalid_body", detail)
        .with_errors(errors)
        .into()
}

impl<T: Type> Payload for JsonBody<T> {
    const CONTENT_TYPE: &'static str = "application/json";

    fn check_content_type(content_type: &str) -> bool {
        content_type.parse::<mime::Mime>().is_ok_and(|mime| {
            mime.type_() == "application"
                && (mime.subtype() == "json" || mime.suffix().is_some_and(|s| s == "json"))
        })
    }

    fn schema_ref() -> MetaSchemaRef {
        T::schema_ref()
    }

    fn register(registry: &mut Registry) {
        T::register(registry);
    }
}

impl<T: ParseFromJSON + 'static> ParsePayload for JsonBody<T> {
    const IS_REQUIRED: bool = true;

    async fn from_request(request: &Request, body: &mut RequestBody) -> poem::Result<Self> {
        let bytes = <Vec<u8> as FromRequest>::from_request(request, body).await?;
        let value: Value = serde_json::from_slice(&bytes).map_err(|err| {
            ApiError::bad_request("invalid_json", format!("the body is not valid JSON: {err}"))
                .with_errors(vec![FieldError::new("body", err.to_string())])
        })?;
        let errors = check(&shape_of::<T>(), &value);
        if !errors.is_empty() {
            return Err(invalid(errors));
        }
        // Valid JSON, but text PostgreSQL cannot store: a semantic refusal (422), not a 500.
        let mut unstorable = Vec::new();
        nul_fields(&value, "body", &mut unstorable);
        if !unstorable.is_empty() {
            return Err(ApiError::validation(unstorable).into());
        }
        T::parse_from_json(Some(value))
            .map(JsonBody)
            .map_err(|err| {
                let message = err.into_message();
                invalid(vec![FieldError::new(
                    super::problems::field_of(&message).unwrap_or_else(|| "body".into()),
                    message,
                )])
            })
    }
}

impl<'a, T: ParseFromJSON + 'static> ApiExtractor<'a> for JsonBody<T> {
    const TYPES: &'static [ApiExtractorType] = &[ApiExtractorType::RequestObject];
    type ParamType = ();
    type ParamRawType = ();

    fn register(registry: &mut Registry) {
        <Self as Payload>::register(registry);
    }

    fn request_meta() -> Option<MetaRequest> {
        super::request_body::request_meta::<Self>()
    }

    async fn from_request(
        request: &'a Request,
        body: &mut RequestBody,
        _opts: ExtractParamOptions<Self::ParamType>,
    ) -> poem::Result<Self> {
        super::request_body::parse(request, body, "the body as application/json").await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use poem_openapi::{Enum, Object};

    #[derive(Debug, Enum, PartialEq)]
    #[oai(rename_all = "snake_case")]
    enum Colour {
        Red,
        Blue,
    }

    #[derive(Debug, Object)]
    struct Sample {
        name: String,
        count: Option<u32>,
        colour: Colour,
    }

    #[test]
    fn names_every_wrong_field() {
        let shape = shape_of::<Sample>();
        let errors = check(
            &shape,
            &serde_json::json!({"name": 1, "count": "many", "colour": "green"}),
        );
        let fields: Vec<_> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields.len(), 3, "{errors:?}");
        assert!(
            fields.contains(&"name") && fields.contains(&"count") && fields.contains(&"colour")
        );
        let missing = check(&shape, &serde_json::json!({"count": null}));
        let fields: Vec<_> = missing.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(
            fields,
            ["name", "colour", "count"],
            "optional means omitted, not null"
        );
        assert!(check(&shape, &serde_json::json!({"name": "x", "colour": "red"})).is_empty());
        assert_eq!(check(&shape, &serde_json::json!([1])).len(), 1);
        let mut nul = Vec::new();
        let body = serde_json::json!({"name": "a\u{0}b", "tags": ["ok", "\u{0}"]});
        nul_fields(&body, "body", &mut nul);
        let fields: Vec<_> = nul.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["name", "tags"]);
    }
}
