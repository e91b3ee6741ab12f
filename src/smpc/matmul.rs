//! A fast matrix product over Z_2^64.
//!
//! ndarray's generic `dot` for integers is a naive triple loop. Three kernels, chosen at run time:
//!
//! - on CPUs with AMX-INT8 (Sapphire Rapids and later, where Linux grants the tile state), the
//!   words are split into byte limbs and the 36 limb products that reach the low 64 bits run
//!   on the tile unit (`amx`, the one module with `unsafe` code), for shapes large enough and not
//!   mostly padding;
//! - on CPUs with AVX-512 (F, DQ), tiles of `MR` = 8 rows by `NR` = 16 columns held in registers for
//!   the whole inner dimension: the `MR` rows of `A` are packed once into `k x MR` order, and
//!   every step of `k` loads one `NR`-wide piece of a `B` row and feeds it to `MR` 64-bit
//!   multiply-adds per element, with no loads or stores of `C` in the inner loop; edges that do
//!   not fill a tile use the panel loops;
//! - elsewhere (compiled for AVX2 and the baseline), panel loops: a block of `B` columns and,
//!   inside it, four rows of `A` at a time, so every element of `B` loaded from cache feeds four
//!   multiply-adds. (A register tile compiled for AVX2, which has no 64-bit vector multiply and
//!   half the registers, measured 2× slower than these loops.)
//!
//! All arithmetic wraps modulo 2^64, which is exactly the ring product. [`Rhs`] prepares a
//! right-hand operand once for several products (the dealer's row blocks).

#[cfg(all(target_arch = "x86_64", target_os = "linux"))]
mod amx;

/// Rows of a register tile.
#[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
const MR: usize = 8;
/// Columns of a register tile (two 512-bit registers of words).
#[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
const NR: usize = 16;
/// Width of the column panel of `B` and `C` processed at once by the edge loops.
const COL_BLOCK: usize = 256;
/// Depth of the `k` block of the edge loops, so a `K_BLOCK x COL_BLOCK` panel of `B` stays in L2.
const K_BLOCK: usize = 128;

/// Computes `out = a · b` for row-major `a: [m, k]`, `b: [k, n]`, `out: [m, n]`, wrapping.
///
/// Slices shorter than their dimensions make the missing products count as zero (callers check
/// shapes first); `out` is overwritten.
pub fn matmul_into(a: &[u64], b: &[u64], out: &mut [u64], m: usize, k: usize, n: usize) {
    out.iter_mut().for_each(|x| *x = 0);
    matmul_add_into(a, b, out, m, k, n);
}

/// Computes `out += a · b` (wrapping), with the shapes of [`matmul_into`]: sums of products
/// need no zeroed temporaries.
pub fn matmul_add_into(a: &[u64], b: &[u64], out: &mut [u64], m: usize, k: usize, n: usize) {
    if m == 0 || n == 0 || k == 0 || a.len() < m * k || b.len() < k * n || out.len() < m * n {
        return;
    }
    #[cfg(all(target_arch = "x86_64", target_os = "linux"))]
    if amx::worthwhile(m, k, n) {
        amx::matmul_add(a, b, out, m, k, n);
        return;
    }
    matmul_add_vector(a, b, out, m, k, n);
}

/// [`matmul_add_into`] on the AVX-512 register tile (or the panel loops), never on AMX.
#[multiversion::multiversion(targets("x86_64+avx512f+avx512dq+avx512vl", "x86_64+avx2"))]
fn matmul_add_vector(a: &[u64], b: &[u64], out: &mut [u64], m: usize, k: usize, n: usize) {
    multiversion::target::match_target! {
        "x86_64+avx512f+avx512dq" => tiled(a, b, out, (m, k, n), |p, b, o, at, n| x86::tile(p, b, o, at, n)),
        _ => panels(a, b, out, (0..m, 0..n), (k, n)),
    }
}

/// A right-hand operand `b: [k, n]` prepared once for several products `a · b` (for example
/// row blocks of `a`): on AMX it is packed into tiles only once.
///
/// ```
/// use privgrid::smpc::matmul::{Rhs, matmul_naive};
///
/// let (a, b) = (vec![1u64, 2, 3, 4, 5, 6], vec![7u64, 8, 9, 10]);
/// let rhs = Rhs::new(&b, 2, 2);
/// let mut out = vec![0u64; 6];
/// for (rows, dst) in a.chunks(2).zip(out.chunks_mut(2)) {
///     rhs.matmul_add_into(rows, dst, 1);
/// }
/// assert_eq!(out, matmul_naive(&a, &b, 3, 2, 2));
/// ```
pub struct Rhs<'a> {
    words: &'a [u64],
    k: usize,
    n: usize,
    #[cfg(all(target_arch = "x86_64", target_os = "linux"))]
    packed: std::sync::OnceLock<amx::PackedB>,
}

