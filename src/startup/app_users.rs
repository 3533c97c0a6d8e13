//! App-user and identity-provider settings, checked and turned into what the domain uses: the
//! [`AppPolicy`], the bearer authorities of the app's and the organisation's identity
//! providers, and the gate of the organisation-user exchange. Bad values refuse start-up with
//! the variable named.

use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};

use crate::auth::backend::BackendPolicy;
use crate::auth::oidc::{BearerAuthority, JwksVerifier, OidcSettings};
use crate::auth::org_users::{OrgExchangePolicy, OrgGate};
use crate::clock::SharedClock;
use crate::config::{AppUserConfig, Config, Registration, Switch};
use crate::store::RefreshLimits;
use crate::token::{Lifetime, ScopeSet};
use crate::users::{AppPolicy, GuestPolicy, PasswordPolicy};

const DAY_MS: i64 = 24 * 60 * 60 * 1000;

fn scope_list(name: &str, raw: &str) -> anyhow::Result<ScopeSet> {
    let names: Vec<&str> = raw.split(',').map(str::trim).collect();
    ScopeSet::parse(&names).with_context(|| format!("{name} is invalid"))
}

/// What app users and guests may have, from configuration.
pub fn app_policy(config: &AppUserConfig) -> anyhow::Result<AppPolicy> {
    let guests = match config.guests {
        Switch::Off => None,
        Switch::On => Some(GuestPolicy {
            scopes: scope_list("CALLSIGN_GUEST_SCOPES", &config.guest_scopes)?,
            lifetime: Lifetime::from_minutes(Some(config.guest_token_minutes))
                .context("CALLSIGN_GUEST_TOKEN_MINUTES is invalid")?,
            per_minute: config.guests_per_minute.max(1),
        }),
    };
    if config.refresh_idle_days == 0 || config.refresh_absolute_days < config.refresh_idle_days {
        bail!(
            "refresh lifetimes must satisfy 0 < CALLSIGN_REFRESH_IDLE_DAYS <= CALLSIGN_REFRESH_ABSOLUTE_DAYS"
        );
    }
    Ok(AppPolicy {
        scopes: scope_list("CALLSIGN_APP_SCOPES", &config.app_scopes)?,
        guests,
        refresh: RefreshLimits {
            idle_ms: i64::from(config.refresh_idle_days) * DAY_MS,
            absolute_ms: i64::from(config.refresh_absolute_days) * DAY_MS,
        },
        open_registration: config.accounts_registration == Registration::Open,
        password: PasswordPolicy::new(config.password_min_length)
            .map_err(anyhow::Error::msg)
            .context("CALLSIGN_PASSWORD_MIN_LENGTH is invalid")?,
        password_reset_minutes: config.password_reset_minutes,
    })
}

/// The identity providers whose bearer tokens Callsign accepts: the app's (app users) and the
/// organisation's (backends, and users whose tokens are exchanged). One verifier, with one key
/// cache, per issuer.
pub(super) struct IdentityProviders {
    pub app: Option<BearerAuthority>,
    pub backends: Option<(BearerAuthority, Arc<BackendPolicy>)>,
    pub org_users: Option<Arc<OrgGate>>,
}

