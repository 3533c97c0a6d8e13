//! An organisation user: a person of an organisation's directory (Microsoft Entra ID, Keycloak,
//! Okta), named by the directory's object id. Their communication identity is
//! `8:orgid:<objectId>`, as on ACS, and comes into being when their provider's token is first
//! exchanged for one of Callsign's.
//!
//! The identity's stored id is the object id itself with its UUID version set to 8 (RFC 9562's
//! "custom" version). Directory object ids are random, version-4 GUIDs, and Callsign's own
//! identities are version-7 UUIDs, so the two never collide, the kind of an identity is read
//! off its id, and the object id is recovered without a lookup: revocation, deletion, events
//! and the audit trail handle organisation users like any identity.

use std::fmt;

use uuid::{Uuid, Variant};

/// What an organisation user's id must be, said once for every refusal.
pub const ORG_USER_ID_FORM: &str =
    "a directory object id: a random (version 4) GUID, as Microsoft Entra ID and Keycloak write";

/// The version an organisation user's identity id carries.
const ORG_VERSION: u8 = 8;
const RANDOM_VERSION: u8 = 4;

/// A directory object id: a version-4 GUID.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct OrgUserId(Uuid);

impl OrgUserId {
    /// Accepts a version-4 GUID in its hyphenated form, either case (directories differ).
    pub fn parse(raw: &str) -> Option<Self> {
        let uuid = Uuid::try_parse(raw).ok()?;
        let hyphenated = uuid.hyphenated().to_string();
        let canonical = raw.len() == hyphenated.len() && raw.eq_ignore_ascii_case(&hyphenated);
        (canonical && is_random(uuid)).then_some(OrgUserId(uuid))
    }

    /// The stored id of this user's identity.
    pub(super) fn identity_uuid(self) -> Uuid {
        with_version(self.0, ORG_VERSION)
    }

    /// The user whose identity has this stored id, if it is an organisation user's.
    pub(super) fn of_identity(uuid: Uuid) -> Option<Self> {
        (uuid.get_version_num() == usize::from(ORG_VERSION)
            && uuid.get_variant() == Variant::RFC4122)
            .then(|| OrgUserId(with_version(uuid, RANDOM_VERSION)))
    }
}

impl fmt::Display for OrgUserId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.hyphenated().fmt(f)
    }
}

fn is_random(uuid: Uuid) -> bool {
    uuid.get_version_num() == usize::from(RANDOM_VERSION) && uuid.get_variant() == Variant::RFC4122
}

/// `uuid` with its version nibble (the high half of byte 6) set to `version`.
fn with_version(uuid: Uuid, version: u8) -> Uuid {
    let mut bytes = uuid.into_bytes();
    bytes[6] = (bytes[6] & 0x0f) | (version << 4);
    Uuid::from_bytes(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_identity_id_gives_the_user_back() {
        for _ in 0..100 {
            let user = OrgUserId(Uuid::new_v4());
            let stored = user.identity_uuid();
            assert_eq!(stored.get_version_num(), 8);
            assert_eq!(OrgUserId::of_identity(stored), Some(user));
        }
    }

    #[test]
    fn callsigns_own_identities_are_not_org_users() {
        assert_eq!(OrgUserId::of_identity(Uuid::new_v4()), None);
    }

    #[test]
    fn only_random_guids_in_either_case_are_object_ids() {
        let id = "a1b2c3d4-e5f6-4a7b-8c9d-0e1f2a3b4c5d";
        assert!(OrgUserId::parse(id).is_some());
        assert_eq!(OrgUserId::parse(&id.to_uppercase()), OrgUserId::parse(id));
        for refused in [
            "",
            "a1b2c3d4e5f64a7b8c9d0e1f2a3b4c5d",
            "{a1b2c3d4-e5f6-4a7b-8c9d-0e1f2a3b4c5d}",
            // Version 1 and version 8: not a directory's random id.
            "a1b2c3d4-e5f6-1a7b-8c9d-0e1f2a3b4c5d",
            "a1b2c3d4-e5f6-8a7b-8c9d-0e1f2a3b4c5d",
            "00u1abcd2EFGH3ijk4l5",
        ] {
            assert_eq!(OrgUserId::parse(refused), None, "{refused}");
        }
    }
}
