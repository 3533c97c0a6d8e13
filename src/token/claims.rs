//! The claims of a Callsign access token.

use serde::{Deserialize, Serialize};

/// JWT claims. The ACS-specific ones (`skypeid`, `acsScope`, `resourceId`) carry the same
/// meaning as in tokens ACS issues; `iatMs` is the issue instant in milliseconds, which
/// revocation cut-offs are compared with.
///
/// Every value is plain ASCII without `>`, `?` or `~`, so the base64url payload never contains
/// `-` or `_`: the Python SDK decodes the payload with the *standard* base64 alphabet, which would
/// silently drop those two characters and corrupt the JSON.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    pub iss: String,
    pub aud: String,
    /// The identity, `8:acs:<resourceId>_<uuid>` (or `8:orgid:<objectId>`).
    pub sub: String,
    /// The identity without its `8:` prefix, as ACS tokens carry it.
    pub skypeid: String,
    /// Scopes joined with `,`, as ACS tokens carry them.
    #[serde(rename = "acsScope")]
    pub acs_scope: String,
    #[serde(rename = "resourceId")]
    pub resource_id: String,
    pub iat: i64,
    #[serde(rename = "iatMs")]
    pub iat_ms: i64,
    pub nbf: i64,
    pub exp: i64,
    pub jti: String,
}
