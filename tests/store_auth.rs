//! Users, passwords and tokens over both stores: login outcomes, expiry with an injected
//! clock, revocation on user changes, persistence of users, and the timing of unknown users.

use privgrid::node::auth::{AuthConfig, AuthError, Authenticator, ManualClock, PasswordParams};
use privgrid::node::store::{MemoryStore, SqliteStore, Store};
use privgrid::protocol::Role;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

fn authenticator(store: Arc<dyn Store>) -> (Authenticator, ManualClock) {
    let clock = ManualClock::new(SystemTime::UNIX_EPOCH + Duration::from_secs(1 << 30));
    let config = AuthConfig {
        token_ttl: Duration::from_secs(600),
        ..AuthConfig::insecure_fast_for_tests()
    };
    let auth = Authenticator::with_clock(store, config, Arc::new(clock.clone())).unwrap();
    (auth, clock)
}

fn login_flow(store: Arc<dyn Store>) {
    let (auth, clock) = authenticator(store.clone());
    auth.add_user("bob", "bob-secret", Role::Owner).unwrap();
    auth.add_user("alice", "alice-secret", Role::Scientist)
        .unwrap();

    // The store holds a salted argon2id hash, not the password.
    let stored = store.get_user("alice").unwrap().unwrap();
    assert!(stored.password_hash.starts_with("$argon2id$"));
    assert!(!stored.password_hash.contains("alice-secret"));
    auth.add_user("carl", "alice-secret", Role::Scientist)
        .unwrap();
    let carl = store.get_user("carl").unwrap().unwrap();
    assert_ne!(carl.password_hash, stored.password_hash, "salts differ");

    let issued = auth.login("alice", "alice-secret").unwrap();
    assert_eq!(issued.role, Role::Scientist);
    assert_eq!(issued.expires_in, Duration::from_secs(600));
    let session = auth.authenticate(issued.token()).unwrap();
    assert_eq!(
        (session.user.as_str(), session.role),
        ("alice", Role::Scientist)
    );
    assert_eq!(
        auth.authenticate(auth.login("bob", "bob-secret").unwrap().token())
            .unwrap()
            .role,
        Role::Owner
    );

    let unknown = auth.login("mallory", "alice-secret").unwrap_err();
    let wrong = auth.login("alice", "bob-secret").unwrap_err();
    assert!(matches!(unknown, AuthError::UnknownUser), "{unknown:?}");
    assert!(matches!(wrong, AuthError::WrongPassword), "{wrong:?}");
    assert_eq!(unknown.to_string(), "invalid user name or password");
    assert_eq!(unknown.to_string(), wrong.to_string());
    assert!(unknown.is_bad_credentials() && wrong.is_bad_credentials());
    assert!(matches!(
        auth.login("alice", "").unwrap_err(),
        AuthError::WrongPassword
    ));
    assert!(matches!(
        auth.login("Alice", "alice-secret").unwrap_err(),
        AuthError::UnknownUser
    ));

    // Expiry follows the injected clock.
    clock.advance(Duration::from_secs(599));
    assert!(auth.authenticate(issued.token()).is_ok());
    clock.advance(Duration::from_secs(1));
    assert!(matches!(
        auth.authenticate(issued.token()),
        Err(AuthError::ExpiredToken)
    ));
    assert!(matches!(
        auth.authenticate("not a token"),
        Err(AuthError::InvalidToken)
    ));

    // Logout, password change and removal each end sessions.
    let t1 = auth.login("alice", "alice-secret").unwrap();
    assert!(auth.logout(t1.token()));
    assert!(matches!(
        auth.authenticate(t1.token()),
        Err(AuthError::InvalidToken)
    ));
    let t2 = auth.login("alice", "alice-secret").unwrap();
    auth.add_user("alice", "new-secret", Role::Owner).unwrap();
    assert!(matches!(
        auth.authenticate(t2.token()),
        Err(AuthError::InvalidToken)
    ));
    assert!(matches!(
        auth.login("alice", "alice-secret").unwrap_err(),
        AuthError::WrongPassword
    ));
    let t3 = auth.login("alice", "new-secret").unwrap();
    assert_eq!(t3.role, Role::Owner);
    assert!(auth.remove_user("alice").unwrap());
    assert!(!auth.remove_user("alice").unwrap());
    assert!(matches!(
        auth.authenticate(t3.token()),
        Err(AuthError::InvalidToken)
    ));
    assert!(matches!(
        auth.login("alice", "new-secret").unwrap_err(),
        AuthError::UnknownUser
    ));

    assert!(matches!(
        auth.add_user("dora", "", Role::Scientist),
        Err(AuthError::UnacceptablePassword(_))
    ));
    assert!(matches!(
        auth.add_user("", "x", Role::Scientist),
        Err(AuthError::Store(_))
    ));
}

#[test]
fn login_flow_over_the_memory_store() {
    login_flow(Arc::new(MemoryStore::new()));
}

#[test]
fn login_flow_over_the_sqlite_store() {
    login_flow(Arc::new(SqliteStore::open_in_memory().unwrap()));
}

#[test]
fn users_persist_and_tokens_do_not() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("node.db");
    let token = {
        let (auth, _) = authenticator(Arc::new(SqliteStore::open(&path).unwrap()));
        auth.add_user("bob", "bob-secret", Role::Owner).unwrap();
        auth.login("bob", "bob-secret").unwrap().into_token()
    };
    let (auth, _) = authenticator(Arc::new(SqliteStore::open(&path).unwrap()));
    assert!(matches!(
        auth.authenticate(&token),
        Err(AuthError::InvalidToken)
    ));
    assert_eq!(auth.login("bob", "bob-secret").unwrap().role, Role::Owner);
}

#[test]
fn a_tampered_hash_is_a_typed_error_not_a_login() {
    let store = Arc::new(MemoryStore::new());
    let (auth, _) = authenticator(store.clone());
    auth.add_user("bob", "bob-secret", Role::Owner).unwrap();
    let mut bob = store.get_user("bob").unwrap().unwrap();
    bob.password_hash = bob.password_hash.replace("argon2id", "argon2d");
    store.put_user(bob.clone()).unwrap();
    assert!(matches!(
        auth.login("bob", "bob-secret"),
        Err(AuthError::BadPasswordHash(_))
    ));
    bob.password_hash = "plaintext".into();
    store.put_user(bob).unwrap();
    assert!(matches!(
        auth.login("bob", "plaintext"),
        Err(AuthError::BadPasswordHash(_))
    ));
}

/// An unknown user must cost an argon2 verification too. With parameters expensive enough
/// that hashing dominates (4 MiB), the fastest unknown-user login must take at least a third of
/// the fastest wrong-password login; without the dummy verification it would be ~1000x faster.
#[test]
fn unknown_users_cost_an_argon2_verification() {
    let config = AuthConfig {
        password: PasswordParams {
            memory_kib: 4096,
            iterations: 1,
            parallelism: 1,
        },
        ..AuthConfig::default()
    };
    let auth = Authenticator::new(Arc::new(MemoryStore::new()), config).unwrap();
    auth.add_user("alice", "alice-secret", Role::Scientist)
        .unwrap();
    let fastest = |user: &str| {
        (0..3)
            .map(|_| {
                let start = Instant::now();
                assert!(auth.login(user, "guess").unwrap_err().is_bad_credentials());
                start.elapsed()
            })
            .min()
            .unwrap()
    };
    let wrong = fastest("alice");
    let unknown = fastest("mallory");
    assert!(
        unknown * 3 >= wrong,
        "unknown user {unknown:?} vs wrong password {wrong:?}"
    );
}