pub(super) fn identity_providers(
    config: &Config,
    clock: &SharedClock,
) -> anyhow::Result<IdentityProviders> {
    let mut verifiers: Vec<Arc<JwksVerifier>> = Vec::new();
    let mut verifier = |settings: OidcSettings| -> anyhow::Result<Arc<JwksVerifier>> {
        if let Some(shared) = verifiers.iter().find(|v| *v.settings() == settings) {
            return Ok(shared.clone());
        }
        let new = Arc::new(JwksVerifier::new(settings, clock.clone()).map_err(anyhow::Error::msg)?);
        verifiers.push(new.clone());
        Ok(new)
    };
    let cooldown = Duration::from_secs(config.app_users.oidc_jwks_cooldown_secs);
    let max_lifetime = match config.app_users.oidc_max_token_lifetime_secs {
        0 => bail!("CALLSIGN_OIDC_MAX_TOKEN_LIFETIME_SECS must be at least 1"),
        secs => Duration::from_secs(secs),
    };

    let users = &config.app_users;
    let app = match &users.oidc_issuer {
        None if users.oidc_jwks_url.is_some() || users.oidc_audience.is_some() => {
            bail!("CALLSIGN_OIDC_JWKS_URL and CALLSIGN_OIDC_AUDIENCE need CALLSIGN_OIDC_ISSUER")
        }
        None => None,
        Some(issuer) => Some(BearerAuthority {
            verifier: verifier(OidcSettings {
                issuer: issuer.clone(),
                jwks_url: users.oidc_jwks_url.clone(),
                refetch_cooldown: cooldown,
                max_lifetime,
            })?,
            audience: users
                .oidc_audience
                .clone()
                .filter(|a| !a.is_empty())
                .context("CALLSIGN_OIDC_AUDIENCE is required with CALLSIGN_OIDC_ISSUER")?,
        }),
    };

    let backends = &config.backends;
    let backends = match &backends.backend_oidc_issuer {
        None => None,
        Some(issuer) => {
            let policy = BackendPolicy {
                clients: backends.backend_clients.clone(),
                roles: backends.backend_roles.clone(),
                admin_roles: backends.admin_roles.clone(),
                client_id_from_sub: backends.backend_client_id_from_sub == Switch::On,
                app_only: backends.backend_app_only == Switch::On,
            };
            if !policy.admits_anyone() {
                bail!(
                    "CALLSIGN_BACKEND_OIDC_ISSUER admits no one without CALLSIGN_BACKEND_CLIENTS, \
                     CALLSIGN_BACKEND_ROLES or CALLSIGN_ADMIN_ROLES"
                );
            }
            if let Some(app) = &app
                && app.takes(issuer, &backends.backend_oidc_audience)
            {
                bail!(
                    "CALLSIGN_OIDC_AUDIENCE and CALLSIGN_BACKEND_OIDC_AUDIENCE are both '{}' on \
                     the same issuer: an app user's token would be accepted as a backend's; give \
                     backends an audience of their own",
                    app.audience
                );
            }
            let authority = BearerAuthority {
                verifier: verifier(OidcSettings {
                    issuer: issuer.clone(),
                    jwks_url: backends.backend_oidc_jwks_url.clone(),
                    refetch_cooldown: cooldown,
                    max_lifetime,
                })?,
                audience: backends.backend_oidc_audience.clone(),
            };
            Some((authority, Arc::new(policy)))
        }
    };

    let org = &config.org_users;
    let org_users = match &org.org_oidc_issuer {
        None if org.org_oidc_jwks_url.is_some() || !org.org_client_ids.is_empty() => {
            bail!(
                "CALLSIGN_ORG_OIDC_JWKS_URL and CALLSIGN_ORG_CLIENT_IDS need CALLSIGN_ORG_OIDC_ISSUER"
            )
        }
        None => None,
        Some(issuer) => {
            let listed = |raw: &[String]| -> Vec<String> {
                raw.iter()
                    .map(|item| item.trim().to_owned())
                    .filter(|item| !item.is_empty())
                    .collect()
            };
            let policy = OrgExchangePolicy {
                clients: listed(&org.org_client_ids),
                scopes: listed(&org.org_scopes),
                user_claim: org.org_user_claim.trim().to_owned(),
                audience: org.org_audience.trim().to_owned(),
            };
            if policy.clients.is_empty() {
                bail!(
                    "CALLSIGN_ORG_OIDC_ISSUER admits no one without CALLSIGN_ORG_CLIENT_IDS (the \
                     client applications whose users' tokens may be exchanged)"
                );
            }
            if policy.scopes.is_empty()
                || policy.user_claim.is_empty()
                || policy.audience.is_empty()
            {
                bail!(
                    "CALLSIGN_ORG_SCOPES, CALLSIGN_ORG_USER_CLAIM and CALLSIGN_ORG_AUDIENCE must \
                     not be empty with CALLSIGN_ORG_OIDC_ISSUER"
                );
            }
            let others = app
                .iter()
                .chain(backends.iter().map(|(authority, _)| authority));
            if let Some(other) = others
                .into_iter()
                .find(|other| other.takes(issuer, &policy.audience))
            {
                bail!(
                    "CALLSIGN_ORG_AUDIENCE '{}' is also the audience of app users' or backends' \
                     tokens on the same issuer: one kind of token would pass for the other; give \
                     each its own audience",
                    other.audience
                );
            }
            let authority = BearerAuthority {
                verifier: verifier(OidcSettings {
                    issuer: issuer.clone(),
                    jwks_url: org.org_oidc_jwks_url.clone(),
                    refetch_cooldown: cooldown,
                    max_lifetime,
                })?,
                audience: policy.audience.clone(),
            };
            Some(Arc::new(OrgGate {
                authority,
                policy,
                clock: clock.clone(),
            }))
        }
    };
    Ok(IdentityProviders {
        app,
        backends,
        org_users,
    })
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use clap::Parser;

    use super::*;
    use crate::clock::MockClock;
    use crate::config::Cli;

    fn providers(args: &[&str]) -> anyhow::Result<IdentityProviders> {
        let cli = Cli::try_parse_from(std::iter::once("callsign").chain(args.iter().copied()))?;
        let clock: SharedClock = Arc::new(MockClock::new(time::OffsetDateTime::UNIX_EPOCH));
        identity_providers(&cli.config, &clock)
    }

    #[test]
    fn one_issuer_may_not_serve_app_users_and_backends_one_audience() {
        let issuer = "https://idp.example";
        let both = |app_audience: &str, backend_audience: &str, backend_issuer: &str| {
            providers(&[
                "--oidc-issuer",
                issuer,
                "--oidc-audience",
                app_audience,
                "--backend-oidc-issuer",
                backend_issuer,
                "--backend-oidc-audience",
                backend_audience,
                "--backend-clients",
                "billing",
            ])
        };
        let Err(refused) = both("api://callsign", "api://callsign", issuer) else {
            panic!("an app user's token would pass as a backend's");
        };
        let message = refused.to_string();
        assert!(
            message.contains("CALLSIGN_BACKEND_OIDC_AUDIENCE"),
            "{message}"
        );
        // Another audience, or another issuer, keeps them apart; one verifier serves both.
        let apart = both("api://callsign", "https://communication.azure.com", issuer).unwrap();
        let (backends, _) = apart.backends.unwrap();
        assert!(Arc::ptr_eq(
            &apart.app.unwrap().verifier,
            &backends.verifier
        ));
        assert!(both("api://callsign", "api://callsign", "https://other.example").is_ok());
    }

    #[test]
    fn the_organisation_user_exchange_needs_clients_and_its_own_audience() {
        let issuer = "https://login.example/tenant/v2.0";
        let refused = |args: &[&str]| match providers(args) {
            Err(error) => error.to_string(),
            Ok(_) => panic!("{args:?} was accepted"),
        };
        let message = refused(&["--org-oidc-issuer", issuer]);
        assert!(message.contains("CALLSIGN_ORG_CLIENT_IDS"), "{message}");
        let message = refused(&["--org-client-ids", "app"]);
        assert!(message.contains("CALLSIGN_ORG_OIDC_ISSUER"), "{message}");
        let message = refused(&[
            "--org-oidc-issuer",
            issuer,
            "--org-client-ids",
            "app",
            "--org-scopes",
            " ",
        ]);
        assert!(message.contains("CALLSIGN_ORG_SCOPES"), "{message}");
        // App users' tokens from the same issuer and audience would pass for an org user's.
        let message = refused(&[
            "--oidc-issuer",
            issuer,
            "--oidc-audience",
            "https://auth.msft.communication.azure.com",
            "--org-oidc-issuer",
            issuer,
            "--org-client-ids",
            "app",
        ]);
        assert!(message.contains("CALLSIGN_ORG_AUDIENCE"), "{message}");

        let idps = providers(&[
            "--org-oidc-issuer",
            issuer,
            "--org-client-ids",
            "app-1, app-2",
        ])
        .unwrap();
        let gate = idps.org_users.unwrap();
        assert_eq!(gate.policy.clients, ["app-1", "app-2"]);
        assert_eq!(
            gate.policy.scopes,
            ["Teams.ManageCalls", "Teams.ManageChats"]
        );
        assert_eq!(gate.policy.user_claim, "oid");
        assert_eq!(
            gate.authority.audience,
            "https://auth.msft.communication.azure.com"
        );
    }

    #[test]
    fn the_lifetime_cap_must_allow_something() {
        let cap = |secs: &str| {
            providers(&[
                "--oidc-issuer",
                "https://idp.example",
                "--oidc-audience",
                "api://callsign",
                "--oidc-max-token-lifetime-secs",
                secs,
            ])
        };
        assert!(cap("0").is_err());
        let app = cap("600").unwrap().app.unwrap();
        assert_eq!(
            app.verifier.settings().max_lifetime,
            Duration::from_secs(600)
        );
    }
}
