//! `gymapi` commands. With no command it serves.

use clap::{Parser, Subcommand, ValueEnum};
use figment::providers::{Format, Toml};
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
    /// Run the HTTP server and the job workers (the default).
    Serve {
        /// Serve HTTP only; run no background jobs (scale APIs and workers apart).
        #[arg(long, conflicts_with = "no_http")]
        no_jobs: bool,
        /// Run background jobs only; open no port.
        #[arg(long)]
        no_http: bool,
    },
    /// Apply database migrations and exit.
    Migrate,
    /// Print this build's OpenAPI document (no database needed).
    Openapi {
        #[arg(long, value_enum, default_value_t = SpecFormat::Yaml)]
        format: SpecFormat,
    },
    /// Turn a gym into a personal-trainer workspace; prints what changed.
    ConvertToTrainer { gym_id: Uuid },
    /// Inspect and retry background jobs.
    Jobs {
        #[command(subcommand)]
        command: JobsCommand,
    },
}

#[derive(Subcommand)]
pub enum JobsCommand {
    /// List jobs that ran out of attempts, newest first.
    Failed {
        #[arg(long, default_value_t = 50)]
        limit: i64,
    },
    /// Queue a failed job again with a fresh set of attempts.
    Retry { id: Uuid },
}

#[derive(Clone, Copy, ValueEnum)]
pub enum SpecFormat {
    Yaml,
    Json,
}

/// The build's document, from the embedded defaults alone (no `GYMAPI_*` variables, no
/// `GYMAPI_CONFIG` file), without connecting anywhere: the document must not depend on the
/// machine that prints it. A running server's `/openapi.json` is the same plus its
/// `server.public_url` in `servers`.
pub fn openapi_document(format: SpecFormat) -> anyhow::Result<String> {
    let figment = figment::Figment::new()
        .merge(Toml::string(crate::modules::DEFAULT_CONFIG))
        .merge(Toml::string(crate::modules::BUILD_CONFIG));
    let mut settings = kernel::Settings::from_figment(
        figment,
        crate::modules::BUILD,
        crate::modules::DEFAULT_CONFIG,
    )?;
    settings.auth.jwt_secret = Some(kernel::config::Secret::new("x".repeat(32)));
    let pool = kernel::db::pool_options(&settings.database)
        .connect_lazy_with(kernel::db::connect_options(&settings.database)?);
    let cache = kernel::Cache::memory(16);
    let ctx = startup::context(settings, pool, cache, kernel::PubSub::in_process())?;
    let (policies, _) = startup::module_routes(&ctx);
    let document = startup::api_document(&ctx, &policies)?;
    Ok(match format {
        SpecFormat::Yaml => document.yaml,
        SpecFormat::Json => document.json,
    })
}

pub async fn run(cli: Cli) -> anyhow::Result<()> {
    let serve_all = Command::Serve {
        no_jobs: false,
        no_http: false,
    };
    match cli.command.unwrap_or(serve_all) {
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
                Command::Jobs { command } => {
                    let pool = startup::prepare_database(&settings).await?;
                    jobs_command(&pool, command).await
                }
                Command::Serve { no_jobs, no_http } => {
                    let roles = startup::Roles {
                        http: !no_http,
                        jobs: !no_jobs,
                    };
                    let app = Application::build(settings, roles).await?;
                    app.run_until_stopped().await?;
                    Ok(())
                }
                Command::Openapi { .. } => Ok(()),
            }
        }
    }
}

async fn jobs_command(pool: &sqlx::PgPool, command: JobsCommand) -> anyhow::Result<()> {
    match command {
        JobsCommand::Failed { limit } => {
            let failed = kernel::jobs::failed(pool, limit.clamp(1, 1000)).await?;
            if failed.is_empty() {
                println!("no failed jobs");
            }
            for job in failed {
                let tenant = job
                    .gym_id
                    .map(|id| id.to_string())
                    .unwrap_or_else(|| "-".into());
                let finished = job
                    .finished_at
                    .map(|at| at.to_rfc3339())
                    .unwrap_or_default();
                let error = job.last_error.unwrap_or_default();
                println!(
                    "{}  {}  tenant={tenant}  attempts={}  failed_at={finished}  {error}",
                    job.id, job.kind, job.attempts
                );
            }
            Ok(())
        }
        JobsCommand::Retry { id } => {
            if kernel::jobs::retry(pool, id).await? {
                println!("job {id} queued again");
                Ok(())
            } else {
                anyhow::bail!("job {id} is not a failed job")
            }
        }
    }
}
