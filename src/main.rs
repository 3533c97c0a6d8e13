use clap::Parser;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let cli = callsign::config::Cli::parse();
    let json = cli.config.log_format == callsign::config::LogFormat::Json;
    match callsign::cli::run(cli).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            if json {
                // Through the JSON log, like every other line in that mode.
                tracing::error!(target: "callsign", "{error:#}");
            } else {
                eprintln!("callsign: error: {error:#}");
            }
            std::process::ExitCode::FAILURE
        }
    }
}
