//! The committed spec of this build must be exactly what the code generates, and keep the
//! promises integrators rely on.

use serde_json::Value;

use gymapi::cli::{SpecFormat, openapi_document};

fn committed_path() -> String {
    format!(
        "{}/openapi/{}.yaml",
        env!("CARGO_MANIFEST_DIR"),
        gymapi::modules::SPEC_NAME
    )
}

fn spec() -> Value {
    serde_json::from_str(&openapi_document(SpecFormat::Json).expect("spec builds"))
        .expect("spec is JSON")
}

#[tokio::test]
async fn committed_spec_matches_the_code() {
    let generated = openapi_document(SpecFormat::Yaml).expect("spec builds");
    let path = committed_path();
    if std::env::var_os("UPDATE_OPENAPI").is_some() {
        std::fs::write(&path, &generated).expect("write spec");
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == generated,
        "{path} is out of date; regenerate it with `{}` and commit it",
        [
            "UPDATE_OPENAPI=1 cargo test",
            gymapi::modules::SPEC_BUILD_FLAGS,
            "--test api openapi"
        ]
        .iter()
        .filter(|part| !part.is_empty())
        .copied()
        .collect::<Vec<_>>()
        .join(" ")
    );
}

#[tokio::test]
async fn each_build_exposes_its_own_tenancy_routes() {
    let paths = spec()["paths"].as_object().cloned().unwrap_or_default();
    let has = |path: &str| paths.contains_key(path);
    match gymapi::modules::BUILD {
        kernel::Mode::Gym => {
            assert!(has("/api/v1/gyms") && has("/api/v1/gyms/{gym_id}"));
            assert!(!has("/api/v1/workspace") && !has("/api/v1/auth/register-trainer"));
        }
        kernel::Mode::Trainer => {
            assert!(has("/api/v1/workspace") && has("/api/v1/auth/register-trainer"));
            assert!(!has("/api/v1/gyms"));
        }
    }
    // Stories are in the gym build and in a trainer build only with the `stories` feature.
    let story_paths: Vec<&String> = paths
        .keys()
        .filter(|path| path.starts_with("/api/v1/stories"))
        .collect();
    assert_eq!(
        !story_paths.is_empty(),
        cfg!(feature = "stories"),
        "{story_paths:?}"
    );
    for common in [
        "/api/v1/members",
        "/api/v1/modules",
        "/api/v1/dashboard",
        "/api/v1/users/me",
        "/api/v1/meta",
    ] {
        assert!(has(common), "{common}");
    }
}

#[tokio::test]
async fn every_operation_is_documented_for_integrators() {
    let spec = spec();
    let tags: Vec<&str> = spec["tags"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    let mut operation_ids = std::collections::HashSet::new();
    for (path, item) in spec["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            let at = format!("{method} {path}");
            let id = operation["operationId"]
                .as_str()
                .unwrap_or_else(|| panic!("{at} has no operationId"));
            assert!(
                operation_ids.insert(id.to_string()),
                "{at}: duplicate operationId {id}"
            );
            let tag = operation["tags"][0]
                .as_str()
                .unwrap_or_else(|| panic!("{at} has no tag"));
            assert!(tags.contains(&tag), "{at}: tag {tag} not declared");
            let summary = operation["summary"]
                .as_str()
                .unwrap_or_else(|| panic!("{at} has no summary"));
            assert!(!summary.contains('\n'), "{at}: summary must be one line");
            if path.starts_with("/api/") {
                let responses = operation["responses"].as_object().unwrap();
                assert!(
                    responses.contains_key("400") && responses.contains_key("500"),
                    "{at}: errors undeclared"
                );
                let problem = &responses["400"]["content"]["application/problem+json"];
                assert!(problem.is_object(), "{at}: errors are problem+json");
            }
            for parameter in operation["parameters"].as_array().into_iter().flatten() {
                if parameter["name"] == "X-Gym-ID" {
                    assert_eq!(parameter["in"], "header");
                    assert_eq!(parameter["schema"]["type"], "string", "{at}");
                    assert!(
                        parameter["schema"]["format"].is_null(),
                        "{at}: no format: uuid on the header"
                    );
                    assert!(parameter["schema"]["pattern"].is_string(), "{at}");
                }
                assert_ne!(
                    parameter["name"], "tenant",
                    "{at}: tenant extractor without #[oai(name = \"X-Gym-ID\")]"
                );
                assert_ne!(
                    parameter["name"], "caller",
                    "{at}: tenant extractor without #[oai(name = \"X-Gym-ID\")]"
                );
            }
        }
    }
    assert!(spec["components"]["securitySchemes"]["BearerAuth"]["scheme"] == "bearer");
}

