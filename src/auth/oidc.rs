//! Bearer tokens from an OpenID Connect provider, verified against its JWKS, one key cache per
//! issuer: the app's own IdP signing app users in, and an organisation's IdP vouching for
//! backend services ([`super::backend`]). A [`BearerAuthority`] pairs an issuer's verifier with
//! the audience one kind of caller's tokens must carry.
//!
//! - Asymmetric algorithms only (RS256, ES256, EdDSA), and the key's type and curve must match
//!   the header's `alg`: an HS256 token "signed" with a public key's bytes is refused.
//! - The header may name no critical extension (`crit`) and must type the token as an access
//!   token (`typ` absent, `JWT` or `at+jwt`), so a logout token or security event signed by the
//!   same keys is not taken for one ([`header`]).
//! - `iss` must be the configured issuer, `aud` contain the expected audience; `exp`, `iss`,
//!   `aud` and `sub` are required; `exp`, `nbf` and `iat` are checked against the injected clock
//!   with [`LEEWAY_SECS`] of leeway, and the lifetime is capped ([`claims`]).
//! - The JWKS comes from the configured URL or from discovery
//!   (`<issuer>/.well-known/openid-configuration`); https, or http only on a loopback address.
//!   It is cached, refetched when a token names an unknown `kid` (at most once per cooldown,
//!   counted from the end of the last attempt, so a flood of made-up `kid`s costs one fetch and
//!   requests queued behind a slow one start no other) and in the background once older than
//!   [`MAX_KEY_AGE_MS`] ([`JwksVerifier::refresh_if_stale`]); the last good keys are kept while
//!   the IdP is unreachable or misbehaves. Keys marked for encryption (`use: enc`) never verify.
//! - A fetch is bounded in time and size ([`fetch`]): a slow, huge or garbled answer fails it.

mod claims;
mod fetch;
mod header;

use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwapOption;
use jsonwebtoken::jwk::{
    AlgorithmParameters, EllipticCurve, Jwk, JwkSet, KeyAlgorithm, PublicKeyUse,
};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};

use self::claims::RequiredClaims;
use self::fetch::KeyFetcher;
pub use self::fetch::{FETCH_TIMEOUT, MAX_DOCUMENT_BYTES, check_url};
use crate::clock::SharedClock;
use crate::text::escaped;

/// Clock difference tolerated on `exp`, `nbf` and `iat`.
pub const LEEWAY_SECS: i64 = 30;
/// Keys older than this are refetched in the background (subject to the cooldown).
const MAX_KEY_AGE_MS: i64 = 60 * 60 * 1000;
const MAX_TOKEN_LEN: usize = 16 * 1024;
const ALGORITHMS: [Algorithm; 3] = [Algorithm::RS256, Algorithm::ES256, Algorithm::EdDSA];

/// Where bearer tokens come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OidcSettings {
    pub issuer: String,
    /// Discovered from the issuer when `None`.
    pub jwks_url: Option<String>,
    pub refetch_cooldown: Duration,
    /// The longest a token may live, from `iat` (or, lacking it, from now) to `exp`.
    pub max_lifetime: Duration,
}

/// An issuer's verifier and the audience the tokens of one kind of caller must carry.
#[derive(Clone)]
pub struct BearerAuthority {
    pub verifier: Arc<JwksVerifier>,
    pub audience: String,
}

impl BearerAuthority {
    /// Whether it takes the tokens `issuer` issues for `audience`: another authority for the
    /// same pair would take one kind of caller's token for another's.
    pub fn takes(&self, issuer: &str, audience: &str) -> bool {
        self.verifier.settings().issuer == issuer && self.audience == audience
    }

    pub async fn verify(&self, token: &str) -> Result<BearerClaims, BearerError> {
        self.verifier.verify(token, &self.audience).await
    }
}

/// A verified bearer token: who it names, and every claim (for authorisation rules).
#[derive(Debug, Clone)]
pub struct BearerClaims {
    pub issuer: String,
    pub subject: String,
    /// `exp`, in Unix seconds.
    pub expires_at: i64,
    pub claims: serde_json::Map<String, serde_json::Value>,
}

/// Why the claims that should name one thing (a client) do not.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClaimsDisagree {
    /// One of them is not a non-empty string.
    NotAString,
    /// Two of them name different things.
    Differ,
}

