//! [`Sessions`]: the registry of live login tokens.
//!
//! A token is 32 random bytes from the OS CSPRNG, handed to the client as 64 hex digits.
//! The registry never holds a token itself, only its SHA-256 digest, split in two halves:
//! the first half (the *selector*) finds the entry in a hash map, the second half (the
//! *verifier*) is then compared in constant time. A memory dump of the registry therefore
//! yields no usable token, and lookup timing reveals nothing about the verifier.

use super::{AuthError, Clock, fill_random};
use crate::protocol::Role;
use sha2::{Digest, Sha256};
use std::collections::{BTreeSet, HashMap};
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, SystemTime};
use subtle::ConstantTimeEq;

/// The number of random bytes in a token (256 bits).
pub const TOKEN_BYTES: usize = 32;

type Selector = [u8; 16];
type Verifier = [u8; 16];

/// A freshly issued login token. Its `Debug` form hides the token.
#[derive(Clone)]
pub struct IssuedToken {
    token: String,
    /// The user the token was issued to.
    pub user: String,
    /// The user's role at login.
    pub role: Role,
    /// When the token stops being accepted.
    pub expires_at: SystemTime,
    /// How long the token is valid from its issue (the configured TTL).
    pub expires_in: Duration,
}

impl IssuedToken {
    /// The token, as 64 lowercase hex digits: the bearer credential to send with requests.
    pub fn token(&self) -> &str {
        &self.token
    }

    /// The token, consuming `self`.
    pub fn into_token(self) -> String {
        self.token
    }
}

impl fmt::Debug for IssuedToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IssuedToken")
            .field("token", &"<redacted>")
            .field("user", &self.user)
            .field("role", &self.role)
            .field("expires_at", &self.expires_at)
            .finish()
    }
}

/// Who a valid token belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    /// The user name.
    pub user: String,
    /// The user's role at login.
    pub role: Role,
    /// When the token stops being accepted.
    pub expires_at: SystemTime,
}

#[derive(Debug)]
struct Entry {
    verifier: Verifier,
    session: Session,
}

#[derive(Debug, Default)]
struct Inner {
    by_selector: HashMap<Selector, Entry>,
    /// The same entries ordered by expiry, for purging and eviction.
    by_expiry: BTreeSet<(SystemTime, Selector)>,
}

impl Inner {
    fn remove(&mut self, selector: &Selector) -> Option<Entry> {
        let entry = self.by_selector.remove(selector)?;
        self.by_expiry
            .remove(&(entry.session.expires_at, *selector));
        Some(entry)
    }

    fn purge_expired(&mut self, now: SystemTime) -> usize {
        let mut purged = 0;
        while let Some(&(expires_at, selector)) = self.by_expiry.first() {
            if expires_at > now {
                break;
            }
            self.remove(&selector);
            purged += 1;
        }
        purged
    }
}

/// The live sessions of a node: token → (user, role, expiry). Thread-safe and bounded.
///
/// Expired tokens are purged on every login, and may be purged explicitly with
/// [`purge_expired`](Self::purge_expired). When the registry is full after purging, issuing
/// a token evicts the session closest to expiry (its user must log in again).
///
/// ```
/// use privgrid::node::auth::{AuthError, ManualClock, Sessions};
/// use privgrid::protocol::Role;
/// use std::sync::Arc;
/// use std::time::{Duration, SystemTime};
///
/// let clock = ManualClock::new(SystemTime::UNIX_EPOCH);
/// let sessions = Sessions::new(Duration::from_secs(60), 1000, Arc::new(clock.clone()));
/// let issued = sessions.issue("alice", Role::Scientist)?;
/// assert_eq!(sessions.check(issued.token())?.user, "alice");
/// clock.advance(Duration::from_secs(61));
/// assert!(matches!(sessions.check(issued.token()), Err(AuthError::ExpiredToken)));
/// # Ok::<(), privgrid::Error>(())
/// ```
#[derive(Debug)]
pub struct Sessions {
    ttl: Duration,
    capacity: usize,
    clock: Arc<dyn Clock>,
    inner: Mutex<Inner>,
}

impl Sessions {
    /// A registry issuing tokens valid for `ttl`, holding at most `capacity` sessions
    /// (at least 1).
    pub fn new(ttl: Duration, capacity: usize, clock: Arc<dyn Clock>) -> Self {
        Self {
            ttl,
            capacity: capacity.max(1),
            clock,
            inner: Mutex::new(Inner::default()),
        }
    }

    /// How long issued tokens are valid.
    pub fn ttl(&self) -> Duration {
        self.ttl
    }

