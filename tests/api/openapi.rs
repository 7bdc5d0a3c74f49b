//! The committed spec of this build must be exactly what the code generates, and keep the
//! promises integrators rely on.

use serde_json::Value;

use gymapi::cli::{SpecFormat, openapi_document};

fn committed_path() -> String {
    format!(
        "{}/openapi/{}.yaml",
        env!("CARGO_MANIFEST_DIR"),
        gymapi::modules::BUILD.as_str()
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
        "{path} is out of date; regenerate it with `UPDATE_OPENAPI=1 cargo test {} openapi` and commit it",
        match gymapi::modules::BUILD {
            kernel::Mode::Gym => "",
            kernel::Mode::Trainer => "--no-default-features --features trainer",
        }
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
