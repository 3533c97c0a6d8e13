//! `callsign users …`: what a backend does to app users through the API, for an operator at the
//! command line. Each action is audited with the actor `operator`; the instances serving learn of
//! its revocations from the outbox and their resync, within a second.

use std::io::BufRead;

use anyhow::Context;
use tokio_util::sync::CancellationToken;

use crate::clock::from_millis;
use crate::config::{Config, UsersCommand};
use crate::startup;
use crate::store::AppUserFilter;
use crate::users::{Password, Username};
use crate::vocabulary::{AppUserId, FamilyId};

pub async fn run(config: &Config, action: UsersCommand) -> anyhow::Result<()> {
    let built = startup::services(config).await?;
    let services = built.services;
    let cancel = CancellationToken::new();
    let writing = tokio::spawn(built.audit_writer.run(cancel.clone()));
    let done = act(&services, action).await;
    // The audit trail of what the operator did is written before the command returns.
    cancel.cancel();
    let _ = writing.await;
    done
}

async fn act(services: &crate::services::Services, action: UsersCommand) -> anyhow::Result<()> {
    match action {
        UsersCommand::List {
            username_prefix,
            max,
        } => {
            let filter = AppUserFilter {
                username_prefix: username_prefix.as_deref().map(Username::normalise),
                ..AppUserFilter::default()
            };
            for user in services.users.find(&filter, max.clamp(1, 1000)).await? {
                let name = match (&user.username, &user.oidc_subject) {
                    (Some(username), _) => format!("account {username}"),
                    (None, Some(subject)) => format!("oidc {subject}"),
                    (None, None) => "-".to_owned(),
                };
                let disabled = if user.disabled_at_ms.is_some() {
                    " (disabled)"
                } else {
                    ""
                };
                println!("{} {name}{disabled}", user.id);
            }
        }
        UsersCommand::Disable { user } => {
            services.sessions.disable(parse(&user)?).await?;
            println!("callsign: {user} disabled; its sessions ended and its tokens revoked");
        }
        UsersCommand::Enable { user } => {
            services.sessions.enable(parse(&user)?).await?;
            println!("callsign: {user} enabled");
        }
        UsersCommand::EndSessions { user } => {
            let ended = services.sessions.end_all(parse(&user)?).await?;
            println!("callsign: {ended} sessions of {user} ended");
        }
        UsersCommand::Sessions { user } => {
            let user = parse(&user)?;
            services.users.stored(user).await?;
            for session in services.sessions.of_user(user).await? {
                let refreshed = session
                    .last_refreshed_at_ms
                    .and_then(from_millis)
                    .map_or_else(|| "-".to_owned(), |at| at.to_string());
                println!(
                    "{} started {} refreshed {refreshed} from {} {}",
                    session.id,
                    from_millis(session.created_at_ms)
                        .map_or_else(String::new, |at| at.to_string()),
                    session.client_address.as_deref().unwrap_or("-"),
                    session.user_agent.as_deref().unwrap_or("-"),
                );
            }
        }
        UsersCommand::EndSession { user, session } => {
            let id = FamilyId::parse(&session)
                .with_context(|| format!("'{session}' is not a session id (a UUID)"))?;
            services.sessions.end_one(parse(&user)?, id).await?;
            println!("callsign: session {session} of {user} ended");
        }
        UsersCommand::SetPassword { user } => {
            let mut line = String::new();
            std::io::stdin()
                .lock()
                .read_line(&mut line)
                .context("cannot read the password from standard input")?;
            let password = Password::parse(line.trim_end_matches(['\r', '\n']).to_owned())?;
            services
                .credentials
                .set_password(parse(&user)?, &password)
                .await?;
            println!("callsign: password of {user} set; its sessions ended");
        }
        UsersCommand::ResetToken { user } => {
            let (token, expires) = services
                .credentials
                .issue_reset_token(parse(&user)?)
                .await?;
            println!("{}", token.into_string());
            eprintln!("callsign: one-time reset token for {user}, good until {expires}");
        }
    }
    Ok(())
}

fn parse(raw: &str) -> anyhow::Result<AppUserId> {
    AppUserId::parse(raw).with_context(|| format!("'{raw}' is not an app user id (a UUID)"))
}
