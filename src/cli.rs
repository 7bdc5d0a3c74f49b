//! `gymapi` commands. With no command it serves.

use clap::{Parser, Subcommand, ValueEnum};
use uuid::Uuid;

use crate::startup::{self, Application};

#[derive(Parser)]
#[command(name = "gymapi", version, about = "GymAPI server and tools")]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Subcommand)]
pub enum Command {
    /// Run the HTTP server (the default).
    Serve,
    /// Apply database migrations and exit.
    Migrate,
    /// Print this build's OpenAPI document (no database needed).
    Openapi {
        #[arg(long, value_enum, default_value_t = SpecFormat::Yaml)]
        format: SpecFormat,
    },
    /// Turn a gym into a personal-trainer workspace; prints what changed.
    ConvertToTrainer { gym_id: Uuid },
}

#[derive(Clone, Copy, ValueEnum)]
pub enum SpecFormat {
    Yaml,
    Json,
}

/// The spec as the server serves it, built from defaults without connecting anywhere.
pub fn openapi_document(format: SpecFormat) -> anyhow::Result<String> {
    let mut settings = crate::load_settings()?;
    // The document must not depend on the machine that prints it.
    settings.auth.jwt_secret = Some(kernel::config::Secret::new("x".repeat(32)));
    let pool = kernel::db::pool_options(&settings.database)
        .connect_lazy_with(kernel::db::connect_options(&settings.database)?);
    let cache = kernel::Cache::memory(16);
    let (ctx, accounts) = startup::context(settings, pool, cache)?;
    let document = startup::api_document(&ctx, accounts)?;
    Ok(match format {
        SpecFormat::Yaml => document.yaml,
        SpecFormat::Json => document.json,
    })
}

pub async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command.unwrap_or(Command::Serve) {
        Command::Openapi { format } => {
            print!("{}", openapi_document(format)?);
            Ok(())
        }
        command => {
            let settings = crate::load_settings()?;
            kernel::telemetry::init(&settings.log);
            match command {
                Command::Migrate => {
                    startup::prepare_database(&settings).await?;
                    tracing::info!("migrations applied");
                    Ok(())
                }
                Command::ConvertToTrainer { gym_id } => {
                    let pool = startup::prepare_database(&settings).await?;
                    let cache = startup::connect_cache(&settings).await?;
                    let registry =
                        kernel::Registry::new(crate::modules::BUILD, crate::modules::compiled())?;
                    let report =
                        tenancy::provisioning::convert_to_trainer(&pool, &cache, &registry, gym_id)
                            .await
                            .map_err(|err| anyhow::anyhow!("{}", err.problem().detail))?;
                    println!("{report}");
                    Ok(())
                }
                Command::Serve | Command::Openapi { .. } => {
                    let app = Application::build(settings).await?;
                    app.run_until_stopped().await?;
                    Ok(())
                }
            }
        }
    }
}
