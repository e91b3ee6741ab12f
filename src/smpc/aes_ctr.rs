//! AES-128 in counter mode, writing keystream straight into `u64` words.
//!
//! Block `i` of stream `s` is `AES_k(i ‖ s)`, both halves as little-endian 64-bit words, so a
//! keystream block is exactly two ring elements and the counter is a plain word increment. Each
//! stream has 2^64 blocks (2^68 bytes) of its own counter space; streams never overlap.
//!
//! Two implementations give identical output, and a test checks them against each other and
//! against the FIPS-197 known answer:
//!
//! - on CPUs with AVX-512 and VAES (chosen at run time by the `multiversion` crate, so this
//!   crate stays free of `unsafe`), 32 blocks are encrypted per step in eight 512-bit registers;
//! - everywhere else, the RustCrypto `aes` cipher encrypts the counter blocks in place (it uses
//!   AES-NI when the CPU has it).
//!
//! The keystream is written into the caller's buffer: no zero buffer is encrypted and no extra
//! pass clears the output first.

use aes::Aes128;
use aes::cipher::{Array, BlockCipherEncrypt, KeyInit};

/// AES-128 round keys, each as two little-endian words.
type RoundKeys = [[u64; 2]; 11];

/// An AES-128-CTR keystream for one (key, stream) pair, consumed word by word.
///
/// ```
/// use privgrid::smpc::aes_ctr::AesCtr;
///
/// let mut whole = [0u64; 7];
/// AesCtr::new([1; 16], 9).fill(&mut whole);
/// // The same keystream read in odd-sized pieces.
/// let mut pieces = [0u64; 7];
/// let mut g = AesCtr::new([1; 16], 9);
/// g.fill(&mut pieces[..3]);
/// g.fill(&mut pieces[3..]);
/// assert_eq!(whole, pieces);
/// ```
pub struct AesCtr {
    cipher: Aes128,
    /// Round keys for the vector path (`None` on CPUs without AES instructions).
    round_keys: Option<RoundKeys>,
    stream: u64,
    /// The next block's counter.
    counter: u64,
    /// The second word of a block whose first word the previous call consumed.
    pending: Option<u64>,
}

impl AesCtr {
    /// The keystream of `stream` under `key`, from block 0.
    pub fn new(key: [u8; 16], stream: u64) -> Self {
        Self {
            cipher: Aes128::new(&key.into()),
            round_keys: expand_key(key),
            stream,
            counter: 0,
            pending: None,
        }
    }

    /// Overwrites `out` with the next `out.len()` keystream words.
    pub fn fill(&mut self, out: &mut [u64]) {
        let mut out = out;
        if let Some(word) = self.pending.take() {
            match out.split_first_mut() {
                Some((first, rest)) => {
                    *first = word;
                    out = rest;
                }
                None => {
                    self.pending = Some(word);
                    return;
                }
            }
        }
        let whole = out.len() & !1;
        let (blocks, tail) = out.split_at_mut(whole);
        self.fill_blocks(blocks);
        if let [last] = tail {
            let mut block = [0u64; 2];
            self.fill_blocks(&mut block);
            *last = block[0];
            self.pending = Some(block[1]);
        }
    }

    /// Fills an even number of words with whole blocks and advances the counter.
    fn fill_blocks(&mut self, out: &mut [u64]) {
        let blocks = (out.len() / 2) as u64;
        fill_dispatch(
            &self.cipher,
            self.round_keys.as_ref(),
            self.stream,
            self.counter,
            out,
        );
        self.counter = self.counter.wrapping_add(blocks);
    }

    /// The portable path only (for tests that compare it with the vector path).
    #[cfg(test)]
    fn fill_portable(&mut self, out: &mut [u64]) {
        portable_fill(&self.cipher, self.stream, self.counter, out);
        self.counter = self.counter.wrapping_add((out.len() / 2) as u64);
    }
}