impl<'a> Rhs<'a> {
    /// Wraps `b: [k, n]`, row-major.
    pub fn new(b: &'a [u64], k: usize, n: usize) -> Self {
        Self {
            words: b,
            k,
            n,
            #[cfg(all(target_arch = "x86_64", target_os = "linux"))]
            packed: std::sync::OnceLock::new(),
        }
    }

    /// `out += a · b` for `a: [m, k]`, `out: [m, n]` (same contract as [`matmul_add_into`]).
    pub fn matmul_add_into(&self, a: &[u64], out: &mut [u64], m: usize) {
        let (k, n, b) = (self.k, self.n, self.words);
        if m == 0 || n == 0 || k == 0 || a.len() < m * k || b.len() < k * n || out.len() < m * n {
            return;
        }
        #[cfg(all(target_arch = "x86_64", target_os = "linux"))]
        if amx::worthwhile(m, k, n) {
            let packed = self.packed.get_or_init(|| amx::PackedB::new(b, k, n));
            amx::matmul_add_packed(a, packed, out, m, k);
            return;
        }
        matmul_add_vector(a, b, out, m, k, n);
    }
}

/// [`matmul_into`] on AMX tiles whatever the shape; false (and `out` untouched) where the CPU
/// or OS has no AMX. For tests of the padding at every edge.
#[doc(hidden)]
pub fn matmul_into_amx(
    a: &[u64],
    b: &[u64],
    out: &mut [u64],
    m: usize,
    k: usize,
    n: usize,
) -> bool {
    #[cfg(all(target_arch = "x86_64", target_os = "linux"))]
    if amx::available() {
        out.iter_mut().for_each(|x| *x = 0);
        if m == 0 || n == 0 || k == 0 || a.len() < m * k || b.len() < k * n || out.len() < m * n {
            return true;
        }
        amx::matmul_add(a, b, out, m, k, n);
        return true;
    }
    let _ = (a, b, out, m, k, n);
    false
}

/// [`matmul_into`] without AMX (the AVX-512 register tile where available), for comparisons.
#[doc(hidden)]
pub fn matmul_into_vector(a: &[u64], b: &[u64], out: &mut [u64], m: usize, k: usize, n: usize) {
    out.iter_mut().for_each(|x| *x = 0);
    if m == 0 || n == 0 || k == 0 || a.len() < m * k || b.len() < k * n || out.len() < m * n {
        return;
    }
    matmul_add_vector(a, b, out, m, k, n);
}

/// The tiled product with `tile_at` computing each full `MR x NR` tile, and the panel loops
/// for the edges (the columns right of the tiles for every row, then the rows below them).
#[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
#[inline(always)]
fn tiled(
    a: &[u64],
    b: &[u64],
    out: &mut [u64],
    (m, k, n): (usize, usize, usize),
    mut tile_at: impl FnMut(&[u64], &[u64], &mut [u64], (usize, usize), usize),
) {
    let (m_tiled, n_tiled) = (m - m % MR, n - n % NR);
    let mut packed = vec![0u64; k * MR];
    for i in (0..m_tiled).step_by(MR) {
        pack_rows(a, &mut packed, i, k);
        for j in (0..n_tiled).step_by(NR) {
            tile_at(&packed, b, out, (i, j), n);
        }
    }
    panels(a, b, out, (0..m, n_tiled..n), (k, n));
    panels(a, b, out, (m_tiled..m, 0..n_tiled), (k, n));
}

/// [`matmul_into`] with the panel loops whatever the CPU (what CPUs without AVX-512 run; so
/// tests cover that path on any machine).
#[doc(hidden)]
pub fn matmul_into_portable(a: &[u64], b: &[u64], out: &mut [u64], m: usize, k: usize, n: usize) {
    out.iter_mut().for_each(|x| *x = 0);
    if m == 0 || n == 0 || k == 0 || a.len() < m * k || b.len() < k * n || out.len() < m * n {
        return;
    }
    panels(a, b, out, (0..m, 0..n), (k, n));
}

