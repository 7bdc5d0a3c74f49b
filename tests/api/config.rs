//! Configuration layering and start-up refusals.
// figment::Jail fixes the closure error type; its size is not ours to choose.
#![allow(clippy::result_large_err)]

use std::process::Command;

use figment::Jail;

#[test]
fn environment_variables_override_files() {
    Jail::expect_with(|jail| {
        jail.set_env("GYMAPI_SERVER__PORT", "0");
        jail.set_env(
            "GYMAPI_DATABASE__URL",
            "postgres://ops@db.internal:6543/gyms",
        );
        jail.set_env("GYMAPI_LOG__FORMAT", "json");
        let settings = gymapi::load_settings().expect("valid");
        assert_eq!(settings.server.port, 0);
        assert_eq!(
            settings.database.url.expose(),
            "postgres://ops@db.internal:6543/gyms"
        );
        assert_eq!(settings.log.format, kernel::config::LogFormat::Json);
        assert_eq!(settings.app.mode, gymapi::modules::BUILD);
        assert_eq!(
            format!("{:?}", settings.database.url),
            "[redacted]",
            "secrets never print"
        );
        Ok(())
    });
}

#[test]
fn a_config_file_sits_between_build_defaults_and_env() {
    Jail::expect_with(|jail| {
        jail.create_file("ops.toml", "[server]\nport = 9123\nhost = \"0.0.0.0\"\n")?;
        jail.set_env("GYMAPI_CONFIG", "ops.toml");
        jail.set_env("GYMAPI_SERVER__HOST", "127.0.0.2");
        let settings = gymapi::load_settings().expect("valid");
        assert_eq!(settings.server.port, 9123);
        assert_eq!(settings.server.host, "127.0.0.2", "env wins over the file");
        Ok(())
    });
}

#[test]
fn a_misspelt_key_or_section_stops_start_up_naming_it() {
    for (variable, named) in [
        ("GYMAPI_SERVER__PROT", "prot"),
        ("GYMAPI_SERVR__PORT", "servr"),
        ("GYMAPI_RATE_LIMIT__AUTH__REQUEST", "request"),
        ("GYMAPI_LOG__FROMAT", "fromat"),
    ] {
        Jail::expect_with(|jail| {
            jail.set_env(variable, "9000");
            let err = gymapi::load_settings().expect_err("a typo must not start");
            assert!(err.to_string().contains(named), "{variable}: {err}");
            Ok(())
        });
    }
    Jail::expect_with(|jail| {
        jail.create_file("ops.toml", "[server]\nhots = \"0.0.0.0\"\n")?;
        jail.set_env("GYMAPI_CONFIG", "ops.toml");
        let err = gymapi::load_settings().expect_err("a typo in a file must not start");
        assert!(err.to_string().contains("hots"), "{err}");
        Ok(())
    });
}

#[test]
fn production_needs_a_real_jwt_secret() {
    Jail::expect_with(|jail| {
        jail.set_env("GYMAPI_APP__ENVIRONMENT", "production");
        let err = gymapi::load_settings().expect_err("no secret in production");
        assert!(err.to_string().contains("jwt_secret"), "{err}");
        jail.set_env("GYMAPI_AUTH__JWT_SECRET", "short");
        let err = gymapi::load_settings().expect_err("short secret");
        assert!(err.to_string().contains("32 bytes"), "{err}");
        jail.set_env("GYMAPI_AUTH__JWT_SECRET", "x".repeat(40));
        assert!(gymapi::load_settings().is_ok());
        Ok(())
    });
}

#[test]
fn a_binary_refuses_the_other_builds_mode() {
    let other = match gymapi::modules::BUILD {
        kernel::Mode::Gym => "trainer",
        kernel::Mode::Trainer => "gym",
    };
    // A clean environment: other tests set GYMAPI_* variables for the whole process.
    let output = Command::new(env!("CARGO_BIN_EXE_gymapi"))
        .env_clear()
        .arg("migrate")
        .env("GYMAPI_APP__MODE", other)
        .env(
            "GYMAPI_DATABASE__URL",
            "postgres://nobody@127.0.0.1:1/never",
        )
        .output()
        .expect("binary runs");
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(stderr.trim().lines().count(), 1, "one line: {stderr}");
    assert!(
        stderr.contains("app.mode is") && stderr.contains(other),
        "{stderr}"
    );
}

