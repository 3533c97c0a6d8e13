//! The words every layer shares, on the ground floor: identifiers ([`IdentityId`],
//! [`OrgUserId`], [`AppUserId`], [`FamilyId`], [`ResourceId`]), the access-key [`KeySlot`], the
//! audit [`Action`], a [`Revocation`] fact and a [`Change`] every instance must learn of. The store
//! takes and returns these, never bare strings or UUIDs; nothing here knows of HTTP or SQL.

mod action;
mod change;
mod ids;
mod key_slot;
mod org_user;
mod revocation;
mod signal;

pub use action::Action;
pub use change::Change;
pub use ids::{AppUserId, FamilyId, IdentityId, IdentityIdError, ResourceId};
pub use key_slot::KeySlot;
pub use org_user::{ORG_USER_ID_FORM, OrgUserId};
pub use revocation::Revocation;
pub use signal::{EventKind, Signal, SignalSubject};