impl BearerClaims {
    /// The value the claims `names` agree on: every one present a non-empty string, all equal;
    /// `None` when none is present.
    pub fn agreed(&self, names: &[&str]) -> Result<Option<&str>, ClaimsDisagree> {
        let mut named: Option<&str> = None;
        for name in names {
            let Some(value) = self.claims.get(*name) else {
                continue;
            };
            let value = value
                .as_str()
                .filter(|value| !value.is_empty())
                .ok_or(ClaimsDisagree::NotAString)?;
            if named.is_some_and(|first| first != value) {
                return Err(ClaimsDisagree::Differ);
            }
            named = Some(value);
        }
        Ok(named)
    }
}

/// Why a bearer token is refused. Logged; app users and backends hear only "invalid token",
/// while the backend exchanging an organisation user's token hears why (cut short).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BearerError {
    #[error("malformed token")]
    Malformed,
    #[error("algorithm not allowed (only RS256, ES256, EdDSA)")]
    Algorithm,
    #[error("no key in the issuer's JWKS matches the token's kid and algorithm")]
    UnknownKey,
    #[error("the issuer's keys are unavailable")]
    KeysUnavailable,
    #[error("invalid signature, issuer, audience or claims: {0}")]
    Invalid(String),
    #[error("expired")]
    Expired,
    #[error("not yet valid")]
    NotYetValid,
    #[error("issued in the future")]
    IssuedInTheFuture,
    #[error(
        "lives longer than the {max_lifetime_secs} s allowed (CALLSIGN_OIDC_MAX_TOKEN_LIFETIME_SECS)"
    )]
    TooLongLived { max_lifetime_secs: i64 },
    #[error("its header names critical extensions (crit), which Callsign does not understand")]
    CriticalExtensions,
    #[error("not an access token: its header's typ is {0:?}")]
    NotAnAccessToken(String),
}

struct CachedKeys {
    set: JwkSet,
    fetched_at_ms: i64,
}

pub struct JwksVerifier {
    settings: OidcSettings,
    fetcher: KeyFetcher,
    clock: SharedClock,
    keys: ArcSwapOption<CachedKeys>,
    /// When the last fetch attempt ended; one fetch at a time.
    last_fetch_ms: tokio::sync::Mutex<Option<i64>>,
}

impl JwksVerifier {
    pub fn new(settings: OidcSettings, clock: SharedClock) -> Result<Self, String> {
        check_url("the OIDC issuer", &settings.issuer)?;
        if let Some(url) = &settings.jwks_url {
            check_url("the JWKS URL", url)?;
        }
        crate::jwt_crypto::install()
            .map_err(|_| "another JWT crypto provider is installed".to_owned())?;
        Ok(JwksVerifier {
            settings,
            fetcher: KeyFetcher::new()?,
            clock,
            keys: ArcSwapOption::empty(),
            last_fetch_ms: tokio::sync::Mutex::new(None),
        })
    }

    /// Fetches the keys once at start-up; an IdP that is down is logged, not fatal.
    pub async fn warm_up(&self) {
        self.refetch().await;
        if self.keys.load().is_none() {
            tracing::warn!(issuer = %self.settings.issuer, "the OIDC issuer's keys could not be fetched yet; will retry on use");
        }
    }

    pub fn settings(&self) -> &OidcSettings {
        &self.settings
    }

