//! Identity on a node: password hashing, login, and the registry of live tokens.
//!
//! - Passwords are kept only as argon2id PHC strings ([`Passwords`]), salted from the OS
//!   CSPRNG; the cost is [`PasswordParams::OWASP`] unless a test opts into
//!   [`PasswordParams::INSECURE_FAST_FOR_TESTS`].
//! - A login returns a random 256-bit token ([`IssuedToken`]) valid for a configurable time;
//!   the node keeps only its SHA-256 digest ([`Sessions`]) and compares in constant time.
//! - Failures are typed ([`AuthError`]): an unknown user and a wrong password are distinct
//!   variants with the same message, and both cost one argon2 verification.
//!
//! [`Authenticator`] ties these to the users of a [`Store`].
//!
//! ```
//! use privgrid::node::auth::{AuthConfig, AuthError, Authenticator};
//! use privgrid::protocol::Role;
//! use privgrid::node::store::MemoryStore;
//! use std::sync::Arc;
//!
//! let auth = Authenticator::new(Arc::new(MemoryStore::new()), AuthConfig::insecure_fast_for_tests())?;
//! auth.add_user("alice", "alice-secret", Role::Scientist)?;
//! let issued = auth.login("alice", "alice-secret")?;
//! assert_eq!(auth.authenticate(issued.token())?.user, "alice");
//!
//! let unknown = auth.login("mallory", "x").unwrap_err();
//! let wrong = auth.login("alice", "x").unwrap_err();
//! assert!(matches!(unknown, AuthError::UnknownUser));
//! assert!(matches!(wrong, AuthError::WrongPassword));
//! assert_eq!(unknown.to_string(), wrong.to_string());
//! # Ok::<(), privgrid::Error>(())
//! ```

mod clock;
mod password;
mod sessions;

pub use clock::{Clock, ManualClock, SystemClock};
pub use password::{PasswordParams, Passwords};
pub use sessions::{IssuedToken, Session, Sessions, TOKEN_BYTES};

use crate::node::store::{Store, StoreError, UserRecord, validate_user_name};
use crate::protocol::Role;
use rand::TryRngCore;
use std::sync::Arc;
use std::time::Duration;

/// Why authentication failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AuthError {
    /// No user has this name. Says the same as [`WrongPassword`](Self::WrongPassword).
    #[error("invalid user name or password")]
    UnknownUser,
    /// The password does not match. Says the same as [`UnknownUser`](Self::UnknownUser).
    #[error("invalid user name or password")]
    WrongPassword,
    /// The token is malformed, forged, revoked or unknown.
    #[error("invalid token")]
    InvalidToken,
    /// The token was valid but its lifetime is over.
    #[error("token expired; log in again")]
    ExpiredToken,
    /// A new password was refused (e.g. empty).
    #[error("unacceptable password: {0}")]
    UnacceptablePassword(&'static str),
    /// A stored password hash is not a usable argon2id PHC string. An internal fault: a node
    /// should log it and tell the client only that login failed.
    #[error("stored password hash is unusable: {0}")]
    BadPasswordHash(String),
    /// Hashing failed.
    #[error("password hashing failed: {0}")]
    Hashing(String),
    /// The OS random number generator failed.
    #[error("OS random number generator failed: {0}")]
    Random(String),
    /// The configuration is unusable (e.g. argon2 parameters out of range).
    #[error("invalid authentication configuration: {0}")]
    InvalidConfig(String),
    /// The user store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl AuthError {
    /// `true` for the two failures that must look the same to the caller: unknown user and
    /// wrong password.
    pub fn is_bad_credentials(&self) -> bool {
        matches!(self, AuthError::UnknownUser | AuthError::WrongPassword)
    }
}

/// How a node authenticates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthConfig {
    /// How long a login token is valid. Default: 1 hour.
    pub token_ttl: Duration,
    /// The most sessions held at once; past it the session closest to expiry is evicted.
    /// Default: 65,536.
    pub max_sessions: usize,
    /// Argon2id cost for new password hashes. Default: [`PasswordParams::OWASP`].
    pub password: PasswordParams,
}