#[sqlx::test(migrator = "gymapi::MIGRATOR")]
async fn the_public_url_is_the_served_documents_server(pool: sqlx::PgPool) {
    let app = crate::helpers::spawn_app_with(
        pool,
        &[(
            "server.public_url",
            serde_json::json!("https://api.gym.example/"),
        )],
    )
    .await;
    let document = app.anon().get("/openapi.json").expect(200).await;
    assert_eq!(
        document["servers"],
        serde_json::json!([{"url": "https://api.gym.example"}])
    );
    // The committed documents are machine-independent: no servers entry.
    assert_eq!(spec()["servers"], serde_json::json!([]));
}

/// Every JSON object in `value`, depth first, with its JSON pointer.
fn objects<'v>(value: &'v Value, at: String, found: &mut Vec<(String, &'v Value)>) {
    match value {
        Value::Object(map) => {
            found.push((at.clone(), value));
            for (key, inner) in map {
                objects(
                    inner,
                    format!("{at}/{}", key.replace('~', "~0").replace('/', "~1")),
                    found,
                );
            }
        }
        Value::Array(items) => {
            for (index, inner) in items.iter().enumerate() {
                objects(inner, format!("{at}/{index}"), found);
            }
        }
        _ => {}
    }
}

#[tokio::test]
async fn generated_clients_see_plain_references() {
    // Generators read `allOf` as composition: openapi-python-client drops a schema whose
    // `allOf` holds an enum ("Cannot take allOf a non-object") and every operation using it.
    // The document composes nothing, so any `allOf` is a documented field poem-openapi wrapped
    // that `finalize` missed; nothing else may sit beside a `$ref` either (OpenAPI 3.0
    // ignores it).
    let spec = spec();
    let mut found = Vec::new();
    objects(&spec, String::new(), &mut found);
    for (at, object) in found {
        let map = object.as_object().unwrap();
        assert!(!map.contains_key("allOf"), "{at}: allOf {object}");
        if map.contains_key("$ref") {
            assert_eq!(map.len(), 1, "{at}: siblings of $ref are ignored: {object}");
        }
    }
    let gym = &spec["components"]["schemas"]["Gym"];
    assert_eq!(
        gym["properties"]["my_role"]["$ref"],
        "#/components/schemas/Role"
    );
    assert!(
        gym["description"]
            .as_str()
            .unwrap()
            .contains("- `my_role`: Your role in it."),
        "the field's text moves to the enclosing schema: {gym}"
    );
}

/// operationId → (path, operation).
fn operations(spec: &Value) -> std::collections::HashMap<String, (String, Value)> {
    let mut found = std::collections::HashMap::new();
    for (path, item) in spec["paths"].as_object().unwrap() {
        for operation in item.as_object().unwrap().values() {
            let id = operation["operationId"].as_str().unwrap().to_string();
            found.insert(id, (path.clone(), operation.clone()));
        }
    }
    found
}

/// The JSON body schema of a request or response object (`content` → first JSON media type).
fn body_schema<'s>(spec: &'s Value, holder: &'s Value) -> Option<&'s Value> {
    let content = holder["content"].as_object()?;
    let (_, media) = content
        .iter()
        .find(|(media_type, _)| media_type.starts_with("application/json"))?;
    Some(resolve(spec, &media["schema"]))
}

fn resolve<'s>(spec: &'s Value, schema: &'s Value) -> &'s Value {
    match schema["$ref"].as_str() {
        Some(reference) => spec.pointer(&reference[1..]).unwrap(),
        None => schema,
    }
}

/// The schema a JSON pointer into a body of `schema` lands on, if the schema has it.
fn schema_at<'s>(spec: &'s Value, schema: &'s Value, pointer: &str) -> Option<&'s Value> {
    let mut at = resolve(spec, schema);
    for segment in pointer.split('/').filter(|segment| !segment.is_empty()) {
        at = if at["type"] == "array" && segment.parse::<usize>().is_ok() {
            resolve(spec, &at["items"])
        } else {
            resolve(spec, at["properties"].get(segment)?)
        };
    }
    Some(at)
}

