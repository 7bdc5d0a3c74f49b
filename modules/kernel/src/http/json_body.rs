//! `JsonBody<T>`: a JSON request body like poem-openapi's `Json<T>`, but strict and precise
//! about what is wrong. poem-openapi's parser accepts `1` for a string, reports a missing
//! property without naming it, and words its validator failures for Rust programmers;
//! integrators need the field and a sentence. Before parsing, the body is checked against
//! `T`'s own OpenAPI schema (required properties present; each property of the declared JSON
//! type, enum, length, pattern, range and item count), so every problem comes back as a
//! `{field, message}` pair in one 422 `validation_failed`. Only a body that is not a JSON
//! object at all is a 400.

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
    min_length: Option<usize>,
    max_length: Option<usize>,
    pattern: Option<(String, regex::Regex)>,
    minimum: Option<f64>,
    maximum: Option<f64>,
    min_items: Option<usize>,
    max_items: Option<usize>,
    format: Option<&'static str>,
}

impl Expected {
    fn of(schema: &MetaSchema) -> Self {
        Self {
            json_type: schema.ty,
            allowed: schema.enum_items.clone(),
            nullable: schema.nullable,
            min_length: schema.min_length,
            max_length: schema.max_length,
            pattern: schema.pattern.as_ref().and_then(|pattern| {
                regex::Regex::new(pattern)
                    .ok()
                    .map(|regex| (pattern.clone(), regex))
            }),
            minimum: schema.minimum,
            maximum: schema.maximum,
            min_items: schema.min_items,
            max_items: schema.max_items,
            format: schema.format,
        }
    }

