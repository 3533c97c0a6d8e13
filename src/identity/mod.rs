//! Communication identities: the domain rules for creating, looking up, issuing tokens for,
//! revoking and deleting them. Nothing here knows HTTP or SQL.

mod external_id;
mod issue_log;
mod service;
#[cfg(test)]
mod tests;

pub use external_id::{ExternalId, ExternalIdError};
pub use issue_log::IssueLog;
pub use service::{
    COMMIT_WAIT, CreatedIdentity, Identities, Identity, IdentityError, IdentityStores,
};
