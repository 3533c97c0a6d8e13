//! The `callsign` commands: `serve` (default), `migrate`, `health`,
//! `keys list|regenerate|rotate-signing|rotate-event-signing|reseal`, `users …` ([`users`]),
//! `config check` and `docs config|cli` ([`reference`]).

mod announce;
mod reference;
mod users;

use std::io::IsTerminal;
use std::sync::Arc;

use anyhow::Context;

use tokio_util::sync::CancellationToken;

use crate::audit::{Action, AuditEvent};
use crate::clock::{Clock, SystemClock};
use crate::config::{Cli, Command, Config, ConfigCommand, KeysCommand, SlotArg, TlsMode};
use crate::http::connection_string;
use crate::keys::KeySlot;
use crate::startup::preflight::{self, Purpose};
use crate::startup::{self, Application};
use crate::telemetry;

pub async fn run(cli: Cli) -> anyhow::Result<()> {
    let command = cli.command.unwrap_or(Command::Serve);
    if let Command::Docs { page } = command {
        print!("{}", reference::page(page));
        return Ok(());
    }
    let telemetry = telemetry::init(cli.config.log_format);
    let result = dispatch(&cli.config, command).await;
    telemetry.shutdown().await;
    result
}

async fn dispatch(config: &Config, command: Command) -> anyhow::Result<()> {
    // A command on the store checks the settings it needs before it opens the store (`serve`
    // checks its own, listeners and TLS too, as it builds).
    if matches!(
        command,
        Command::Migrate | Command::Keys { .. } | Command::Users { .. }
    ) {
        preflight::settings(config, Purpose::Command)
            .await
            .into_result()?;
    }
    match command {
        Command::Serve => serve(config).await,
        Command::Migrate => {
            startup::open_store(config).await?;
            println!("callsign: database migrated");
            Ok(())
        }
        Command::Keys {
            show_secrets,
            action,
        } => keys(config, action, show_secrets).await,
        Command::Users { action } => users::run(config, action).await,
        Command::Health => health(config).await,
        Command::Config {
            action: ConfigCommand::Check,
        } => config_check(config).await,
        Command::Docs { .. } => Ok(()),
    }
}

/// `callsign config check`: every finding, then the verdict.
async fn config_check(config: &Config) -> anyhow::Result<()> {
    let mut report = preflight::settings(config, Purpose::Serve).await;
    preflight::database(config, &mut report).await;
    for finding in &report.findings {
        println!("{finding}");
    }
    let errors = report.errors().count();
    anyhow::ensure!(
        errors == 0,
        "{errors} setting(s) refused; nothing was created or changed"
    );
    println!("callsign: the configuration is valid; nothing was created or changed");
    Ok(())
}

async fn serve(config: &Config) -> anyhow::Result<()> {
    let app = Application::build(config).await?;
    announce::started(config, &app);
    if app.generated_keys {
        announce::generated_keys(config, &app, std::io::stdout().is_terminal());
    }
    if let Some(cert) = app.trust_file() {
        let cert = cert.canonicalize().unwrap_or_else(|_| cert.to_owned());
        announce::generated_certificate(config, &cert);
    }
    app.run_until(startup::shutdown_signal()).await
}

/// `GET /healthz` on this host's listener. The certificate is not checked: the probe stays on
/// the loopback interface and sends nothing secret.
async fn health(config: &Config) -> anyhow::Result<()> {
    let url = match config.ops_listen {
        Some(ops) => format!("http://127.0.0.1:{}/healthz", ops.port()),
        None => {
            let scheme = match config.tls.mode {
                TlsMode::On => "https",
                TlsMode::Off => "http",
            };
            format!("{scheme}://127.0.0.1:{}/healthz", config.listen.port())
        }
    };
    let _ = rustls::crypto::ring::default_provider().install_default();
    let client = reqwest::Client::builder()
        .tls_danger_accept_invalid_certs(true)
        .timeout(std::time::Duration::from_secs(3))
        .build()?;
    let status = client
        .get(&url)
        .send()
        .await
        .with_context(|| format!("{url} did not answer"))?
        .status();
    anyhow::ensure!(status.is_success(), "{url} answered {status}");
    Ok(())
}

async fn keys(config: &Config, action: KeysCommand, show_secrets: bool) -> anyhow::Result<()> {
    let store = startup::open_store(config).await?;
    let clock = Arc::new(SystemClock);
    let (audit, writer) = startup::command_audit(config, store.clone(), clock.clone()).await?;
    let cancel = CancellationToken::new();
    let writing = tokio::spawn(writer.run(cancel.clone()));
    let master = startup::master_keys(config, store.backend())?;
    let (keys, _) =
        startup::key_service(config, store.clone(), clock.clone(), audit.clone()).await?;
    match action {
        // Audited like the API's listing (`accessKey.listed`): whoever reads the keys holds them.
        KeysCommand::List => {
            keys.reveal()
                .await
                .context("cannot record the listing in the audit trail")?;
        }
        KeysCommand::Regenerate { slot } => {
            let slot = key_slot(slot);
            keys.regenerate(slot)
                .await
                .context("cannot regenerate the key")?;
            println!("callsign: {slot} key regenerated; tokens its slot signed are revoked");
        }
        KeysCommand::Reseal => {
            let mut count = keys
                .reseal()
                .await
                .context("cannot re-seal the stored keys")?;
            count += crate::signals::reseal::reseal_all(store.as_ref(), &master, clock.now_ms())
                .await
                .context("cannot re-seal the event transmitter's secrets")?;
            println!(
                "callsign: {count} stored keys re-sealed under CALLSIGN_MASTER_KEY; CALLSIGN_PREVIOUS_MASTER_KEY is no longer needed"
            );
        }
        KeysCommand::RotateEventSigning => {
            let ring = crate::signals::EventKeyRing::new(
                store.clone(),
                master,
                config.signals.ssf_algorithm,
                clock.clone(),
            );
            let kid = ring
                .rotate()
                .await
                .context("cannot rotate the event-signing key")?;
            audit.record(
                AuditEvent::about_app_user(Action::SigningKeyRotated, None)
                    .with_details(serde_json::json!({ "slot": "events", "kid": kid })),
            );
            println!(
                "callsign: security events are signed by key {kid} now; the old key stays published while it is retained"
            );
        }
        KeysCommand::RotateSigning { slot } => {
            let slots = match slot {
                Some(slot) => vec![key_slot(slot)],
                None => KeySlot::BOTH.to_vec(),
            };
            for slot in slots {
                keys.rotate_signing(slot)
                    .await
                    .context("cannot rotate the signing key")?;
                println!(
                    "callsign: {slot} signing key rotated; the old one verifies until its tokens expire"
                );
            }
        }
    }
    // The audit trail of what the operator did is written before the command returns.
    cancel.cancel();
    let _ = writing.await;
    let endpoint = startup::public_endpoint(config, config.listen)?;
    let ring = keys.ring().load();
    for slot in KeySlot::BOTH {
        let key = ring.access_key(slot);
        println!(
            "{slot}: access key {}, signing key {}",
            key.kid(),
            ring.signer(slot).kid()
        );
        if show_secrets {
            println!("  {}", connection_string(&endpoint, &key.to_base64()));
        }
    }
    if !show_secrets {
        println!("callsign: the keys are not printed; add --show-secrets to print them");
    }
    Ok(())
}

fn key_slot(arg: SlotArg) -> KeySlot {
    match arg {
        SlotArg::Primary => KeySlot::Primary,
        SlotArg::Secondary => KeySlot::Secondary,
    }
}