/// Packs rows `i..i+MR` of `a` as `packed[kk·MR + r] = a[i+r][kk]`.
#[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
#[inline(always)]
fn pack_rows(a: &[u64], packed: &mut [u64], i: usize, k: usize) {
    for (r, row) in a.chunks_exact(k).skip(i).take(MR).enumerate() {
        for (slot, &v) in packed.iter_mut().skip(r).step_by(MR).zip(row) {
            *slot = v;
        }
    }
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    //! The register tile with AVX-512 intrinsics (safe inside `#[target_feature]` functions,
    //! reached only from the runtime-dispatched [`matmul_into`](super::matmul_into)). The
    //! compiler's own vectorisation of the same tile written as plain loops picked 256-bit
    //! registers and a transposed layout, and was 7× slower.

    use super::{MR, NR};
    use std::arch::x86_64::*;

    /// Words per 512-bit register.
    const LANES: usize = 8;

    /// Eight words of `v` from `at` as a register (zeros past the end).
    #[target_feature(enable = "avx512f")]
    fn load(v: &[u64], at: usize) -> __m512i {
        match v.get(at..at + LANES).map(<[u64; LANES]>::try_from) {
            Some(Ok(words)) => bytemuck::cast(words),
            _ => _mm512_setzero_si512(),
        }
    }

    /// `out[i..i+MR][j..j+NR] += Σ_kk packed[kk] ⊗ b[kk][j..j+NR]`, with the `MR x NR`
    /// accumulators in registers.
    #[target_feature(enable = "avx512f,avx512dq")]
    pub(super) fn tile(
        packed: &[u64],
        b: &[u64],
        out: &mut [u64],
        (i, j): (usize, usize),
        n: usize,
    ) {
        const HALVES: usize = NR / LANES;
        let mut acc = [[_mm512_setzero_si512(); HALVES]; MR];
        for (xs, brow) in packed.chunks_exact(MR).zip(b.chunks_exact(n)) {
            let bv: [__m512i; HALVES] = [load(brow, j), load(brow, j + LANES)];
            for (row, &x) in acc.iter_mut().zip(xs) {
                let xv = _mm512_set1_epi64(x as i64);
                for (c, &bh) in row.iter_mut().zip(&bv) {
                    *c = _mm512_add_epi64(*c, _mm512_mullo_epi64(xv, bh));
                }
            }
        }
        for (r, row) in acc.iter().enumerate() {
            for (h, &v) in row.iter().enumerate() {
                let start = (i + r) * n + j + h * LANES;
                if let Some(dst) = out.get_mut(start..start + LANES) {
                    let sum = _mm512_add_epi64(load(dst, 0), v);
                    let words: [u64; LANES] = bytemuck::cast(sum);
                    dst.copy_from_slice(&words);
                }
            }
        }
    }
}

/// Adds `a[rows] · b[.., cols]` into `out[rows][cols]` with the panel loops (for the edges).
#[inline(always)]
fn panels(
    a: &[u64],
    b: &[u64],
    out: &mut [u64],
    (rows, cols): (std::ops::Range<usize>, std::ops::Range<usize>),
    (k, n): (usize, usize),
) {
    let mut j0 = cols.start;
    while j0 < cols.end {
        let jw = COL_BLOCK.min(cols.end - j0);
        let mut k0 = 0;
        while k0 < k {
            let kw = K_BLOCK.min(k - k0);
            let mut i = rows.start;
            while i + 4 <= rows.end {
                rows4(a, b, out, (i, k0, j0), (kw, jw), (k, n));
                i += 4;
            }
            while i < rows.end {
                row1(a, b, out, (i, k0, j0), (kw, jw), (k, n));
                i += 1;
            }
            k0 += kw;
        }
        j0 += jw;
    }
}

/// Updates four rows of `out` (from `i`) over the panel `[k0, k0+kw) x [j0, j0+jw)`.
#[inline(always)]
fn rows4(
    a: &[u64],
    b: &[u64],
    out: &mut [u64],
    (i, k0, j0): (usize, usize, usize),
    (kw, jw): (usize, usize),
    (k, n): (usize, usize),
) {
    let Some(block) = out.get_mut(i * n..(i + 4) * n) else {
        return;
    };
    let (r0, rest) = block.split_at_mut(n);
    let (r1, rest) = rest.split_at_mut(n);
    let (r2, r3) = rest.split_at_mut(n);
    let (Some(c0), Some(c1), Some(c2), Some(c3)) = (
        r0.get_mut(j0..j0 + jw),
        r1.get_mut(j0..j0 + jw),
        r2.get_mut(j0..j0 + jw),
        r3.get_mut(j0..j0 + jw),
    ) else {
        return;
    };
    for kk in k0..k0 + kw {
        let at = |r: usize| a.get((i + r) * k + kk).copied().unwrap_or(0);
        let (x0, x1, x2, x3) = (at(0), at(1), at(2), at(3));
        let Some(brow) = b.get(kk * n + j0..kk * n + j0 + jw) else {
            return;
        };
        for ((((&bv, y0), y1), y2), y3) in brow
            .iter()
            .zip(c0.iter_mut())
            .zip(c1.iter_mut())
            .zip(c2.iter_mut())
            .zip(c3.iter_mut())
        {
            *y0 = y0.wrapping_add(x0.wrapping_mul(bv));
            *y1 = y1.wrapping_add(x1.wrapping_mul(bv));
            *y2 = y2.wrapping_add(x2.wrapping_mul(bv));
            *y3 = y3.wrapping_add(x3.wrapping_mul(bv));
        }
    }
}