    // Each update of the two maps happens without any call that could panic in between,
    // so a poisoned lock still guards consistent maps.
    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Issues a new token for `user` acting as `role`.
    pub fn issue(&self, user: &str, role: Role) -> Result<IssuedToken, AuthError> {
        let mut secret = [0u8; TOKEN_BYTES];
        fill_random(&mut secret)?;
        let (selector, verifier) = split_digest(&secret);
        let now = self.clock.now();
        let expires_at = now.checked_add(self.ttl).ok_or_else(|| {
            AuthError::InvalidConfig(format!("token lifetime {:?} is too long", self.ttl))
        })?;
        let session = Session {
            user: user.to_owned(),
            role,
            expires_at,
        };
        let mut inner = self.lock();
        inner.purge_expired(now);
        while inner.by_selector.len() >= self.capacity {
            let Some(&(_, oldest)) = inner.by_expiry.first() else {
                break;
            };
            inner.remove(&oldest);
        }
        // A selector collision needs a 128-bit SHA-256 prefix collision; replace to be safe.
        inner.remove(&selector);
        inner.by_expiry.insert((expires_at, selector));
        inner
            .by_selector
            .insert(selector, Entry { verifier, session });
        drop(inner);
        Ok(IssuedToken {
            token: hex::encode(secret),
            user: user.to_owned(),
            role,
            expires_at,
            expires_in: self.ttl,
        })
    }

    /// The session a token belongs to. [`AuthError::InvalidToken`] for a malformed, forged,
    /// revoked or purged token; [`AuthError::ExpiredToken`] for one whose time is up (it is
    /// removed, so asking again gives `InvalidToken`).
    pub fn check(&self, token: &str) -> Result<Session, AuthError> {
        let (selector, verifier) = parse_token(token)?;
        let mut inner = self.lock();
        let entry = inner
            .by_selector
            .get(&selector)
            .ok_or(AuthError::InvalidToken)?;
        if !bool::from(entry.verifier.ct_eq(&verifier)) {
            return Err(AuthError::InvalidToken);
        }
        if self.clock.now() >= entry.session.expires_at {
            inner.remove(&selector);
            return Err(AuthError::ExpiredToken);
        }
        Ok(entry.session.clone())
    }

    /// Revokes a token (logout); `true` if it was live.
    pub fn revoke(&self, token: &str) -> bool {
        let Ok((selector, verifier)) = parse_token(token) else {
            return false;
        };
        let mut inner = self.lock();
        let matches = inner
            .by_selector
            .get(&selector)
            .is_some_and(|e| bool::from(e.verifier.ct_eq(&verifier)));
        matches && inner.remove(&selector).is_some()
    }

    /// Revokes every session of `user` (after a password or role change, or removal);
    /// returns how many there were.
    pub fn revoke_user(&self, user: &str) -> usize {
        let mut inner = self.lock();
        let doomed: Vec<Selector> = inner
            .by_selector
            .iter()
            .filter(|(_, e)| e.session.user == user)
            .map(|(s, _)| *s)
            .collect();
        for selector in &doomed {
            inner.remove(selector);
        }
        doomed.len()
    }

    /// Drops every expired session; returns how many there were.
    pub fn purge_expired(&self) -> usize {
        let now = self.clock.now();
        self.lock().purge_expired(now)
    }

    /// The number of sessions held (including expired ones not yet purged).
    pub fn len(&self) -> usize {
        self.lock().by_selector.len()
    }

    /// Whether no session is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

fn split_digest(secret: &[u8]) -> (Selector, Verifier) {
    let digest: [u8; 32] = Sha256::digest(secret).into();
    let mut selector = [0u8; 16];
    let mut verifier = [0u8; 16];
    selector.copy_from_slice(&digest[..16]);
    verifier.copy_from_slice(&digest[16..]);
    (selector, verifier)
}

fn parse_token(token: &str) -> Result<(Selector, Verifier), AuthError> {
    let mut secret = [0u8; TOKEN_BYTES];
    hex::decode_to_slice(token, &mut secret).map_err(|_| AuthError::InvalidToken)?;
    Ok(split_digest(&secret))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::node::auth::ManualClock;

    fn registry(ttl_secs: u64, capacity: usize) -> (Sessions, ManualClock) {
        let clock = ManualClock::new(SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000));
        let sessions = Sessions::new(
            Duration::from_secs(ttl_secs),
            capacity,
            Arc::new(clock.clone()),
        );
        (sessions, clock)
    }

