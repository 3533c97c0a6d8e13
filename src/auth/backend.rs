//! Which backend services may call with a bearer token from the organisation's identity
//! provider (instead of an access key), and which may administer keys. Authentication alone is
//! not enough: a verified token must first be a client's own token, attributable to one client,
//! and is then admitted only if that client is allowed by name or carries an allowed role.
//!
//! Claims read: the client id from `azp` (OpenID Connect, Keycloak, Auth0), `appid` (Entra ID v1
//! tokens), `client_id` (RFC 9068) or `cid` (Okta); every one present must be a non-empty
//! string, and they must agree. `sub` names the client only when configured to: in a user's
//! token it names the user. Roles come from `roles` (Entra ID app roles, RFC 9068) and
//! `realm_access.roles` (Keycloak). With [`BackendPolicy::app_only`], only a token a client
//! obtained for itself (client credentials) is admitted, recognised by a positive mark (see
//! [`is_app_token`]): a client in the list would otherwise lend its name, and a user's own
//! roles would lend theirs, to every user who signs in through it with the backend audience.

use serde_json::Value;

use super::oidc::{BearerClaims, ClaimsDisagree};

/// The claims that may name the client, in order of preference.
const CLIENT_CLAIMS: [&str; 4] = ["azp", "appid", "client_id", "cid"];

/// The allow-lists and claim rules, from configuration. An admin role admits as well.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackendPolicy {
    /// Client ids admitted whatever their roles.
    pub clients: Vec<String>,
    /// Roles that admit a client.
    pub roles: Vec<String>,
    /// Roles that also allow key administration (`/keys`).
    pub admin_roles: Vec<String>,
    /// A token with no client claim is named by its `sub` (else it is refused).
    pub client_id_from_sub: bool,
    /// Only app (client-credentials) tokens: delegated user tokens are refused.
    pub app_only: bool,
}

impl Default for BackendPolicy {
    /// Admits no one; the claim rules at their strict defaults.
    fn default() -> Self {
        BackendPolicy {
            clients: Vec::new(),
            roles: Vec::new(),
            admin_roles: Vec::new(),
            client_id_from_sub: false,
            app_only: true,
        }
    }
}

/// A backend admitted by bearer token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackendCaller {
    /// Its client id, for logs and rate limits.
    pub client: String,
    pub may_administer_keys: bool,
}

/// Why a verified token is not admitted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refused {
    /// Not a token Callsign can attribute to a client acting for itself: treated as an invalid
    /// token (401), never as a client that is merely not allowed.
    #[error("not a client's own token: {0}")]
    NotAClientToken(&'static str),
    /// A client, but neither allowed by name nor holding an allowed role (403).
    #[error("client '{client}' is neither an allowed client nor holds an allowed role")]
    NotAllowed { client: String },
}

impl BackendPolicy {
    /// Whether any client or role is admitted at all.
    pub fn admits_anyone(&self) -> bool {
        !(self.clients.is_empty() && self.roles.is_empty() && self.admin_roles.is_empty())
    }

    pub fn authorize(&self, token: &BearerClaims) -> Result<BackendCaller, Refused> {
        if self.app_only && !is_app_token(token) {
            return Err(Refused::NotAClientToken(
                "not a client-credentials token (no mark of one: idtyp app, sub equal to the \
                 client or to oid, gty client-credentials, a Keycloak service account), and \
                 CALLSIGN_BACKEND_APP_ONLY is on",
            ));
        }
        let client = self.client(token)?;
        let roles = roles(token);
        let has = |allowed: &[String]| roles.iter().any(|role| allowed.iter().any(|a| a == role));
        let may_administer_keys = has(&self.admin_roles);
        let admitted = self.clients.contains(&client) || has(&self.roles) || may_administer_keys;
        if !admitted {
            return Err(Refused::NotAllowed { client });
        }
        Ok(BackendCaller {
            may_administer_keys,
            client,
        })
    }

    /// The client the token names: its client claims, which must be strings and agree, or
    /// (only if configured) its `sub`.
    fn client(&self, token: &BearerClaims) -> Result<String, Refused> {
        let named = token.agreed(&CLIENT_CLAIMS).map_err(|disagree| {
            Refused::NotAClientToken(match disagree {
                ClaimsDisagree::NotAString => {
                    "a client claim (azp, appid, client_id, cid) is not a non-empty string"
                }
                ClaimsDisagree::Differ => {
                    "its client claims (azp, appid, client_id, cid) name different clients"
                }
            })
        })?;
        match named {
            Some(client) => Ok(client.to_owned()),
            None if self.client_id_from_sub => Ok(token.subject.clone()),
            None => Err(Refused::NotAClientToken(
                "no client claim (azp, appid, client_id, cid), and CALLSIGN_BACKEND_CLIENT_ID_FROM_SUB is off",
            )),
        }
    }
}

