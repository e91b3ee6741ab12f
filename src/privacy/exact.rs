//! Exact non-negative rationals and exactly uniform integers, for the exact samplers.
//!
//! Every `f64` is a dyadic rational, so parameters given as floats convert to rationals with
//! no rounding at all. Uniform integers are drawn by rejection from whole random words, so
//! they are exactly uniform (no modulo bias, no floating point).

use num_bigint::BigUint;
use num_integer::Integer;
use num_traits::{One, ToPrimitive, Zero};
use rand::CryptoRng;

/// A non-negative rational `num / den` with `den > 0` (not necessarily in lowest terms).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Ratio {
    pub(crate) num: BigUint,
    pub(crate) den: BigUint,
}

impl Ratio {
    /// The exact value of a finite, non-negative `f64`; `None` otherwise.
    pub(crate) fn from_f64(x: f64) -> Option<Self> {
        if !x.is_finite() || x < 0.0 {
            return None;
        }
        if x == 0.0 {
            return Some(Self::integer(BigUint::zero()));
        }
        let bits = x.to_bits();
        let exp_bits = ((bits >> 52) & 0x7ff) as i64;
        let frac = bits & ((1u64 << 52) - 1);
        // value = mantissa * 2^exponent
        let (mantissa, exponent) = if exp_bits == 0 {
            (frac, -1074)
        } else {
            (frac | (1u64 << 52), exp_bits - 1075)
        };
        let m = BigUint::from(mantissa);
        Some(if exponent >= 0 {
            Self::integer(m << exponent.unsigned_abs())
        } else {
            Self {
                num: m,
                den: BigUint::one() << exponent.unsigned_abs(),
            }
        })
    }

    /// The same value in lowest terms (smaller numbers make the samplers faster).
    pub(crate) fn reduced(self) -> Self {
        let g = self.num.gcd(&self.den);
        if g.is_one() || g.is_zero() {
            return self;
        }
        Self {
            num: self.num / &g,
            den: self.den / &g,
        }
    }

    /// The integer `n` as a ratio.
    pub(crate) fn integer(n: BigUint) -> Self {
        Self {
            num: n,
            den: BigUint::one(),
        }
    }

    /// `self * self`.
    pub(crate) fn square(&self) -> Self {
        Self {
            num: &self.num * &self.num,
            den: &self.den * &self.den,
        }
    }

    /// `self / other`; `None` when `other` is zero.
    pub(crate) fn div(&self, other: &Ratio) -> Option<Self> {
        if other.num.is_zero() {
            return None;
        }
        Some(Self {
            num: &self.num * &other.den,
            den: &self.den * &other.num,
        })
    }

    /// `⌊self⌋`.
    pub(crate) fn floor(&self) -> BigUint {
        &self.num / &self.den
    }

    /// `self · 2^exp`, exactly.
    pub(crate) fn mul_pow2(&self, exp: i32) -> Self {
        let shift = exp.unsigned_abs();
        if exp >= 0 {
            Self {
                num: &self.num << shift,
                den: self.den.clone(),
            }
        } else {
            Self {
                num: self.num.clone(),
                den: &self.den << shift,
            }
        }
    }

    /// `self + n` for a non-negative integer `n`.
    pub(crate) fn add_integer(&self, n: u64) -> Self {
        Self {
            num: &self.num + &self.den * BigUint::from(n),
            den: self.den.clone(),
        }
    }

    /// True when the value is zero.
    pub(crate) fn is_zero(&self) -> bool {
        self.num.is_zero()
    }
}

