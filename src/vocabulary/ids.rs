//! Identifiers: communication identity ids (`8:acs:<resourceId>_<uuid>`, the raw id format the
//! ACS SDKs use, or `8:orgid:<objectId>` for an organisation user: see [`OrgUserId`]), app
//! users, refresh-token families, and the resource id of a deployment. Parsed once at the edge,
//! trusted inside; each its own type, so one cannot be passed for another.

use std::fmt;
use uuid::Uuid;

use super::org_user::OrgUserId;

const PREFIX: &str = "8:acs:";
const ORG_PREFIX: &str = "8:orgid:";

/// The resource this Callsign deployment serves; the first half of every identity id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResourceId(String);

impl ResourceId {
    /// Accepts ASCII letters, digits and `-` (ACS resource ids are GUIDs), 1 to 64 characters.
    pub fn parse(raw: &str) -> Result<Self, String> {
        let valid = !raw.is_empty()
            && raw.len() <= 64
            && raw.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
        if valid {
            Ok(ResourceId(raw.to_owned()))
        } else {
            Err(format!(
                "resource id '{raw}' must be 1 to 64 ASCII letters, digits or '-'"
            ))
        }
    }

    pub fn generate() -> Self {
        ResourceId(Uuid::new_v4().to_string())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ResourceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The local part of an identity id; the resource half is implied by the deployment.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(transparent)]
pub struct IdentityId(Uuid);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdentityIdError {
    #[error(
        "'{0}' is not a communication identity id; expected 8:acs:<resourceId>_<uuid> or \
         8:orgid:<objectId>"
    )]
    Malformed(String),
    #[error("identity '{0}' does not belong to this resource")]
    OtherResource(String),
}

impl IdentityId {
    /// A new identity's id: a version-7 UUID (RFC 9562), its creation time in milliseconds
    /// followed by random bits. New ids sort after the ones before, so the stores' indexes on
    /// them (and the audit trail's on its identity column) grow at one end instead of dirtying a
    /// page at random for each create. An id is a name, not a secret: every call that uses one
    /// is authenticated, and the time it carries is the identity's creation time.
    pub fn generate() -> Self {
        IdentityId(Uuid::now_v7())
    }

    pub fn from_uuid(uuid: Uuid) -> Self {
        IdentityId(uuid)
    }

    pub fn uuid(self) -> Uuid {
        self.0
    }

    /// The identity of an organisation user.
    pub fn of_org_user(user: OrgUserId) -> Self {
        IdentityId(user.identity_uuid())
    }

    /// The organisation user this identity is, if it is one.
    pub fn org_user(self) -> Option<OrgUserId> {
        OrgUserId::of_identity(self.0)
    }

    /// Parses a raw id and checks it belongs to `resource` (an organisation user's id belongs to
    /// every resource, as on ACS).
    pub fn parse(raw: &str, resource: &ResourceId) -> Result<Self, IdentityIdError> {
        let malformed = || IdentityIdError::Malformed(echo(raw));
        if let Some(object_id) = raw.strip_prefix(ORG_PREFIX) {
            // Lower-case only, so one identity has exactly one id.
            let user = OrgUserId::parse(object_id)
                .filter(|user| user.to_string() == object_id)
                .ok_or_else(malformed)?;
            return Ok(IdentityId::of_org_user(user));
        }
        let rest = raw.strip_prefix(PREFIX).ok_or_else(malformed)?;
        let (res, local) = rest.rsplit_once('_').ok_or_else(malformed)?;
        // Only the canonical hyphenated lowercase form, so one identity has exactly one id.
        let uuid = Uuid::try_parse(local).map_err(|_| malformed())?;
        if uuid.hyphenated().to_string() != local || OrgUserId::of_identity(uuid).is_some() {
            return Err(malformed());
        }
        if res != resource.as_str() {
            return Err(IdentityIdError::OtherResource(echo(raw)));
        }
        Ok(IdentityId(uuid))
    }

    /// The raw id clients see.
    pub fn to_raw(self, resource: &ResourceId) -> String {
        match self.org_user() {
            Some(user) => format!("{ORG_PREFIX}{user}"),
            None => format!("{PREFIX}{resource}_{}", self.0.hyphenated()),
        }
    }
}

/// An app user: a person of a client app, signed in with a built-in account or by the app's
/// OpenID Connect provider. Written as a hyphenated UUID.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(transparent)]
pub struct AppUserId(Uuid);

impl AppUserId {
    pub fn generate() -> Self {
        AppUserId(Uuid::new_v4())
    }

    pub fn from_uuid(uuid: Uuid) -> Self {
        AppUserId(uuid)
    }

    pub fn uuid(self) -> Uuid {
        self.0
    }