#[tokio::test]
async fn modules_refuse_their_own_bad_sections_at_start_up() {
    // No connection is made: the pool is lazy and the checks run before anything is used.
    let pool = sqlx::PgPool::connect_lazy("postgres://nobody@127.0.0.1:1/none").unwrap();
    for (key, value, expected) in [
        (
            "media.storage",
            serde_json::json!("s3"),
            "media.s3.bucket is not set",
        ),
        (
            "webhooks.timeout_seconds",
            serde_json::json!(0),
            "webhooks.timeout_seconds",
        ),
        (
            "webhooks.retry_schedule_seconds",
            serde_json::json!("soon"),
            "[webhooks]",
        ),
        // A misspelt key inside a module's section is refused by the module's own type.
        ("webhooks.timeout", serde_json::json!(5), "timeout"),
        (
            "media.thumbnail_widht",
            serde_json::json!(100),
            "thumbnail_widht",
        ),
        (
            "notifications.max_streams",
            serde_json::json!(1),
            "max_streams",
        ),
    ] {
        let settings = crate::helpers::test_settings(&[(key, value)]);
        let cache = kernel::Cache::memory(10);
        let pubsub = kernel::PubSub::in_process();
        let refused = gymapi::startup::context(settings, pool.clone(), cache, pubsub)
            .err()
            .unwrap_or_else(|| panic!("{key} was accepted"));
        assert!(refused.to_string().contains(expected), "{key}: {refused}");
    }
}

/// Every key of `config/default.toml`, and every key it leaves commented out (`# key = ...`,
/// also under a commented `# [section]`), as its environment variable.
fn default_toml_variables() -> std::collections::BTreeSet<String> {
    let mut variables = std::collections::BTreeSet::new();
    let mut section = String::new();
    for line in gymapi::modules::DEFAULT_CONFIG.lines() {
        let line = line.trim();
        let uncommented = line.strip_prefix('#').map(str::trim).unwrap_or(line);
        if let Some(name) = uncommented
            .strip_prefix('[')
            .and_then(|rest| rest.strip_suffix(']'))
        {
            section = name.replace('.', "__");
            continue;
        }
        let Some((key, value)) = uncommented.split_once('=') else {
            continue;
        };
        let key = key.trim();
        if key.is_empty() || !key.bytes().all(|b| b.is_ascii_lowercase() || b == b'_') {
            continue;
        }
        let prefix = format!("GYMAPI_{section}__{key}").to_uppercase();
        // Inline tables (rate limits) are their fields.
        match value.trim().strip_prefix('{') {
            Some(fields) => {
                for field in fields.trim_end_matches('}').split(',') {
                    if let Some((field, _)) = field.split_once('=') {
                        variables.insert(format!("{prefix}__{}", field.trim().to_uppercase()));
                    }
                }
            }
            None => {
                variables.insert(prefix);
            }
        }
    }
    variables
}

#[test]
fn the_readme_documents_every_configuration_key_and_no_other() {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md"))
        .expect("README.md");
    let section = readme
        .split("## Configuration")
        .nth(1)
        .and_then(|rest| rest.split("\n## ").next())
        .expect("a Configuration section");
    let documented: std::collections::BTreeSet<String> = section
        .split('`')
        .filter(|word| {
            word.starts_with("GYMAPI_")
                && word.contains("__")
                && word
                    .bytes()
                    .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_')
        })
        .map(String::from)
        .collect();
    let keys = default_toml_variables();
    assert!(keys.len() > 50, "the parser found too few keys: {keys:?}");
    let undocumented: Vec<_> = keys.difference(&documented).collect();
    assert!(
        undocumented.is_empty(),
        "not in the README: {undocumented:?}"
    );
    let stale: Vec<_> = documented.difference(&keys).collect();
    assert!(
        stale.is_empty(),
        "in the README but not in config/default.toml: {stale:?}"
    );
}
