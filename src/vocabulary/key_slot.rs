//! The two access keys of a deployment, as ACS has them: primary and secondary.

use std::fmt;

/// Which of the two access keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum KeySlot {
    Primary,
    Secondary,
}

impl KeySlot {
    pub const BOTH: [KeySlot; 2] = [KeySlot::Primary, KeySlot::Secondary];

    pub fn as_str(self) -> &'static str {
        match self {
            KeySlot::Primary => "primary",
            KeySlot::Secondary => "secondary",
        }
    }

    /// Case-insensitive, as ARM's `keyType` (`Primary`, `Secondary`).
    pub fn parse(name: &str) -> Option<KeySlot> {
        KeySlot::BOTH
            .into_iter()
            .find(|slot| slot.as_str().eq_ignore_ascii_case(name))
    }
}

impl fmt::Display for KeySlot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