impl Default for AuthConfig {
    fn default() -> Self {
        Self {
            token_ttl: Duration::from_secs(3600),
            max_sessions: 1 << 16,
            password: PasswordParams::OWASP,
        }
    }
}

impl AuthConfig {
    /// The default configuration with [`PasswordParams::INSECURE_FAST_FOR_TESTS`]: logins take
    /// microseconds instead of tens of milliseconds (seconds in debug builds). **Never for
    /// real passwords.**
    pub fn insecure_fast_for_tests() -> Self {
        Self {
            password: PasswordParams::INSECURE_FAST_FOR_TESTS,
            ..Self::default()
        }
    }
}

/// Users, passwords and sessions of one node, over a [`Store`].
#[derive(Debug)]
pub struct Authenticator {
    store: Arc<dyn Store>,
    passwords: Passwords,
    sessions: Sessions,
}

impl Authenticator {
    /// An authenticator over the users of `store`, using the system clock.
    pub fn new(store: Arc<dyn Store>, config: AuthConfig) -> Result<Self, AuthError> {
        Self::with_clock(store, config, Arc::new(SystemClock))
    }

    /// An authenticator whose token expiry follows `clock` (a [`ManualClock`] in tests).
    pub fn with_clock(
        store: Arc<dyn Store>,
        config: AuthConfig,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, AuthError> {
        Ok(Self {
            store,
            passwords: Passwords::new(config.password)?,
            sessions: Sessions::new(config.token_ttl, config.max_sessions, clock),
        })
    }

    /// Adds a user, or replaces one of the same name (new password and role). Sessions of a
    /// replaced user are revoked.
    pub fn add_user(&self, name: &str, password: &str, role: Role) -> Result<(), AuthError> {
        validate_user_name(name)?;
        if password.is_empty() {
            return Err(AuthError::UnacceptablePassword("the password is empty"));
        }
        let password_hash = self.passwords.hash(password)?;
        self.store.put_user(UserRecord {
            name: name.to_owned(),
            role,
            password_hash,
        })?;
        self.sessions.revoke_user(name);
        Ok(())
    }

    /// Removes a user and revokes their sessions; `true` if the user existed.
    pub fn remove_user(&self, name: &str) -> Result<bool, AuthError> {
        let existed = self.store.delete_user(name)?;
        self.sessions.revoke_user(name);
        Ok(existed)
    }

    /// Checks a user name and password and issues a token.
    ///
    /// [`AuthError::UnknownUser`] and [`AuthError::WrongPassword`] print the same message, and
    /// an unknown user still costs one argon2 verification (against a dummy hash), so neither
    /// the message nor the time tells a caller which of the two was wrong.
    pub fn login(&self, name: &str, password: &str) -> Result<IssuedToken, AuthError> {
        let Some(user) = self.store.get_user(name)? else {
            self.passwords.verify_dummy(password);
            return Err(AuthError::UnknownUser);
        };
        self.passwords.verify(password, &user.password_hash)?;
        self.sessions.issue(&user.name, user.role)
    }

    /// The session of a bearer token (see [`Sessions::check`]).
    pub fn authenticate(&self, token: &str) -> Result<Session, AuthError> {
        self.sessions.check(token)
    }

    /// Revokes a token; `true` if it was live.
    pub fn logout(&self, token: &str) -> bool {
        self.sessions.revoke(token)
    }

    /// The session registry.
    pub fn sessions(&self) -> &Sessions {
        &self.sessions
    }

    /// The password hasher (e.g. for a CLI that writes users straight into a store).
    pub fn passwords(&self) -> &Passwords {
        &self.passwords
    }

    /// The store holding the users.
    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }
}

/// Fills `buf` from the operating system's CSPRNG.
fn fill_random(buf: &mut [u8]) -> Result<(), AuthError> {
    rand::rngs::OsRng
        .try_fill_bytes(buf)
        .map_err(|e| AuthError::Random(e.to_string()))
}
