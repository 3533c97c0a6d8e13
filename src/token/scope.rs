//! Token scopes: the closed set ACS defines, parsed once at the edge.

use std::fmt;

/// One permission a communication access token can carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Scope {
    Chat,
    Voip,
    ChatJoin,
    ChatJoinLimited,
    VoipJoin,
}

impl Scope {
    pub const ALL: [Scope; 5] = [
        Scope::Chat,
        Scope::Voip,
        Scope::ChatJoin,
        Scope::ChatJoinLimited,
        Scope::VoipJoin,
    ];

    /// The wire name, as ACS spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Chat => "chat",
            Scope::Voip => "voip",
            Scope::ChatJoin => "chat.join",
            Scope::ChatJoinLimited => "chat.join.limited",
            Scope::VoipJoin => "voip.join",
        }
    }

    /// Parses a wire name exactly (no case folding, no trimming: `"Chat"` and `" chat"` are unknown).
    pub fn parse(name: &str) -> Option<Scope> {
        Scope::ALL.into_iter().find(|scope| scope.as_str() == name)
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a list of scope names was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScopeError {
    #[error("at least one scope is required; valid scopes are {}", valid_scopes())]
    Empty,
    #[error("unknown scope '{name}'; valid scopes are {valid}", name = .0, valid = valid_scopes())]
    Unknown(String),
}

fn valid_scopes() -> String {
    Scope::ALL.map(Scope::as_str).join(", ")
}

/// A non-empty, de-duplicated set of scopes in canonical order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScopeSet(Vec<Scope>);

impl ScopeSet {
    /// Parses the names a client sent; duplicates collapse, order is canonical.
    pub fn parse<S: AsRef<str>>(names: &[S]) -> Result<Self, ScopeError> {
        let mut scopes = Vec::with_capacity(names.len());
        for name in names {
            let name = name.as_ref();
            let scope = Scope::parse(name)
                .ok_or_else(|| ScopeError::Unknown(crate::text::echo(name, 64)))?;
            scopes.push(scope);
        }
        scopes.sort_unstable();
        scopes.dedup();
        if scopes.is_empty() {
            return Err(ScopeError::Empty);
        }
        Ok(ScopeSet(scopes))
    }

    /// `chat` and `voip`: a full member of chats and calls, as an organisation user's
    /// exchanged token is.
    pub fn member() -> Self {
        ScopeSet(vec![Scope::Chat, Scope::Voip])
    }

    pub fn iter(&self) -> impl Iterator<Item = Scope> + '_ {
        self.0.iter().copied()
    }

    /// The names joined with `sep`, e.g. `chat,voip` for the ACS `acsScope` claim.
    pub fn join(&self, sep: &str) -> String {
        self.0
            .iter()
            .map(|s| s.as_str())
            .collect::<Vec<_>>()
            .join(sep)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_acs_scope_parses_and_round_trips() {
        for scope in Scope::ALL {
            assert_eq!(Scope::parse(scope.as_str()), Some(scope));
        }
    }

    #[test]
    fn set_is_deduplicated_and_canonically_ordered() {
        let set = ScopeSet::parse(&["voip", "chat", "voip"]).unwrap();
        assert_eq!(set.join(","), "chat,voip");
    }

    #[test]
    fn empty_set_is_refused() {
        assert_eq!(ScopeSet::parse::<&str>(&[]), Err(ScopeError::Empty));
    }

    #[test]
    fn unknown_and_lookalike_names_are_refused() {
        for bad in [
            "Chat",
            " chat",
            "chat ",
            "chat\u{200b}",
            "ｃhat",
            "",
            "admin",
            "chat,voip",
        ] {
            assert!(
                matches!(ScopeSet::parse(&[bad]), Err(ScopeError::Unknown(_))),
                "{bad:?} should be refused"
            );
        }
    }

    #[test]
    fn long_unknown_names_are_truncated_in_the_message() {
        let long = "x".repeat(10_000);
        let message = ScopeSet::parse(&[long]).unwrap_err().to_string();
        assert!(message.len() < 300, "{message}");
    }
}