/// Whether the token is one a client obtained for itself (client credentials), by a positive
/// mark, since the absence of a user's marks proves nothing (Keycloak's and Auth0's user tokens
/// carry none of Entra ID's):
///
/// - `idtyp` decides where present: `app` (Entra ID, with the optional claim), else a user's;
/// - `sub` equal to a client claim: RFC 9068 §2.2 names the client as the subject of a token no
///   resource owner is involved in (Okta's `sub` equals its `cid` there);
/// - otherwise `scp` (the scopes a user consented to) marks a delegated token;
/// - `gty: client-credentials` (Auth0);
/// - `sub` equal to `oid` (Entra ID: an app's token has its service principal as both; a
///   user's `sub` is pairwise, never its `oid`);
/// - `preferred_username` `service-account-<client>` (Keycloak's service accounts).
fn is_app_token(token: &BearerClaims) -> bool {
    let claim = |name: &str| token.claims.get(name).and_then(Value::as_str);
    if let Some(kind) = token.claims.get("idtyp") {
        return kind.as_str() == Some("app");
    }
    let clients: Vec<&str> = CLIENT_CLAIMS.iter().filter_map(|c| claim(c)).collect();
    if clients.contains(&token.subject.as_str()) {
        return true;
    }
    if token.claims.contains_key("scp") {
        return false;
    }
    claim("gty") == Some("client-credentials")
        || claim("oid") == Some(token.subject.as_str())
        || claim("preferred_username").is_some_and(|name| {
            name.strip_prefix("service-account-")
                .is_some_and(|client| clients.contains(&client))
        })
}

fn roles(token: &BearerClaims) -> Vec<&str> {
    let mut roles = strings(token.claims.get("roles"));
    roles.extend(strings(
        token
            .claims
            .get("realm_access")
            .and_then(|r| r.get("roles")),
    ));
    roles
}

