//! Which backend services may call with a bearer token from the organisation's identity
//! provider (instead of an access key), and which may administer keys. Authentication alone is
//! not enough: a verified token is admitted only if its client is allowed by name or it carries
//! an allowed role.
//!
//! Claims read: the client id from `azp` (OpenID Connect, Keycloak, Auth0), `appid` (Entra ID v1
//! tokens) or `client_id` (Okta, RFC 9068), the first present; roles from `roles` (Entra ID app
//! roles, RFC 9068) and `realm_access.roles` (Keycloak).

use serde_json::Value;

use super::oidc::BearerClaims;

/// The allow-lists, from configuration. An admin role admits as well.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BackendPolicy {
    /// Client ids admitted whatever their roles.
    pub clients: Vec<String>,
    /// Roles that admit a client.
    pub roles: Vec<String>,
    /// Roles that also allow key administration (`/keys`).
    pub admin_roles: Vec<String>,
}

/// A backend admitted by bearer token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackendCaller {
    /// Its client id (or, lacking one, its `sub`), for logs.
    pub client: String,
    pub may_administer_keys: bool,
}

/// Why a verified token is not admitted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("client '{client}' is neither an allowed client nor holds an allowed role")]
pub struct NotAllowed {
    pub client: String,
}

impl BackendPolicy {
    pub fn authorize(&self, token: &BearerClaims) -> Result<BackendCaller, NotAllowed> {
        let client = ["azp", "appid", "client_id"]
            .iter()
            .find_map(|name| token.claims.get(*name).and_then(Value::as_str))
            .unwrap_or(&token.subject)
            .to_owned();
        let roles = roles(token);
        let has = |allowed: &[String]| roles.iter().any(|role| allowed.iter().any(|a| a == role));
        let may_administer_keys = has(&self.admin_roles);
        let admitted = self.clients.contains(&client) || has(&self.roles) || may_administer_keys;
        if !admitted {
            return Err(NotAllowed { client });
        }
        Ok(BackendCaller {
            may_administer_keys,
            client,
        })
    }
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

    fn token(claims: Value) -> BearerClaims {
        BearerClaims {
            issuer: "https://idp.test".into(),
            subject: "sub-1".into(),
            claims: claims.as_object().unwrap().clone(),
        }
    }

    fn policy() -> BackendPolicy {
        BackendPolicy {
            clients: vec!["billing".into()],
            roles: vec!["Callsign.Backend".into()],
            admin_roles: vec!["Callsign.Admin".into()],
        }
    }

    #[test]
    fn clients_are_admitted_by_name_from_any_client_claim() {
        for claim in ["azp", "appid", "client_id"] {
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
            Err(NotAllowed {
                client: "stranger".into()
            })
        );
        // An admin role admits too.
        let admin_only = token(json!({ "azp": "z", "roles": ["Callsign.Admin"] }));
        assert!(policy().authorize(&admin_only).unwrap().may_administer_keys);
        // No client claim: the subject names it.
        assert_eq!(
            policy().authorize(&token(json!({}))).unwrap_err().client,
            "sub-1"
        );
    }
}