/// Writes the counter blocks into `out` and encrypts them in place with the `aes` crate.
fn portable_fill(cipher: &Aes128, stream: u64, counter: u64, out: &mut [u64]) {
    for (i, pair) in out.chunks_exact_mut(2).enumerate() {
        pair[0] = counter.wrapping_add(i as u64);
        pair[1] = stream;
    }
    let bytes: &mut [[u8; 16]] = bytemuck::cast_slice_mut(out);
    cipher.encrypt_blocks(Array::cast_slice_from_core_mut(bytes));
}

/// Picks the widest implementation the CPU runs.
#[multiversion::multiversion(targets("x86_64+avx512f+vaes+aes"))]
fn fill_dispatch(
    cipher: &Aes128,
    round_keys: Option<&RoundKeys>,
    stream: u64,
    counter: u64,
    out: &mut [u64],
) {
    multiversion::target::match_target! {
        "x86_64+avx512f+vaes+aes" => {
            if let Some(keys) = round_keys {
                x86::vaes_fill(keys, stream, counter, out);
                return;
            }
        }
        _ => {}
    }
    let _ = round_keys;
    portable_fill(cipher, stream, counter, out);
}

/// The AES-128 key schedule with the AES-NI key-generation instruction, when the CPU has it.
#[multiversion::multiversion(targets("x86_64+aes"))]
fn expand_key(key: [u8; 16]) -> Option<RoundKeys> {
    multiversion::target::match_target! {
        "x86_64+aes" => Some(x86::expand_key(key)),
        _ => { let _ = key; None }
    }
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    //! The AES-NI key schedule and the VAES counter-mode loop (safe intrinsics inside
    //! `#[target_feature]` functions, reached only from runtime-dispatched callers).

    use super::RoundKeys;
    use std::arch::x86_64::*;

    /// Blocks per 512-bit register.
    const LANES: usize = 4;
    /// Registers in flight per step (enough to hide the AES round latency).
    const REGS: usize = 8;
    /// Words per step.
    const STEP_WORDS: usize = REGS * LANES * 2;

    #[target_feature(enable = "aes")]
    fn key_step<const RCON: i32>(key: __m128i) -> __m128i {
        let assist = _mm_shuffle_epi32::<0xff>(_mm_aeskeygenassist_si128::<RCON>(key));
        let mut k = key;
        k = _mm_xor_si128(k, _mm_slli_si128::<4>(k));
        k = _mm_xor_si128(k, _mm_slli_si128::<4>(k));
        k = _mm_xor_si128(k, _mm_slli_si128::<4>(k));
        _mm_xor_si128(k, assist)
    }

    #[target_feature(enable = "aes")]
    pub(super) fn expand_key(key: [u8; 16]) -> RoundKeys {
        let words: [u64; 2] = bytemuck::cast(key);
        let mut k = [_mm_setzero_si128(); 11];
        k[0] = _mm_set_epi64x(words[1] as i64, words[0] as i64);
        k[1] = key_step::<0x01>(k[0]);
        k[2] = key_step::<0x02>(k[1]);
        k[3] = key_step::<0x04>(k[2]);
        k[4] = key_step::<0x08>(k[3]);
        k[5] = key_step::<0x10>(k[4]);
        k[6] = key_step::<0x20>(k[5]);
        k[7] = key_step::<0x40>(k[6]);
        k[8] = key_step::<0x80>(k[7]);
        k[9] = key_step::<0x1b>(k[8]);
        k[10] = key_step::<0x36>(k[9]);
        let mut out = [[0u64; 2]; 11];
        for (o, k) in out.iter_mut().zip(k) {
            *o = bytemuck::cast(k);
        }
        out
    }

    /// Four consecutive counter blocks starting at `counter`.
    #[target_feature(enable = "avx512f")]
    fn counters(stream: u64, counter: u64) -> __m512i {
        let s = stream as i64;
        let c = counter as i64;
        _mm512_set_epi64(
            s,
            c.wrapping_add(3),
            s,
            c.wrapping_add(2),
            s,
            c.wrapping_add(1),
            s,
            c,
        )
    }

    /// Encrypts one register of four blocks.
    #[target_feature(enable = "avx512f,vaes")]
    fn encrypt4(keys: &[__m512i; 11], block: __m512i) -> __m512i {
        let mut b = _mm512_xor_si512(block, keys[0]);
        for key in &keys[1..10] {
            b = _mm512_aesenc_epi128(b, *key);
        }
        _mm512_aesenclast_epi128(b, keys[10])
    }

    #[target_feature(enable = "avx512f,vaes,aes")]
    pub(super) fn vaes_fill(round_keys: &RoundKeys, stream: u64, counter: u64, out: &mut [u64]) {
        let mut keys = [_mm512_setzero_si512(); 11];
        for (k, rk) in keys.iter_mut().zip(round_keys) {
            *k = _mm512_broadcast_i32x4(_mm_set_epi64x(rk[1] as i64, rk[0] as i64));
        }
        let step = _mm512_set_epi64(0, 4, 0, 4, 0, 4, 0, 4);
        let mut next = counters(stream, counter);
        let mut chunks = out.chunks_exact_mut(STEP_WORDS);
        for chunk in &mut chunks {
            let mut b = [_mm512_setzero_si512(); REGS];
            for reg in &mut b {
                *reg = _mm512_xor_si512(next, keys[0]);
                next = _mm512_add_epi64(next, step);
            }
            for key in &keys[1..10] {
                for reg in &mut b {
                    *reg = _mm512_aesenc_epi128(*reg, *key);
                }
            }
            for (reg, dst) in b.iter().zip(chunk.chunks_exact_mut(LANES * 2)) {
                let words: [u64; 8] = bytemuck::cast(_mm512_aesenclast_epi128(*reg, keys[10]));
                dst.copy_from_slice(&words);
            }
        }
        for dst in chunks.into_remainder().chunks_mut(LANES * 2) {
            let words: [u64; 8] = bytemuck::cast(encrypt4(&keys, next));
            next = _mm512_add_epi64(next, step);
            dst.copy_from_slice(&words[..dst.len()]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// FIPS-197 appendix C.1: key 00..0f, plaintext 00112233..ff.
    #[test]
    fn known_answer_on_both_paths() {
        let key: [u8; 16] = std::array::from_fn(|i| i as u8);
        let plain: [u8; 16] = std::array::from_fn(|i| (i as u8) * 0x11);
        let counter = u64::from_le_bytes(plain[..8].try_into().unwrap());
        let stream = u64::from_le_bytes(plain[8..].try_into().unwrap());
        let expected: [u8; 16] = [
            0x69, 0xc4, 0xe0, 0xd8, 0x6a, 0x7b, 0x04, 0x30, 0xd8, 0xcd, 0xb7, 0x80, 0x70, 0xb4,
            0xc5, 0x5a,
        ];
        let expected: [u64; 2] = bytemuck::cast(expected);
        for portable in [false, true] {
            let mut g = AesCtr::new(key, stream);
            g.counter = counter;
            let mut out = [0u64; 2];
            if portable {
                g.fill_portable(&mut out);
            } else {
                g.fill(&mut out);
            }
            assert_eq!(out, expected, "portable = {portable}");
        }
    }

    #[test]
    fn vector_and_portable_paths_agree_at_every_length() {
        for len in (0..200).step_by(2).chain([1000, 4096, 10_002]) {
            let mut fast = vec![0u64; len];
            let mut slow = vec![1u64; len];
            let mut a = AesCtr::new([3; 16], 77);
            let mut b = AesCtr::new([3; 16], 77);
            a.counter = u64::MAX - 5; // crosses the counter wrap
            b.counter = u64::MAX - 5;
            a.fill(&mut fast);
            b.fill_portable(&mut slow);
            assert_eq!(fast, slow, "len {len}");
        }
    }

    #[test]
    fn streams_differ() {
        let mut a = [0u64; 8];
        let mut b = [0u64; 8];
        AesCtr::new([5; 16], 1).fill(&mut a);
        AesCtr::new([5; 16], 2).fill(&mut b);
        assert!(a.iter().zip(&b).all(|(x, y)| x != y));
    }
}