#[tokio::test]
async fn links_fill_every_path_parameter_from_the_answer() {
    let spec = spec();
    let operations = operations(&spec);
    let mut count = 0;
    for (from, (_, operation)) in &operations {
        for (status, response) in operation["responses"].as_object().unwrap() {
            let Some(links) = response["links"].as_object() else {
                continue;
            };
            let answer = body_schema(&spec, response)
                .unwrap_or_else(|| panic!("{from} {status}: a link from an answer without a body"));
            let sent = body_schema(&spec, &operation["requestBody"]);
            // `$response.body#/a/b` must be in the answer, `$request.body#/a` in what was sent.
            let check = |at: &str, expression: &Value| {
                let expression = expression.as_str().unwrap();
                let (schema, pointer) =
                    if let Some(pointer) = expression.strip_prefix("$response.body#") {
                        (answer, pointer)
                    } else if let Some(pointer) = expression.strip_prefix("$request.body#") {
                        (
                            sent.unwrap_or_else(|| panic!("{at}: {from} takes no body")),
                            pointer,
                        )
                    } else {
                        panic!("{at}: unexpected expression {expression}");
                    };
                let found = schema_at(&spec, schema, pointer)
                    .unwrap_or_else(|| panic!("{at}: {expression} is not in the schema"));
                assert!(
                    found["type"] == "string" || found["type"] == "integer",
                    "{at}: {expression} is not a scalar: {found}"
                );
            };
            for (name, link) in links {
                count += 1;
                let at = format!("{from} {status} → {name}");
                let to = link["operationId"].as_str().unwrap();
                assert_eq!(name, to, "{at}: links are named after their target");
                let (path, target) = operations
                    .get(to)
                    .unwrap_or_else(|| panic!("{at}: no operation {to}"));
                let mut wanted: Vec<&str> = target["parameters"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter(|parameter| parameter["in"] == "path")
                    .map(|parameter| parameter["name"].as_str().unwrap())
                    .collect();
                wanted.sort();
                let given = link["parameters"].as_object().cloned().unwrap_or_default();
                let mut names: Vec<&str> = given.keys().map(String::as_str).collect();
                names.sort();
                assert_eq!(names, wanted, "{at}: parameters of {path}");
                for expression in given.values() {
                    check(&at, expression);
                }
                if let Some(body) = link["requestBody"].as_object() {
                    let takes = body_schema(&spec, &target["requestBody"])
                        .unwrap_or_else(|| panic!("{at}: {to} takes no body"));
                    for (property, expression) in body {
                        assert!(
                            takes["properties"][property].is_object(),
                            "{at}: {to} has no body property {property}"
                        );
                        check(&at, expression);
                    }
                }
            }
        }
    }
    assert!(count > 0, "no links at all");
}

#[tokio::test]
async fn creates_link_to_the_operations_that_use_what_they_made() {
    let spec = spec();
    let operations = operations(&spec);
    let linked = |from: &str, status: &str, to: &str| {
        let (_, operation) = &operations[from];
        assert!(
            operation["responses"][status]["links"][to]["operationId"] == to,
            "{from} {status} does not link to {to}"
        );
    };
    if gymapi::modules::BUILD == kernel::Mode::Gym {
        for to in ["gyms_get", "gyms_update"] {
            linked("gyms_create", "201", to);
        }
    }
    for to in ["members_change_role", "members_remove"] {
        linked("members_add", "201", to);
    }
    linked("api_keys_create", "201", "api_keys_revoke");
    for to in [
        "webhook_endpoints_get",
        "webhook_endpoints_update",
        "webhook_endpoints_delete",
        "webhook_endpoints_rotate_secret",
        "webhook_endpoints_ping",
        "webhook_deliveries_list",
    ] {
        linked("webhook_endpoints_create", "201", to);
    }
    linked("webhook_endpoints_ping", "202", "webhook_deliveries_replay");
    for to in ["media_get", "media_delete"] {
        linked("media_upload", "201", to);
    }
    let register = match gymapi::modules::BUILD {
        kernel::Mode::Gym => "auth_register",
        kernel::Mode::Trainer => "auth_register_trainer",
    };
    linked(register, "201", "auth_login");
    linked(register, "201", "members_add");
    linked("auth_login", "200", "auth_refresh");
    linked("notifications_list", "200", "notifications_read");
}

/// The scopes and event types the document lists are this build's (the kernel takes them from
/// the registry when it finalizes the document).
#[tokio::test]
async fn documented_scopes_and_event_types_are_the_builds() {
    let spec = spec();
    let modules: Vec<_> = gymapi::modules::compiled()
        .into_iter()
        .filter(|module| module.modes().contains(&gymapi::modules::BUILD))
        .collect();
    let mut scopes: Vec<String> = modules
        .iter()
        .flat_map(|module| module.api_resources())
        .flat_map(|resource| [format!("{resource}:read"), format!("{resource}:write")])
        .collect();
    scopes.sort();
    scopes.dedup();
    let mut events: Vec<String> = modules
        .iter()
        .flat_map(|module| module.public_events())
        .map(|event| event.event_type.to_string())
        .collect();
    events.sort();
    let listed = |schema: &str, property: &str| -> Vec<String> {
        let mut values: Vec<String> = spec["components"]["schemas"][schema]["properties"][property]
            ["items"]["enum"]
            .as_array()
            .unwrap_or_else(|| panic!("{schema}.{property} lists no values"))
            .iter()
            .map(|value| value.as_str().unwrap().to_string())
            .collect();
        values.sort();
        values
    };
    let fix = "the document must list the registry's scopes and event types";
    assert_eq!(listed("CreateApiKeyRequest", "scopes"), scopes, "{fix}");
    for schema in ["CreateWebhookEndpoint", "UpdateWebhookEndpoint"] {
        assert_eq!(listed(schema, "event_types"), events, "{fix}");
    }
}