/// The strings of a JSON array (nothing for anything else).
fn strings(value: Option<&Value>) -> Vec<&str> {
    value
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    /// A client-credentials token as RFC 9068 shapes it: its subject is the client its client
    /// claims name (`sub-1` where none does).
    fn token(claims: Value) -> BearerClaims {
        let client = CLIENT_CLAIMS
            .iter()
            .find_map(|name| claims.get(name).and_then(Value::as_str))
            .unwrap_or("sub-1")
            .to_owned();
        with_subject(&client, claims)
    }

    /// A token a user got through a client: its subject is the user.
    fn user_token(claims: Value) -> BearerClaims {
        with_subject("user-7", claims)
    }

    fn with_subject(subject: &str, claims: Value) -> BearerClaims {
        BearerClaims {
            issuer: "https://idp.test".into(),
            subject: subject.into(),
            expires_at: 1_800_000_000,
            claims: claims.as_object().unwrap().clone(),
        }
    }

    fn policy() -> BackendPolicy {
        BackendPolicy {
            clients: vec!["billing".into(), "sub-1".into()],
            roles: vec!["Callsign.Backend".into()],
            admin_roles: vec!["Callsign.Admin".into()],
            ..BackendPolicy::default()
        }
    }

    fn not_a_client_token(result: Result<BackendCaller, Refused>) -> bool {
        matches!(result, Err(Refused::NotAClientToken(_)))
    }

    #[test]
    fn clients_are_admitted_by_name_from_any_client_claim() {
        for claim in CLIENT_CLAIMS {
            let caller = policy()
                .authorize(&token(json!({ claim: "billing" })))
                .unwrap();
            assert_eq!(caller.client, "billing");
            assert!(!caller.may_administer_keys);
        }
    }

    #[test]
    fn roles_admit_from_entra_and_keycloak_claims() {
        let entra = token(json!({ "azp": "x", "roles": ["Callsign.Backend"] }));
        assert!(policy().authorize(&entra).is_ok());
        let keycloak = token(
            json!({ "azp": "y", "realm_access": { "roles": ["Callsign.Backend", "Callsign.Admin"] } }),
        );
        assert!(policy().authorize(&keycloak).unwrap().may_administer_keys);
    }

    #[test]
    fn anyone_else_is_not_allowed() {
        let stranger = token(json!({ "azp": "stranger", "roles": ["Reader"] }));
        assert_eq!(
            policy().authorize(&stranger),
            Err(Refused::NotAllowed {
                client: "stranger".into()
            })
        );
        // An admin role admits too.
        let admin_only = token(json!({ "azp": "z", "roles": ["Callsign.Admin"] }));
        assert!(policy().authorize(&admin_only).unwrap().may_administer_keys);
    }

    #[test]
    fn the_subject_names_the_client_only_when_configured() {
        // `sub-1` is an allowed client, but a token naming no client is not a client's token.
        assert!(not_a_client_token(policy().authorize(&token(json!({})))));
        // A token naming its client by `sub` alone bears no mark of a client's own token.
        let from_sub = BackendPolicy {
            client_id_from_sub: true,
            app_only: false,
            ..policy()
        };
        assert_eq!(
            from_sub.authorize(&token(json!({}))).unwrap().client,
            "sub-1"
        );
        // A client claim still wins over the subject.
        assert_eq!(
            from_sub
                .authorize(&token(json!({ "azp": "billing" })))
                .unwrap()
                .client,
            "billing"
        );
    }

    #[test]
    fn a_client_claim_that_is_not_a_string_is_refused_not_skipped() {
        let policy = BackendPolicy {
            client_id_from_sub: true,
            ..policy()
        };
        for claim in CLIENT_CLAIMS {
            // Another claim names an allowed client, and `sub` could: neither saves it.
            let other = if claim == "azp" { "appid" } else { "azp" };
            for odd in [
                json!(["billing"]),
                json!(7),
                json!(null),
                json!(""),
                json!({}),
            ] {
                let claims = json!({ claim: odd, other: "billing" });
                assert!(
                    not_a_client_token(policy.authorize(&token(claims))),
                    "{claim}: {odd}"
                );
            }
        }
    }

    #[test]
    fn client_claims_that_disagree_are_refused() {
        let two = token(json!({ "azp": "stranger", "appid": "billing" }));
        assert!(not_a_client_token(policy().authorize(&two)));
        let agreeing = token(json!({ "azp": "billing", "client_id": "billing" }));
        assert_eq!(policy().authorize(&agreeing).unwrap().client, "billing");
    }

    #[test]
    fn user_tokens_are_refused_when_app_only() {
        let users = [
            // Entra ID's delegated tokens.
            json!({ "azp": "billing", "scp": "user_impersonation" }),
            json!({ "azp": "billing", "roles": ["Callsign.Admin"], "scp": "" }),
            json!({ "azp": "billing", "idtyp": "user", "oid": "user-7" }),
            json!({ "azp": "billing", "idtyp": 1 }),
            // Keycloak's and Auth0's: no mark of a user, none of a client either; a user's own
            // realm role must not make it a backend.
            json!({ "azp": "billing", "scope": "openid", "sid": "s" }),
            json!({ "azp": "y", "realm_access": { "roles": ["Callsign.Admin"] } }),
            json!({ "azp": "billing", "gty": "password" }),
            json!({ "azp": "billing", "preferred_username": "service-account-other" }),
            // Even a client-credentials mark loses to `idtyp: user`.
            json!({ "azp": "user-7", "idtyp": "user" }),
        ];
        for claims in users {
            assert!(policy().app_only, "on by default");
            assert!(
                not_a_client_token(policy().authorize(&user_token(claims.clone()))),
                "{claims}"
            );
            let lenient = BackendPolicy {
                app_only: false,
                ..policy()
            };
            assert_eq!(
                lenient.authorize(&user_token(claims.clone())).is_ok(),
                claims["azp"] != "user-7",
                "{claims}"
            );
        }
    }

    #[test]
    fn client_credentials_tokens_are_recognised_by_their_marks() {
        let apps = [
            // Entra ID, with the optional claim, and without it (an app's sub is its oid).
            user_token(json!({ "azp": "billing", "idtyp": "app" })),
            with_subject("sp-1", json!({ "appid": "billing", "oid": "sp-1" })),
            // RFC 9068: the client is the subject, also with scopes (Okta: `cid`, `scp`).
            token(json!({ "client_id": "billing", "scope": "callsign" })),
            token(json!({ "cid": "billing", "scp": ["callsign"] })),
            // Auth0.
            user_token(json!({ "azp": "billing", "gty": "client-credentials" })),
            // Keycloak's service account.
            user_token(
                json!({ "azp": "billing", "preferred_username": "service-account-billing" }),
            ),
        ];
        for app in apps {
            assert_eq!(
                policy().authorize(&app).map(|caller| caller.client),
                Ok("billing".to_owned()),
                "{:?}",
                app.claims
            );
        }
    }
}
