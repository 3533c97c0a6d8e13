//! App-user settings, checked and turned into what the domain uses: the [`AppPolicy`] and the
//! verifier of the app's identity provider. Bad values refuse start-up with the variable named.

use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};

use crate::auth::oidc::{JwksVerifier, OidcSettings};
use crate::clock::SharedClock;
use crate::config::{AppUserConfig, Registration, Switch};
use crate::store::RefreshLimits;
use crate::token::{Lifetime, ScopeSet};
use crate::users::{AppPolicy, GuestPolicy};

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
    })
}

/// The app's identity provider, when one is configured.
pub(super) fn oidc_verifier(
    config: &AppUserConfig,
    clock: &SharedClock,
) -> anyhow::Result<Option<Arc<JwksVerifier>>> {
    let Some(issuer) = &config.oidc_issuer else {
        if config.oidc_jwks_url.is_some() || config.oidc_audience.is_some() {
            bail!("CALLSIGN_OIDC_JWKS_URL and CALLSIGN_OIDC_AUDIENCE need CALLSIGN_OIDC_ISSUER");
        }
        return Ok(None);
    };
    let settings = OidcSettings {
        issuer: issuer.clone(),
        audience: config
            .oidc_audience
            .clone()
            .context("CALLSIGN_OIDC_AUDIENCE is required with CALLSIGN_OIDC_ISSUER")?,
        jwks_url: config.oidc_jwks_url.clone(),
        refetch_cooldown: Duration::from_secs(config.oidc_jwks_cooldown_secs),
    };
    let verifier = JwksVerifier::new(settings, clock.clone()).map_err(anyhow::Error::msg)?;
    Ok(Some(Arc::new(verifier)))
}