    /// What is wrong with a value of the right JSON type, in words, if anything.
    fn violation(&self, value: &Value) -> Option<String> {
        if !self.allowed.is_empty() && !self.allowed.contains(value) {
            let allowed: Vec<String> = self.allowed.iter().map(Value::to_string).collect();
            return Some(format!("must be one of {}", allowed.join(", ")));
        }
        match value {
            Value::String(text) => {
                let length = text.chars().count();
                if let Some(min) = self.min_length.filter(|min| length < *min) {
                    return Some(if min == 1 {
                        "must not be empty".to_string()
                    } else {
                        format!("must be at least {min} characters long")
                    });
                }
                if let Some(max) = self.max_length.filter(|max| length > *max) {
                    return Some(format!("must be at most {max} characters long"));
                }
                if let Some((pattern, regex)) = &self.pattern
                    && !regex.is_match(text)
                {
                    return Some(format!("must match the pattern {pattern}"));
                }
                // poem-openapi's own message for a bad id names no field.
                if self.format == Some("uuid") && uuid::Uuid::parse_str(text).is_err() {
                    return Some("must be a UUID".to_string());
                }
            }
            Value::Number(number) => {
                let number = number.as_f64().unwrap_or_default();
                if let Some(min) = self.minimum.filter(|min| number < *min) {
                    return Some(format!("must be at least {min}"));
                }
                if let Some(max) = self.maximum.filter(|max| number > *max) {
                    return Some(format!("must be at most {max}"));
                }
            }
            Value::Array(items) => {
                if let Some(min) = self.min_items.filter(|min| items.len() < *min) {
                    return Some(if min == 1 {
                        "must not be empty".to_string()
                    } else {
                        format!("must have at least {min} items")
                    });
                }
                if let Some(max) = self.max_items.filter(|max| items.len() > *max) {
                    return Some(format!("must have at most {max} items"));
                }
            }
            _ => {}
        }
        None
    }
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
                            Some((*name, Expected::of(property)))
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

/// The fields of `object` that are wrong for `shape`.
fn check(shape: &Shape, object: &serde_json::Map<String, Value>) -> Vec<FieldError> {
    let mut errors = Vec::new();
    for name in &shape.required {
        if object.get(*name).is_none_or(Value::is_null) {
            errors.push(FieldError::new(*name, "is required"));
        }
    }
    for (name, value) in object {
        // Every request body refuses fields it does not define (no mass assignment).
        let Some(expected) = shape.properties.get(name.as_str()) else {
            errors.push(FieldError::new(
                name.clone(),
                "is not a field of this request",
            ));
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
        } else if let Some(message) = expected.violation(value) {
            errors.push(FieldError::new(name.clone(), message));
        }
    }
    errors
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
        let Some(object) = value.as_object() else {
            return Err(
                ApiError::bad_request("invalid_body", "the body must be a JSON object")
                    .with_errors(vec![FieldError::new("body", "must be a JSON object")])
                    .into(),
            );
        };
        let mut errors = check(&shape_of::<T>(), object);
        // Text PostgreSQL cannot store is a field problem too, never a 500.
        nul_fields(&value, "body", &mut errors);
        if !errors.is_empty() {
            return Err(ApiError::validation(errors).into());
        }
        // What the checks above do not reach (nested objects, array items) still names a field.
        T::parse_from_json(Some(value))
            .map(JsonBody)
            .map_err(|err| {
                let message = err.into_message();
                let field = super::problems::field_of(&message).unwrap_or_else(|| "body".into());
                ApiError::validation(vec![FieldError::new(field, message)]).into()
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

    #[derive(Debug, Object)]
    struct Constrained {
        #[oai(validator(min_length = 10, max_length = 12))]
        password: String,
        #[oai(validator(pattern = "^[A-Z]{3}$"))]
        currency: Option<String>,
        #[oai(validator(minimum(value = "1"), maximum(value = "100")))]
        limit: Option<u32>,
        #[oai(validator(min_items = 1, max_items = 2))]
        scopes: Option<Vec<String>>,
        owner: Option<uuid::Uuid>,
    }

    #[test]
    fn constraints_are_field_errors_written_for_people() {
        let shape = shape_of::<Constrained>();
        let errors = |value: serde_json::Value| {
            check(&shape, value.as_object().unwrap_or(&Default::default()))
        };
        assert_eq!(
            errors(serde_json::json!({"password": "short"})),
            [FieldError::new(
                "password",
                "must be at least 10 characters long"
            )]
        );
        assert_eq!(
            errors(serde_json::json!({"password": "ñ".repeat(12)})),
            [],
            "lengths count characters, not bytes"
        );
        let all = errors(serde_json::json!({
            "password": "x".repeat(13), "currency": "eur", "limit": 0, "scopes": [],
            "owner": "not-an-id"
        }));
        let messages: Vec<_> = all
            .iter()
            .map(|e| (e.field.as_str(), e.message.as_str()))
            .collect();
        assert_eq!(
            messages,
            [
                ("password", "must be at most 12 characters long"),
                ("currency", "must match the pattern ^[A-Z]{3}$"),
                ("limit", "must be at least 1"),
                ("scopes", "must not be empty"),
                ("owner", "must be a UUID"),
            ]
        );
    }

    #[test]
    fn names_every_wrong_field() {
        let shape = shape_of::<Sample>();
        let object = |value: serde_json::Value| value.as_object().cloned().unwrap_or_default();
        let errors = check(
            &shape,
            &object(serde_json::json!({"name": 1, "count": "many", "colour": "green"})),
        );
        let fields: Vec<_> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields.len(), 3, "{errors:?}");
        assert!(
            fields.contains(&"name") && fields.contains(&"count") && fields.contains(&"colour")
        );
        let missing = check(&shape, &object(serde_json::json!({"count": null})));
        let fields: Vec<_> = missing.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(
            fields,
            ["name", "colour", "count"],
            "optional means omitted, not null"
        );
        assert!(
            check(
                &shape,
                &object(serde_json::json!({"name": "x", "colour": "red"}))
            )
            .is_empty()
        );
        let unknown = check(
            &shape,
            &object(serde_json::json!({"name": "x", "colour": "red", "role": "owner"})),
        );
        assert_eq!(
            unknown,
            [FieldError::new("role", "is not a field of this request")]
        );
        let mut nul = Vec::new();
        let body = serde_json::json!({"name": "a\u{0}b", "tags": ["ok", "\u{0}"]});
        nul_fields(&body, "body", &mut nul);
        let fields: Vec<_> = nul.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["name", "tags"]);
    }
}