/// A uniform integer in `[0, n)`, exactly; `n` must be positive (zero gives zero).
pub(crate) fn uniform_below<R: CryptoRng + ?Sized>(n: &BigUint, rng: &mut R) -> BigUint {
    if let Some(small) = n.to_u64() {
        return BigUint::from(uniform_below_u64(small, rng));
    }
    let bits = n.bits();
    let words = bits.div_ceil(64);
    let top_bits = bits - (words - 1) * 64;
    let top_mask = if top_bits == 64 {
        u64::MAX
    } else {
        (1u64 << top_bits) - 1
    };
    loop {
        let mut digits: Vec<u64> = (0..words).map(|_| rng.next_u64()).collect();
        if let Some(top) = digits.last_mut() {
            *top &= top_mask;
        }
        let candidate = BigUint::from_slice(
            &digits
                .iter()
                .flat_map(|d| [*d as u32, (*d >> 32) as u32])
                .collect::<Vec<u32>>(),
        );
        if &candidate < n {
            return candidate;
        }
    }
}

/// A uniform integer in `[0, n)` for `n > 0` (zero gives zero), by masked rejection.
pub(crate) fn uniform_below_u64<R: CryptoRng + ?Sized>(n: u64, rng: &mut R) -> u64 {
    if n <= 1 {
        return 0;
    }
    let mask = u64::MAX >> (n - 1).leading_zeros();
    loop {
        let x = rng.next_u64() & mask;
        if x < n {
            return x;
        }
    }
}

/// A uniform integer in `[0, n)` for `n > 0` (zero gives zero), by masked rejection.
pub(crate) fn uniform_below_u128<R: CryptoRng + ?Sized>(n: u128, rng: &mut R) -> u128 {
    if let Ok(small) = u64::try_from(n) {
        return u128::from(uniform_below_u64(small, rng));
    }
    let mask = u128::MAX >> (n - 1).leading_zeros();
    loop {
        let x = ((u128::from(rng.next_u64()) << 64) | u128::from(rng.next_u64())) & mask;
        if x < n {
            return x;
        }
    }
}

/// True with probability exactly `num / den` (for `num ≤ den`, `den > 0`).
pub(crate) fn bernoulli_ratio<R: CryptoRng + ?Sized>(
    num: &BigUint,
    den: &BigUint,
    rng: &mut R,
) -> bool {
    &uniform_below(den, rng) < num
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha20Rng;

    #[test]
    fn from_f64_is_exact() {
        for x in [0.0, 1.0, 0.1, 3.5, 1e-300, 5e-324, 1e300, 123456.789] {
            let r = Ratio::from_f64(x).unwrap();
            let back = r.num.to_f64().unwrap() / r.den.to_f64().unwrap();
            // for tiny/huge values the f64 conversion of num/den may saturate; check the scale
            if r.den.bits() < 1000 && r.num.bits() < 1000 {
                assert_eq!(back, x, "{x}");
            }
        }
        assert_eq!(Ratio::from_f64(0.75).unwrap().floor(), BigUint::zero());
        assert!(Ratio::from_f64(-1.0).is_none());
        assert!(Ratio::from_f64(f64::NAN).is_none());
    }

    #[test]
    fn uniform_below_u128_is_uniform_above_one_word() {
        let mut rng = ChaCha20Rng::seed_from_u64(8);
        let n: u128 = 5 << 64;
        let mut counts = [0u32; 5];
        for _ in 0..50_000 {
            let x = uniform_below_u128(n, &mut rng);
            assert!(x < n);
            counts[(x >> 64) as usize] += 1;
        }
        for c in counts {
            assert!((9_400..10_600).contains(&c), "{counts:?}");
        }
    }

    #[test]
    fn uniform_below_is_uniform_for_big_bounds() {
        let mut rng = ChaCha20Rng::seed_from_u64(7);
        // n = 3 * 2^64: the top-level residue mod 3 must be uniform
        let n = BigUint::from(3u32) << 64u32;
        let mut counts = [0u32; 3];
        for _ in 0..30_000 {
            let x = uniform_below(&n, &mut rng);
            assert!(x < n);
            let top = (x >> 64u32).to_usize().unwrap();
            counts[top] += 1;
        }
        for c in counts {
            assert!((9_400..10_600).contains(&c), "{counts:?}");
        }
    }
}
