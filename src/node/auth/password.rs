//! Password hashing with argon2id: PHC strings with a random salt from the OS CSPRNG.

use super::AuthError;
use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher as _, PasswordVerifier as _};
use argon2::{Algorithm, Argon2, Params, Version};

/// Argon2id cost parameters.
///
/// [`PasswordParams::OWASP`] (the default) follows the OWASP password storage
/// recommendation: 19 MiB of memory, 2 iterations, 1 lane. Use it for every real node.
/// [`PasswordParams::INSECURE_FAST_FOR_TESTS`] (8 KiB, 1 iteration) makes a hash take
/// microseconds, so tests that log in many times stay fast, especially in unoptimised
/// builds; it offers no protection against offline guessing and must never protect real
/// passwords.
///
/// The parameters used for a hash are recorded in its PHC string, and verification uses
/// those recorded ones: changing the parameters affects new hashes only.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PasswordParams {
    /// Memory cost in KiB (at least 8 × `parallelism`).
    pub memory_kib: u32,
    /// Number of passes over the memory (at least 1).
    pub iterations: u32,
    /// Degree of parallelism (lanes, at least 1).
    pub parallelism: u32,
}

impl PasswordParams {
    /// OWASP's recommended argon2id configuration: m = 19 MiB, t = 2, p = 1.
    pub const OWASP: Self = Self {
        memory_kib: 19 * 1024,
        iterations: 2,
        parallelism: 1,
    };

    /// The cheapest valid configuration (m = 8 KiB, t = 1, p = 1). **For tests only.**
    pub const INSECURE_FAST_FOR_TESTS: Self = Self {
        memory_kib: 8,
        iterations: 1,
        parallelism: 1,
    };
}

impl Default for PasswordParams {
    fn default() -> Self {
        Self::OWASP
    }
}

/// Hashes and verifies passwords.
///
/// ```
/// use privgrid::node::auth::{AuthError, PasswordParams, Passwords};
///
/// let passwords = Passwords::new(PasswordParams::INSECURE_FAST_FOR_TESTS)?;
/// let phc = passwords.hash("bob-secret")?;
/// assert!(phc.starts_with("$argon2id$"));
/// passwords.verify("bob-secret", &phc)?;
/// assert!(matches!(passwords.verify("guess", &phc), Err(AuthError::WrongPassword)));
/// # Ok::<(), privgrid::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct Passwords {
    argon2: Argon2<'static>,
    /// A hash of a random password with the configured parameters: verifying against it
    /// costs what verifying a real user's password costs.
    dummy_hash: String,
}

impl Passwords {
    /// A hasher with the given parameters. Computes one hash (the dummy used to equalise the
    /// cost of logins for unknown users).
    pub fn new(params: PasswordParams) -> Result<Self, AuthError> {
        let params = Params::new(
            params.memory_kib,
            params.iterations,
            params.parallelism,
            None,
        )
        .map_err(|e| AuthError::InvalidConfig(format!("argon2 parameters: {e}")))?;
        let argon2 = Argon2::new(Algorithm::Argon2id, Version::V0x13, params);
        let mut filler = [0u8; 16];
        super::fill_random(&mut filler)?;
        let dummy_hash = argon2
            .hash_password(&filler)
            .map_err(|e| AuthError::Hashing(e.to_string()))?
            .to_string();
        Ok(Self { argon2, dummy_hash })
    }

    /// The argon2id PHC string of `password` with a fresh 16-byte salt from the OS CSPRNG.
    pub fn hash(&self, password: &str) -> Result<String, AuthError> {
        Ok(self
            .argon2
            .hash_password(password.as_bytes())
            .map_err(|e| AuthError::Hashing(e.to_string()))?
            .to_string())
    }

    /// Checks `password` against a stored PHC string. The argon2 outputs are compared in
    /// constant time. [`AuthError::WrongPassword`] on mismatch;
    /// [`AuthError::BadPasswordHash`] if the string is not an argon2id PHC string.
    pub fn verify(&self, password: &str, phc: &str) -> Result<(), AuthError> {
        let parsed =
            PasswordHash::new(phc).map_err(|e| AuthError::BadPasswordHash(e.to_string()))?;
        if parsed.algorithm.as_str() != Algorithm::Argon2id.as_str() {
            return Err(AuthError::BadPasswordHash(format!(
                "algorithm {} is not argon2id",
                parsed.algorithm
            )));
        }
        match self.argon2.verify_password(password.as_bytes(), &parsed) {
            Ok(()) => Ok(()),
            Err(argon2::password_hash::Error::PasswordInvalid) => Err(AuthError::WrongPassword),
            Err(e) => Err(AuthError::BadPasswordHash(e.to_string())),
        }
    }

    /// Spends one verification against the dummy hash, so that a login for an unknown user
    /// takes as long as one with a wrong password.
    pub fn verify_dummy(&self, password: &str) {
        // The outcome is irrelevant (and almost surely a mismatch): only the cost matters.
        let _ = self.verify(password, &self.dummy_hash);
    }
}
