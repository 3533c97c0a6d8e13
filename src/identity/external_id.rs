//! The caller's own id for an identity (`externalId`): creating with one is idempotent.

/// A validated external id: 1 to 256 characters, no control characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExternalId(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ExternalIdError {
    #[error("externalId must not be empty")]
    Empty,
    #[error("externalId must be at most {max} characters", max = ExternalId::MAX_CHARS)]
    TooLong,
    #[error("externalId must not contain control characters")]
    ControlCharacter,
}

impl ExternalId {
    pub const MAX_CHARS: usize = 256;

    pub fn parse(raw: &str) -> Result<Self, ExternalIdError> {
        if raw.is_empty() {
            Err(ExternalIdError::Empty)
        } else if raw.chars().count() > Self::MAX_CHARS {
            Err(ExternalIdError::TooLong)
        } else if raw.chars().any(char::is_control) {
            // Includes NUL, which PostgreSQL cannot store in TEXT.
            Err(ExternalIdError::ControlCharacter)
        } else {
            Ok(ExternalId(raw.to_owned()))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_emails_and_unicode() {
        assert!(ExternalId::parse("sally@contoso.com").is_ok());
        assert!(ExternalId::parse("Zoë 👋").is_ok());
        assert!(ExternalId::parse(&"é".repeat(256)).is_ok());
    }

    #[test]
    fn refuses_empty_long_and_control() {
        assert_eq!(ExternalId::parse(""), Err(ExternalIdError::Empty));
        assert_eq!(
            ExternalId::parse(&"a".repeat(257)),
            Err(ExternalIdError::TooLong)
        );
        assert_eq!(
            ExternalId::parse("a\0b"),
            Err(ExternalIdError::ControlCharacter)
        );
        assert_eq!(
            ExternalId::parse("a\nb"),
            Err(ExternalIdError::ControlCharacter)
        );
    }
}
