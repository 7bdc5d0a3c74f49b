use clap::Parser;
use gymapi::cli::{Cli, run};

/// See the `mimalloc` line of the workspace manifest for why not the system allocator.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    match run(Cli::parse()).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(err) => {
            // One line an operator can act on; causes joined with ": ".
            eprintln!("gymapi: {err:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
