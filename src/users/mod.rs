//! App users: the people of client apps, and the trusted-service use cases that act for them so
//! no client ever holds an access key. They sign in with a built-in account ([`accounts`],
//! argon2id, throttled) or a bearer token from the app's OpenID Connect provider
//! (`auth::oidc`); they hold identities through a mapping (1:1 by default, 1:N, N:1, N:M:
//! [`service`]); sign-ins get rotating refresh tokens with reuse detection ([`sessions`], by the rule in
//! [`refresh_rule`]);
//! guests get a fresh identity and a short-lived token ([`guests`]). Tokens for app users are
//! signed by the primary slot's valid signing key. Nothing here knows HTTP or SQL.

mod accounts;
mod credentials;
mod error;
mod guests;
mod hashing;
mod lockout;
mod my_sessions;
mod opaque_token;
mod operators;
mod password;
mod password_policy;
mod policy;
mod refresh_rule;
mod service;
mod sessions;
mod throttle;

pub use accounts::{Accounts, Password, Username};
pub use credentials::{Credentials, ResetToken};
pub use error::AppUserError;
pub use guests::Guests;
pub use password::Passwords;
pub use password_policy::PasswordPolicy;
pub use policy::{AppPolicy, GuestPolicy};
pub use service::{AppUser, AppUserStores, AppUsers};
pub use sessions::{RefreshToken, SessionTokens, Sessions};
pub use throttle::Throttle;