    /// Verifies a bearer token completely; `aud` must contain `audience`.
    pub async fn verify(&self, token: &str, audience: &str) -> Result<BearerClaims, BearerError> {
        if token.len() > MAX_TOKEN_LEN {
            return Err(BearerError::Malformed);
        }
        // `alg: none` and unknown algorithms fail here: the header cannot even be read.
        let header = jsonwebtoken::decode_header(token).map_err(|_| BearerError::Malformed)?;
        if !ALGORITHMS.contains(&header.alg) {
            return Err(BearerError::Algorithm);
        }
        header::check(token)?;
        let key = match self.find_key(header.kid.as_deref(), header.alg) {
            Some(key) => key,
            None => {
                self.refetch().await;
                self.find_key(header.kid.as_deref(), header.alg)
                    .ok_or_else(|| match self.keys.load().as_ref() {
                        Some(_) => BearerError::UnknownKey,
                        None => BearerError::KeysUnavailable,
                    })?
            }
        };
        let mut validation = Validation::new(header.alg);
        validation.set_issuer(&[&self.settings.issuer]);
        validation.set_audience(&[audience]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        // Time is checked below against the injected clock.
        validation.validate_exp = false;
        validation.validate_nbf = false;
        validation.leeway = 0;
        let claims = jsonwebtoken::decode::<RequiredClaims>(token, &key, &validation)
            .map_err(|e| BearerError::Invalid(e.to_string()))?
            .claims;
        let max_lifetime = i64::try_from(self.settings.max_lifetime.as_secs()).unwrap_or(i64::MAX);
        claims.check_times(self.clock.now().unix_timestamp(), max_lifetime)?;
        if claims.sub.is_empty() {
            return Err(BearerError::Invalid("empty sub".into()));
        }
        Ok(BearerClaims {
            issuer: claims.iss,
            subject: claims.sub,
            expires_at: claims.exp,
            claims: claims.rest,
        })
    }

    /// Refetches keys older than [`MAX_KEY_AGE_MS`] (or never fetched); run periodically, off
    /// the request path.
    pub async fn refresh_if_stale(&self) {
        let stale = self
            .keys
            .load()
            .as_ref()
            .is_none_or(|k| self.clock.now_ms() - k.fetched_at_ms > MAX_KEY_AGE_MS);
        if stale {
            self.refetch().await;
        }
    }

    /// The cached key for `kid` fit for `alg`.
    fn find_key(&self, kid: Option<&str>, alg: Algorithm) -> Option<DecodingKey> {
        let cached = self.keys.load_full()?;
        let fits = |jwk: &&Jwk| key_fits(jwk, alg);
        let jwk = match kid {
            Some(kid) => cached
                .set
                .keys
                .iter()
                .filter(|jwk| jwk.common.key_id.as_deref() == Some(kid))
                .find(fits)?,
            // No `kid`: only an unambiguous key will do.
            None => {
                let mut candidates = cached.set.keys.iter().filter(fits);
                let only = candidates.next()?;
                if candidates.next().is_some() {
                    return None;
                }
                only
            }
        };
        DecodingKey::from_jwk(jwk).ok()
    }

    /// Fetches the JWKS unless the last attempt ended within the cooldown; keeps the old keys on
    /// failure. Requests that waited here for a fetch to end take its result rather than start
    /// another.
    async fn refetch(&self) {
        let mut last = self.last_fetch_ms.lock().await;
        let cooldown_ms = self.settings.refetch_cooldown.as_millis() as i64;
        if last.is_some_and(|at| self.clock.now_ms() - at < cooldown_ms) {
            return;
        }
        let fetched = self.fetcher.fetch(&self.settings).await;
        let now_ms = self.clock.now_ms();
        *last = Some(now_ms);
        match fetched {
            Ok(set) => {
                tracing::info!(issuer = %self.settings.issuer, keys = set.keys.len(), "fetched the OIDC issuer's keys");
                self.keys.store(Some(Arc::new(CachedKeys {
                    set,
                    fetched_at_ms: now_ms,
                })));
            }
            Err(error) => {
                tracing::warn!(issuer = %self.settings.issuer, error = %escaped(&error), "fetching the OIDC issuer's keys failed; keeping the last good keys")
            }
        }
    }
}

/// Whether a JWK may verify a token of `alg`: its type and curve match, its own `alg` (if any)
/// is `alg`, and (for Ed25519) its key has the right length.
fn key_fits(jwk: &Jwk, alg: Algorithm) -> bool {
    let declared_ok = match jwk.common.key_algorithm {
        None => true,
        Some(declared) => matches!(
            (declared, alg),
            (KeyAlgorithm::RS256, Algorithm::RS256)
                | (KeyAlgorithm::ES256, Algorithm::ES256)
                | (KeyAlgorithm::EdDSA, Algorithm::EdDSA)
        ),
    };
    let shape_ok = match (&jwk.algorithm, alg) {
        (AlgorithmParameters::RSA(_), Algorithm::RS256) => true,
        (AlgorithmParameters::EllipticCurve(ec), Algorithm::ES256) => {
            ec.curve == EllipticCurve::P256
        }
        (AlgorithmParameters::OctetKeyPair(okp), Algorithm::EdDSA) => {
            okp.curve == EllipticCurve::Ed25519
                && base64::Engine::decode(
                    &base64::engine::general_purpose::URL_SAFE_NO_PAD,
                    okp.x.as_bytes(),
                )
                .is_ok_and(|x| x.len() == 32)
        }
        _ => false,
    };
    let for_signing = !matches!(jwk.common.public_key_use, Some(PublicKeyUse::Encryption));
    declared_ok && shape_ok && for_signing
}