/// Updates one row of `out` over the panel (the tail when `m` is not a multiple of four).
#[inline(always)]
fn row1(
    a: &[u64],
    b: &[u64],
    out: &mut [u64],
    (i, k0, j0): (usize, usize, usize),
    (kw, jw): (usize, usize),
    (k, n): (usize, usize),
) {
    let Some(c) = out.get_mut(i * n + j0..i * n + j0 + jw) else {
        return;
    };
    for kk in k0..k0 + kw {
        let x = a.get(i * k + kk).copied().unwrap_or(0);
        let Some(brow) = b.get(kk * n + j0..kk * n + j0 + jw) else {
            return;
        };
        for (y, &bv) in c.iter_mut().zip(brow) {
            *y = y.wrapping_add(x.wrapping_mul(bv));
        }
    }
}

/// The textbook triple loop, kept as an independent reference for tests and benches.
pub fn matmul_naive(a: &[u64], b: &[u64], m: usize, k: usize, n: usize) -> Vec<u64> {
    let mut out = vec![0u64; m * n];
    for i in 0..m {
        for j in 0..n {
            let mut acc = 0u64;
            for kk in 0..k {
                let x = a.get(i * k + kk).copied().unwrap_or(0);
                let y = b.get(kk * n + j).copied().unwrap_or(0);
                acc = acc.wrapping_add(x.wrapping_mul(y));
            }
            if let Some(slot) = out.get_mut(i * n + j) {
                *slot = acc;
            }
        }
    }
    out
}

/// Bits per limb in [`matmul_into_f64_limbs`]: products of two limbs are below 2^44, so up to
/// [`LIMB_K_BLOCK`] of them add up exactly in an f64 (53-bit mantissa).
const LIMB_BITS: u32 = 22;
/// The largest inner dimension summed in one f64 product: `512 · 2^44 = 2^53`.
const LIMB_K_BLOCK: usize = 512;

/// Computes `out = a · b` modulo 2^64 exactly with f64 matrix products (ndarray, which uses the
/// SIMD `matrixmultiply` kernels): each operand is split into three 22-bit limbs, and the six
/// limb products whose shift is below 64 (`(0,0)`, `(0,1)`, `(1,0)`, `(0,2)`, `(1,1)`, `(2,0)`)
/// are computed in f64, where every partial sum stays an exact integer below 2^53, then
/// recombined with wrapping shifts. Same contract as [`matmul_into`].
pub fn matmul_into_f64_limbs(a: &[u64], b: &[u64], out: &mut [u64], m: usize, k: usize, n: usize) {
    use ndarray::{Array2, Axis, Slice};
    out.iter_mut().for_each(|x| *x = 0);
    if m == 0 || n == 0 || k == 0 || a.len() < m * k || b.len() < k * n || out.len() < m * n {
        return;
    }
    let mask = (1u64 << LIMB_BITS) - 1;
    let limbs = |v: &[u64], rows: usize, cols: usize| -> [Array2<f64>; 3] {
        [0u32, 1, 2].map(|t| {
            Array2::from_shape_fn((rows, cols), |(i, j)| {
                let x = v.get(i * cols + j).copied().unwrap_or(0);
                ((x >> (LIMB_BITS * t)) & mask) as f64
            })
        })
    };
    let (al, bl) = (limbs(a, m, k), limbs(b, k, n));
    let pairs: [(usize, usize); 6] = [(0, 0), (0, 1), (1, 0), (0, 2), (1, 1), (2, 0)];
    let mut k0 = 0;
    while k0 < k {
        let k1 = (k0 + LIMB_K_BLOCK).min(k);
        for &(i, j) in &pairs {
            let (Some(x), Some(y)) = (al.get(i), bl.get(j)) else {
                continue;
            };
            let xs = x.slice_axis(Axis(1), Slice::from(k0..k1));
            let p = xs.dot(&y.slice_axis(Axis(0), Slice::from(k0..k1)));
            let shift = LIMB_BITS * (i + j) as u32;
            for (o, &v) in out.iter_mut().zip(p.iter()) {
                *o = o.wrapping_add((v as u64) << shift);
            }
        }
        k0 = k1;
    }
}