    #[test]
    fn tokens_are_256_bit_hex_and_distinct() {
        let (sessions, _) = registry(60, 100);
        let a = sessions.issue("a", Role::Owner).unwrap();
        let b = sessions.issue("a", Role::Owner).unwrap();
        assert_eq!(a.token().len(), 64);
        assert!(a.token().bytes().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(a.token(), b.token());
        assert!(!format!("{a:?}").contains(a.token()));
    }

    #[test]
    fn registry_holds_digests_not_tokens() {
        let (sessions, _) = registry(60, 100);
        let issued = sessions.issue("alice", Role::Scientist).unwrap();
        let mut raw = [0u8; TOKEN_BYTES];
        hex::decode_to_slice(issued.token(), &mut raw).unwrap();
        let inner = sessions.lock();
        let dump = format!("{:?}", *inner);
        assert!(!dump.contains(issued.token()));
        for (selector, entry) in &inner.by_selector {
            assert_ne!(&selector[..], &raw[..16]);
            assert_ne!(&entry.verifier[..], &raw[16..]);
        }
    }

    #[test]
    fn forged_and_malformed_tokens_are_invalid() {
        let (sessions, _) = registry(60, 100);
        let issued = sessions.issue("alice", Role::Scientist).unwrap();
        let mut forged = issued.token().to_string().into_bytes();
        forged[63] = if forged[63] == b'0' { b'1' } else { b'0' };
        let forged = String::from_utf8(forged).unwrap();
        for bad in [
            forged.as_str(),
            "",
            "zz",
            &issued.token()[..62],
            &"0".repeat(64),
        ] {
            assert!(
                matches!(sessions.check(bad), Err(AuthError::InvalidToken)),
                "{bad}"
            );
        }
        assert!(sessions.check(issued.token()).is_ok());
    }

    #[test]
    fn expiry_is_exact_and_expired_tokens_are_removed() {
        let (sessions, clock) = registry(60, 100);
        let issued = sessions.issue("alice", Role::Scientist).unwrap();
        clock.advance(Duration::from_secs(59));
        assert!(sessions.check(issued.token()).is_ok());
        clock.advance(Duration::from_secs(1));
        assert!(matches!(
            sessions.check(issued.token()),
            Err(AuthError::ExpiredToken)
        ));
        assert!(matches!(
            sessions.check(issued.token()),
            Err(AuthError::InvalidToken)
        ));
        assert!(sessions.is_empty());
    }

    #[test]
    fn purge_and_revoke() {
        let (sessions, clock) = registry(60, 100);
        let old = sessions.issue("a", Role::Scientist).unwrap();
        clock.advance(Duration::from_secs(30));
        let young = sessions.issue("b", Role::Scientist).unwrap();
        let b2 = sessions.issue("b", Role::Scientist).unwrap();
        clock.advance(Duration::from_secs(31));
        assert_eq!(sessions.purge_expired(), 1);
        assert_eq!(sessions.len(), 2);
        assert!(sessions.revoke(young.token()));
        assert!(!sessions.revoke(young.token()));
        assert!(!sessions.revoke(old.token()));
        assert!(sessions.check(b2.token()).is_ok());
        assert_eq!(sessions.revoke_user("b"), 1);
        assert!(sessions.is_empty());
    }

    #[test]
    fn full_registry_evicts_the_session_closest_to_expiry() {
        let (sessions, clock) = registry(60, 3);
        let tokens: Vec<IssuedToken> = (0..3)
            .map(|i| {
                clock.advance(Duration::from_secs(1));
                sessions.issue(&format!("u{i}"), Role::Scientist).unwrap()
            })
            .collect();
        let newest = sessions.issue("u3", Role::Scientist).unwrap();
        assert_eq!(sessions.len(), 3);
        assert!(matches!(
            sessions.check(tokens[0].token()),
            Err(AuthError::InvalidToken)
        ));
        for t in tokens.iter().skip(1).chain([&newest]) {
            assert!(sessions.check(t.token()).is_ok());
        }
    }

    #[test]
    fn concurrent_issue_and_check_stay_bounded_and_consistent() {
        let (sessions, _) = registry(600, 64);
        std::thread::scope(|s| {
            for t in 0..4 {
                let sessions = &sessions;
                s.spawn(move || {
                    for i in 0..200 {
                        let user = format!("t{t}-{i}");
                        let issued = sessions.issue(&user, Role::Scientist).unwrap();
                        // Another thread may evict it; if present it must be ours.
                        if let Ok(session) = sessions.check(issued.token()) {
                            assert_eq!(session.user, user);
                        }
                    }
                });
            }
        });
        let inner = sessions.lock();
        assert!(inner.by_selector.len() <= 64);
        assert_eq!(inner.by_selector.len(), inner.by_expiry.len());
    }
}