    /// Accepts only the hyphenated form Callsign writes.
    pub fn parse(raw: &str) -> Option<Self> {
        hyphenated_uuid(raw).map(AppUserId)
    }
}

impl fmt::Display for AppUserId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.hyphenated().fmt(f)
    }
}

/// A refresh-token family: one sign-in and every token rotated from it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FamilyId(Uuid);

impl FamilyId {
    pub fn generate() -> Self {
        FamilyId(Uuid::new_v4())
    }

    pub fn from_uuid(uuid: Uuid) -> Self {
        FamilyId(uuid)
    }

    pub fn uuid(self) -> Uuid {
        self.0
    }
}

impl FamilyId {
    /// Accepts only the hyphenated form Callsign writes (as a session id).
    pub fn parse(raw: &str) -> Option<Self> {
        hyphenated_uuid(raw).map(FamilyId)
    }
}

impl fmt::Display for FamilyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.hyphenated().fmt(f)
    }
}

/// A UUID written hyphenated (either case), the one form Callsign writes ids in.
fn hyphenated_uuid(raw: &str) -> Option<Uuid> {
    let uuid = Uuid::try_parse(raw).ok()?;
    (uuid.hyphenated().to_string() == raw.to_ascii_lowercase()).then_some(uuid)
}

/// The stored form of an id is its UUID (the store converts at its boundary).
macro_rules! stored_as_uuid {
    ($($id:ident),*) => {$(
        impl From<$id> for Uuid {
            fn from(id: $id) -> Uuid {
                id.0
            }
        }

        impl From<Uuid> for $id {
            fn from(uuid: Uuid) -> $id {
                $id(uuid)
            }
        }
    )*};
}

stored_as_uuid!(IdentityId, AppUserId, FamilyId);

fn echo(raw: &str) -> String {
    crate::text::echo(raw, 80)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resource() -> ResourceId {
        ResourceId::parse("6d0c2f3e-0000-4000-8000-000000000001").unwrap()
    }

    #[test]
    fn round_trips() {
        let id = IdentityId::generate();
        let raw = id.to_raw(&resource());
        assert!(raw.starts_with("8:acs:6d0c2f3e-0000-4000-8000-000000000001_"));
        assert_eq!(IdentityId::parse(&raw, &resource()), Ok(id));
    }

    #[test]
    fn organisation_users_round_trip_on_any_resource() {
        let object_id = "a1b2c3d4-e5f6-4a7b-8c9d-0e1f2a3b4c5d";
        let raw = format!("8:orgid:{object_id}");
        let id = IdentityId::parse(&raw, &resource()).unwrap();
        assert_eq!(id.org_user(), OrgUserId::parse(object_id));
        assert_eq!(id.to_raw(&resource()), raw);
        let other = ResourceId::parse("other").unwrap();
        assert_eq!(IdentityId::parse(&raw, &other), Ok(id));
        assert_eq!(IdentityId::generate().org_user(), None);
        // An organisation user is never reachable under an 8:acs: id.
        let disguised = format!("8:acs:{}_{}", resource(), id.uuid());
        assert!(IdentityId::parse(&disguised, &resource()).is_err());
    }

    #[test]
    fn other_resource_is_told_apart_from_garbage() {
        let raw = IdentityId::generate().to_raw(&ResourceId::parse("other").unwrap());
        assert!(matches!(
            IdentityId::parse(&raw, &resource()),
            Err(IdentityIdError::OtherResource(_))
        ));
    }

    #[test]
    fn garbage_is_malformed() {
        let uuid = Uuid::new_v4();
        for raw in [
            String::new(),
            "8:acs:".into(),
            format!("8:acs:{uuid}"),
            format!("8:spool:x_{uuid}"),
            format!("8:acs:{}_{}", resource(), uuid.simple()),
            format!(
                "8:acs:{}_{}",
                resource(),
                uuid.hyphenated().to_string().to_uppercase()
            ),
            "' OR 1=1 --".into(),
            "8:acs:x_\0".into(),
            "8:acs:ü_ß".into(),
            "8:orgid:".into(),
            "8:orgid:A1B2C3D4-E5F6-4A7B-8C9D-0E1F2A3B4C5D".into(),
            "8:orgid:a1b2c3d4-e5f6-1a7b-8c9d-0e1f2a3b4c5d".into(),
            format!("8:orgid:{}", uuid.simple()),
        ] {
            assert!(
                matches!(
                    IdentityId::parse(&raw, &resource()),
                    Err(IdentityIdError::Malformed(_))
                ),
                "{raw:?}"
            );
        }
    }

    #[test]
    fn resource_ids_are_restricted() {
        assert!(ResourceId::parse("abc-123").is_ok());
        assert!(ResourceId::parse("").is_err());
        assert!(ResourceId::parse("a_b").is_err());
        assert!(ResourceId::parse(&"a".repeat(65)).is_err());
    }
}
