//! The `callsign` commands: `serve` (default), `migrate`, `keys list|regenerate`.

use anyhow::Context;
use time::OffsetDateTime;

use crate::config::{Cli, Command, Config, KeysCommand, SlotArg};
use crate::http::connection_string;
use crate::keys::KeySlot;
use crate::startup::{self, Application};
use crate::telemetry;

pub async fn run(cli: Cli) -> anyhow::Result<()> {
    telemetry::init(cli.config.log_format);
    match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => serve(&cli.config).await,
        Command::Migrate => {
            startup::open_store(&cli.config).await?;
            println!("callsign: database migrated");
            Ok(())
        }
        Command::Keys { action } => keys(&cli.config, action).await,
    }
}

async fn serve(config: &Config) -> anyhow::Result<()> {
    let app = Application::build(config).await?;
    let endpoint = app.endpoint().to_owned();
    tracing::info!(address = %app.local_addr(), %endpoint, "listening");
    println!(
        "callsign: listening on {endpoint} (bound to {})",
        app.local_addr()
    );
    if app.generated_keys {
        println!(
            "callsign: access keys generated; this connection string is shown once (`callsign keys list` shows it again):"
        );
        println!("{}", app.connection_string(KeySlot::Primary));
    }
    if let Some(cert) = app.trust_file() {
        let cert = cert.canonicalize().unwrap_or_else(|_| cert.to_owned());
        println!(
            "callsign: serving a generated certificate; trust it with REQUESTS_CA_BUNDLE={0} (Python) or NODE_EXTRA_CA_CERTS={0} (Node)",
            cert.display()
        );
    }
    app.run_until(startup::shutdown_signal()).await
}

async fn keys(config: &Config, action: KeysCommand) -> anyhow::Result<()> {
    let store = startup::open_store(config).await?;
    let (keys, _) = startup::key_service(config, store).await?;
    if let KeysCommand::Regenerate { slot } = action {
        let slot = match slot {
            SlotArg::Primary => KeySlot::Primary,
            SlotArg::Secondary => KeySlot::Secondary,
        };
        keys.regenerate(slot, OffsetDateTime::now_utc())
            .await
            .context("cannot regenerate the key")?;
        println!("callsign: {slot} key regenerated; tokens it minted are revoked");
    }
    let endpoint = startup::public_endpoint(config, config.listen)?;
    let ring = keys.ring().load();
    for slot in KeySlot::BOTH {
        let key = ring.get(slot);
        println!("{slot} (kid {}):", key.kid());
        println!(
            "  {}",
            connection_string(&endpoint, &key.credential.access_key_base64())
        );
    }
    Ok(())
}
