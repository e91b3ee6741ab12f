//! Pseudorandom generators for shares, masks and dealer seeds.
//!
//! Every random ring element in the SMPC layer comes from a [`Prg`]: a seed drawn from the
//! operating system (through ChaCha12 seeded by `OsRng`), expanded by a cryptographic stream
//! cipher. Two expansions are available and the bench `benches/smpc.rs` measures both:
//!
//! - [`PrgKind::AesCtr`]: AES-128 in counter mode ([`AesCtr`]: VAES on AVX-512 CPUs, otherwise
//!   the RustCrypto `aes` cipher with AES-NI, chosen at run time);
//! - [`PrgKind::ChaCha12`]: ChaCha with 12 rounds (`rand_chacha`, SIMD in software).
//!
//! The default ([`PrgKind::DEFAULT`]) is AES-CTR, chosen by that measurement. Each purpose gets
//! its own stream: a seed plus a 64-bit stream number select disjoint keystreams (the stream
//! number is half of every AES counter block; ChaCha has a native stream parameter), so the
//! dealer's triple components, truncation masks and comparison bits never share keystream.

use super::aes_ctr::AesCtr;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha12Rng;

/// A 256-bit PRG seed.
pub type Seed = [u8; 32];

/// Which stream cipher expands seeds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum PrgKind {
    /// AES-128-CTR (hardware AES when available).
    AesCtr,
    /// ChaCha12.
    ChaCha12,
}

impl PrgKind {
    /// The expansion used by the dealer and by sharing, chosen by measurement.
    pub const DEFAULT: PrgKind = PrgKind::AesCtr;
}

/// A fresh seed from the operating system's entropy.
pub fn os_seed() -> Seed {
    let mut rng = ChaCha12Rng::from_os_rng();
    rng.random()
}

enum Engine {
    Aes(Box<AesCtr>),
    ChaCha(Box<ChaCha12Rng>),
}

/// A deterministic cryptographic generator of ring elements from a seed and a stream number.
///
/// ```
/// use privgrid::smpc::prg::{Prg, PrgKind};
///
/// let seed = [7u8; 32];
/// let a = Prg::new(PrgKind::AesCtr, &seed, 1).words(4);
/// let b = Prg::new(PrgKind::AesCtr, &seed, 1).words(4);
/// let c = Prg::new(PrgKind::AesCtr, &seed, 2).words(4);
/// assert_eq!(a, b);
/// assert_ne!(a, c);
/// ```
pub struct Prg {
    engine: Engine,
}

impl Prg {
    /// A generator for `stream` under `seed`.
    pub fn new(kind: PrgKind, seed: &Seed, stream: u64) -> Self {
        let engine = match kind {
            PrgKind::AesCtr => {
                let mut key = [0u8; 16];
                key.copy_from_slice(&seed[..16]);
                Engine::Aes(Box::new(AesCtr::new(key, stream)))
            }
            PrgKind::ChaCha12 => {
                let mut rng = ChaCha12Rng::from_seed(*seed);
                rng.set_stream(stream);
                Engine::ChaCha(Box::new(rng))
            }
        };
        Self { engine }
    }

    /// A generator with a fresh seed from the operating system.
    pub fn from_os(kind: PrgKind, stream: u64) -> Self {
        Self::new(kind, &os_seed(), stream)
    }

    /// Overwrites `out` with pseudorandom words.
    pub fn fill(&mut self, out: &mut [u64]) {
        match &mut self.engine {
            Engine::Aes(c) => c.fill(out),
            Engine::ChaCha(r) => r.fill(bytemuck::cast_slice_mut::<u64, u8>(out)),
        }
    }

    /// `len` pseudorandom words.
    ///
    /// Built from a small cached buffer rather than by clearing a large vector first: a reused
    /// heap block would otherwise cost an extra full-size `memset` pass.
    pub fn words(&mut self, len: usize) -> Vec<u64> {
        let mut v = Vec::with_capacity(len);
        let mut buf = [0u64; 512];
        while v.len() < len {
            let take = (len - v.len()).min(buf.len());
            let chunk = &mut buf[..take];
            self.fill(chunk);
            v.extend_from_slice(chunk);
        }
        v
    }

    /// A fresh seed drawn from this generator (for deriving sub-seeds).
    pub fn seed(&mut self) -> Seed {
        let mut w = [0u64; 4];
        self.fill(&mut w);
        let mut s = [0u8; 32];
        s.copy_from_slice(bytemuck::cast_slice(&w));
        s
    }
}
