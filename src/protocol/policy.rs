//! Roles and access policies: who may read the raw values of a stored object.
//!
//! A node knows two [`Role`]s. Owners administer the node (publish, manage users and
//! policies) and may read everything; scientists may read raw values only where an object's
//! [`AccessPolicy`] allows them. An object computed from others gets
//! [`AccessPolicy::strictest`] of its inputs' policies, so deriving a value never widens who
//! may see it.

use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;
use std::fmt;
use std::str::FromStr;

/// What a user may do on a node.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Role {
    /// A data owner and administrator: publishes data, manages users and policies, and may
    /// read every object.
    Owner,
    /// A data scientist: computes on data and reads raw values only where a policy allows.
    Scientist,
}

impl Role {
    /// The lowercase name used in configuration files, the CLI and the SQLite store:
    /// `"owner"` or `"scientist"`.
    ///
    /// ```
    /// use privgrid::protocol::Role;
    /// assert_eq!(Role::Owner.as_str(), "owner");
    /// assert_eq!("scientist".parse::<Role>(), Ok(Role::Scientist));
    /// ```
    pub const fn as_str(self) -> &'static str {
        match self {
            Role::Owner => "owner",
            Role::Scientist => "scientist",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A string that names no [`Role`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown role {0:?} (expected \"owner\" or \"scientist\")")]
pub struct UnknownRole(pub String);

impl FromStr for Role {
    type Err = UnknownRole;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "owner" => Ok(Role::Owner),
            "scientist" => Ok(Role::Scientist),
            other => Err(UnknownRole(other.chars().take(40).collect())),
        }
    }
}

/// Who may read the raw values of an object.
///
/// Owners may always read. A derived object gets the [`strictest`](Self::strictest) policy of
/// its inputs.
///
/// ```
/// use privgrid::protocol::{AccessPolicy, Role};
///
/// let births = AccessPolicy::private(["bob", "ana", "alice"]);
/// let census = AccessPolicy::private(["alice", "carl"]);
/// let derived = AccessPolicy::strictest(&births, &census);
/// assert!(derived.allows("alice", Role::Scientist));
/// assert!(!derived.allows("ana", Role::Scientist));
/// assert!(derived.allows("bob", Role::Owner)); // owners always may
/// assert_eq!(AccessPolicy::strictest(&AccessPolicy::Public, &census), census);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum AccessPolicy {
    /// Every logged-in user may read the raw values.
    Public,
    /// Only the listed users (and owners) may read the raw values.
    Private {
        /// The user names allowed to read.
        allowed: BTreeSet<String>,
    },
}

impl AccessPolicy {
    /// A private policy allowing exactly the given users (plus owners).
    pub fn private<I, S>(users: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        AccessPolicy::Private {
            allowed: users.into_iter().map(Into::into).collect(),
        }
    }

    /// Whether `user`, acting with `role`, may read raw values under this policy.
    pub fn allows(&self, user: &str, role: Role) -> bool {
        match (role, self) {
            (Role::Owner, _) | (_, AccessPolicy::Public) => true,
            (Role::Scientist, AccessPolicy::Private { allowed }) => allowed.contains(user),
        }
    }

    /// The policy of an object derived from objects under `a` and `b`: a user is allowed only
    /// if both allow them. [`Public`](Self::Public) is the least strict policy (the identity).
    pub fn strictest(a: &AccessPolicy, b: &AccessPolicy) -> AccessPolicy {
        match (a, b) {
            (AccessPolicy::Public, other) | (other, AccessPolicy::Public) => other.clone(),
            (AccessPolicy::Private { allowed: x }, AccessPolicy::Private { allowed: y }) => {
                AccessPolicy::Private {
                    allowed: x.intersection(y).cloned().collect(),
                }
            }
        }
    }

    /// The strictest policy of any number of inputs; [`Public`](Self::Public) for none.
    pub fn strictest_of<'a, I>(policies: I) -> AccessPolicy
    where
        I: IntoIterator<Item = &'a AccessPolicy>,
    {
        policies
            .into_iter()
            .fold(AccessPolicy::Public, |acc, p| Self::strictest(&acc, p))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const NAMES: [&str; 5] = ["ana", "bob", "alice", "carl", "dora"];

    fn policy() -> impl Strategy<Value = AccessPolicy> {
        prop_oneof![
            Just(AccessPolicy::Public),
            prop::collection::btree_set(prop::sample::select(&NAMES[..]), 0..=5)
                .prop_map(AccessPolicy::private),
        ]
    }

    #[test]
    fn owners_always_allowed_scientists_only_when_listed() {
        let p = AccessPolicy::private(["alice"]);
        assert!(p.allows("alice", Role::Scientist));
        assert!(!p.allows("mallory", Role::Scientist));
        assert!(p.allows("mallory", Role::Owner));
        assert!(AccessPolicy::private::<[&str; 0], &str>([]).allows("bob", Role::Owner));
        assert!(AccessPolicy::Public.allows("anyone", Role::Scientist));
    }

    #[test]
    fn strictest_of_none_is_public_and_of_one_is_itself() {
        assert_eq!(AccessPolicy::strictest_of([]), AccessPolicy::Public);
        let p = AccessPolicy::private(["ana"]);
        assert_eq!(AccessPolicy::strictest_of([&p]), p);
    }

    #[test]
    fn role_names_round_trip_and_reject_others() {
        for role in [Role::Owner, Role::Scientist] {
            assert_eq!(role.as_str().parse::<Role>(), Ok(role));
            assert_eq!(role.to_string(), role.as_str());
        }
        assert!("Owner".parse::<Role>().is_err());
        assert!("".parse::<Role>().is_err());
    }

    #[test]
    fn policies_survive_serde() {
        let p = AccessPolicy::private(["ana", "bob"]);
        let bytes = crate::tensor::wire::encode(&p);
        let back: AccessPolicy =
            crate::tensor::wire::decode_exact(&bytes, &Default::default()).unwrap();
        assert_eq!(back, p);
    }

    proptest! {
        #[test]
        fn strictest_is_commutative(a in policy(), b in policy()) {
            prop_assert_eq!(AccessPolicy::strictest(&a, &b), AccessPolicy::strictest(&b, &a));
        }

        #[test]
        fn strictest_is_associative(a in policy(), b in policy(), c in policy()) {
            let left = AccessPolicy::strictest(&AccessPolicy::strictest(&a, &b), &c);
            let right = AccessPolicy::strictest(&a, &AccessPolicy::strictest(&b, &c));
            prop_assert_eq!(left, right);
        }

        #[test]
        fn strictest_allows_exactly_who_both_allow(a in policy(), b in policy()) {
            let s = AccessPolicy::strictest(&a, &b);
            for name in NAMES.iter().chain(["stranger"].iter()) {
                for role in [Role::Owner, Role::Scientist] {
                    let both = a.allows(name, role) && b.allows(name, role);
                    prop_assert_eq!(s.allows(name, role), both, "{} {:?}", name, role);
                }
            }
        }
    }
}
