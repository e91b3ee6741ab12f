//! The ring product on Intel AMX tiles (AMX-INT8), where the CPU and the OS offer them.
//!
//! A word is eight byte limbs, `a = Σ_i 2^(8i)·a_i`, so modulo 2^64
//! `a·b = Σ_{s<8} 2^(8s)·S_s` with `S_s = Σ_{i+j=s} a_i·b_j` (36 limb products; the others are
//! shifted out). For matrices each `S_s` is a sum of byte matrix products, which is what
//! `TDPBUUD` computes: a 16 x 64 tile of unsigned bytes times a 64 x 16 tile, added into 16 x 16
//! 32-bit sums, 16384 multiply-adds in one instruction. The 32-bit sums are exact for `s < 4`
//! while `(s + 1)·k·255² < 2^32`, so the inner dimension goes in chunks of [`K_CHUNK`]; for
//! `s ≥ 4` only `S_s mod 2^32` matters, as it is shifted by 32 bits or more.
//!
//! Layout: `a` is packed into tiles of 16 rows by 64 bytes, one per limb and per 64-wide slice of
//! `k`; `b` into the "VNNI" tiles `TDPBUUD` reads (tile row `q` holds, for 16 columns, the bytes
//! of rows `4q..4q + 4`). Each 32 x 32 block of the output takes four accumulator tiles, two of
//! `a` and two of `b` (all eight tile registers); its eight 32-bit sums are stored and folded
//! into the 64-bit output in one pass. Edges are padded with zero rows and columns.
//!
//! This is the crate's one module with `unsafe` code: Rust has no stable AMX intrinsics, so the
//! tile instructions are inline assembly, and Linux hands out the tile state only on request.
//! Set `PRIVGRID_NO_AMX` in the environment to keep the AVX-512 kernel (for comparisons).
#![allow(unsafe_code)]

use std::arch::asm;
use std::arch::x86_64::*;
use std::cell::RefCell;
use std::ops::Range;
use std::sync::OnceLock;

/// Bytes in one tile (16 rows of 64 bytes).
const TILE_BYTES: usize = 1024;
/// Rows (of `a`) or columns (of `b`) in one tile.
const TILE_ROWS: usize = 16;
/// Bytes per tile row: 64 limbs of `a`, or 16 columns x 4 rows of `b`.
const ROW_BYTES: usize = 64;
/// Values of `k` per tile.
const TILE_K: usize = 64;
/// Rows and columns of an output block (2 x 2 accumulator tiles).
const BLOCK: usize = 32;
/// Limbs per word.
const LIMBS: usize = 8;
/// The longest inner dimension whose 32-bit limb sums stay exact (`4·16384·255² < 2^32`).
pub(super) const K_CHUNK: usize = 16384;

/// Whether this CPU and OS run AMX-INT8 (checked once per process).
pub(super) fn available() -> bool {
    static AVAILABLE: OnceLock<bool> = OnceLock::new();
    *AVAILABLE.get_or_init(|| std::env::var_os("PRIVGRID_NO_AMX").is_none() && detect())
}

fn detect() -> bool {
    if !(std::is_x86_feature_detected!("avx512f")
        && std::is_x86_feature_detected!("avx512bw")
        && std::is_x86_feature_detected!("avx512vbmi"))
    {
        return false;
    }
    // CPUID leaf 7: EDX bit 24 is AMX-TILE, bit 25 AMX-INT8.
    let leaf7 = std::arch::x86_64::__cpuid_count(7, 0);
    if leaf7.edx & (0b11 << 24) != 0b11 << 24 {
        return false;
    }
    // arch_prctl(ARCH_REQ_XCOMP_PERM, XFEATURE_XTILEDATA): permission for the 8 KiB tile state,
    // for every thread of the process. It fails when the kernel or hypervisor does not support it.
    const ARCH_REQ_XCOMP_PERM: libc::c_long = 0x1023;
    const XFEATURE_XTILEDATA: libc::c_long = 18;
    // SAFETY: this request only changes which register state the kernel saves for the process;
    // it reads and writes no memory of ours.
    let granted = unsafe {
        libc::syscall(
            libc::SYS_arch_prctl,
            ARCH_REQ_XCOMP_PERM,
            XFEATURE_XTILEDATA,
        )
    };
    granted == 0
}

/// Whether AMX pays off for this shape: enough work, and not mostly zero padding.
pub(super) fn worthwhile(m: usize, k: usize, n: usize) -> bool {
    let work = m.saturating_mul(k).saturating_mul(n);
    let padded = m
        .next_multiple_of(BLOCK)
        .saturating_mul(k.next_multiple_of(TILE_K))
        .saturating_mul(n.next_multiple_of(BLOCK));
    work >= 1 << 15 && padded <= work.saturating_mul(2) && available()
}

/// A right-hand operand `[k, n]` packed into tiles, chunk by chunk of `k`.
pub(super) struct PackedB {
    n: usize,
    chunks: Vec<(Range<usize>, Tiles)>,
}

impl PackedB {
    /// Packs `b: [k, n]` (the caller checked `b.len() ≥ k·n` and `available()`).
    pub(super) fn new(b: &[u64], k: usize, n: usize) -> Self {
        let mut packed = Self {
            n,
            chunks: Vec::new(),
        };
        packed.repack(b, k, n);
        packed
    }

    /// Packs `b: [k, n]` into this operand's buffers, reusing them.
    fn repack(&mut self, b: &[u64], k: usize, n: usize) {
        self.n = n;
        let starts = (0..k).step_by(K_CHUNK);
        self.chunks.resize_with(starts.len(), || (0..0, Vec::new()));
        for ((rows, bytes), k0) in self.chunks.iter_mut().zip(starts) {
            *rows = k0..(k0 + K_CHUNK).min(k);
            // SAFETY: `available()` (checked by every caller) implies AVX-512 F, BW and VBMI.
            unsafe { pack_b(b, n, rows.clone(), bytes) };
        }
    }
}

thread_local! {
    /// Packed `a` tiles and the block's 32-bit sums, reused across calls on a thread.
    static SCRATCH: RefCell<(Tiles, Box<Sums>)> =
        RefCell::new((Vec::new(), Box::new(Sums([[0; BLOCK * BLOCK]; LIMBS]))));
}

/// The eight 32-bit sums `S_s` of one output block, row-major `BLOCK x BLOCK` each.
#[repr(C, align(64))]
struct Sums([[u32; BLOCK * BLOCK]; LIMBS]);

/// Packed tiles, one register-sized (64-byte, aligned) row per element: tile rows that cross
/// cache lines load at half speed.
type Tiles = Vec<__m512i>;

/// `out[m, n] += a[m, k] · b[k, n]`, packing `b` into this thread's scratch.
pub(super) fn matmul_add(a: &[u64], b: &[u64], out: &mut [u64], m: usize, k: usize, n: usize) {
    SCRATCH_B.with_borrow_mut(|packed| {
        packed.repack(b, k, n);
        matmul_add_packed(a, packed, out, m, k);
        for (_, tiles) in &mut packed.chunks {
            trim(tiles);
        }
    });
}

/// Scratch kept on a thread between products; a larger buffer is freed after its product, so
/// one huge product does not pin its memory to a long-lived thread.
const SCRATCH_KEEP_BYTES: usize = 4 << 20;

fn trim(tiles: &mut Tiles) {
    if tiles.capacity() * ROW_BYTES > SCRATCH_KEEP_BYTES {
        *tiles = Vec::new();
    }
}

thread_local! {
    /// The packed right-hand operand of one-off products, reused across calls on a thread.
    static SCRATCH_B: RefCell<PackedB> = const { RefCell::new(PackedB { n: 0, chunks: Vec::new() }) };
}

/// `out[m, n] += a[m, k] · b` with `b` packed; `a` and `out` long enough (callers check).
pub(super) fn matmul_add_packed(a: &[u64], b: &PackedB, out: &mut [u64], m: usize, k: usize) {
    SCRATCH.with_borrow_mut(|(packed_a, sums)| {
        for (rows, packed_b) in &b.chunks {
            // SAFETY: `PackedB` is only built after `available()`, which implies AVX-512 F, BW
            // and VBMI.
            unsafe { pack_a(a, m, k, rows.clone(), packed_a) };
            let shape = Shape {
                m,
                n: b.n,
                k_tiles: rows.len().div_ceil(TILE_K),
            };
            // SAFETY: as above; AMX is available and its state was granted (`available()`).
            let (a, b) = (
                bytemuck::cast_slice(packed_a),
                bytemuck::cast_slice(packed_b),
            );
            unsafe { multiply(a, b, out, shape, sums) };
        }
        trim(packed_a);
    });
}

/// Dimensions of one chunk's product.
#[derive(Clone, Copy)]
struct Shape {
    m: usize,
    n: usize,
    k_tiles: usize,
}

/// Tiles of `a` (or of `b`) per block row (column): one block is two tiles.
fn tiles_for(len: usize) -> usize {
    len.div_ceil(BLOCK) * 2
}

/// Resizes `out` to `len` bytes; zeroes only when the length changes, since the packers write
/// every byte (padding included).
fn reuse(out: &mut Tiles, len: usize) {
    if out.len() != len / ROW_BYTES {
        out.clear();
        out.resize(len / ROW_BYTES, bytemuck::Zeroable::zeroed());
    }
}

/// Eight words of `v` from `at`, zero past its end.
#[target_feature(enable = "avx512f")]
fn load8(v: &[u64], at: usize) -> __m512i {
    let src = v.get(at..).unwrap_or_default();
    if let Some(Ok(words)) = src.get(..8).map(<[u64; 8]>::try_from) {
        return bytemuck::cast(words);
    }
    let mut words = [0u64; 8];
    for (w, s) in words.iter_mut().zip(src) {
        *w = *s;
    }
    bytemuck::cast(words)
}

/// Stores a register as the 64 bytes at byte offset `at` (a multiple of 64) of `out`.
fn store64(out: &mut [__m512i], at: usize, v: __m512i) {
    if let Some(dst) = out.get_mut(at / ROW_BYTES) {
        *dst = v;
    }
}

/// 8 x 8 byte transpose inside each word group: output byte `8·limb + w` = input byte `8w + limb`.
const LIMB_MAJOR: [u8; 64] = permute_index(Permute::LimbMajor);

/// The byte permutes of the packers; see where each is used.
#[derive(Clone, Copy)]
enum Permute {
    LimbMajor,
    Pairs(usize),
    Quads(usize),
}

/// The index vector of a byte permute: entry `o` is the source byte of output byte `o` (64 and
/// up: the second source).
const fn permute_index(kind: Permute) -> [u8; 64] {
    let mut idx = [0u8; 64];
    let mut o = 0;
    while o < 64 {
        idx[o] = match kind {
            Permute::LimbMajor => (o % 8) * 8 + o / 8,
            Permute::Pairs(g) => (o % 2) * 64 + (o / 8) * 8 + 4 * g + (o % 8) / 2,
            Permute::Quads(p) => {
                let (l, c, t) = (o / 32, (o % 32) / 4, o % 4);
                (t / 2) * 64 + c * 8 + (2 * p + l) * 2 + t % 2
            }
        } as u8;
        o += 1;
    }
    idx
}

/// Packs columns `cols` of `a: [m, k]` as limb tiles: tile `((rt·k_tiles + kt)·8 + limb)`
/// holds rows `16rt..16rt + 16`, columns `64kt..64kt + 64` of the chunk, byte `limb` of each,
/// zero past the edges. Per 64 words: a byte transpose inside each register, then an 8 x 8
/// word transpose across the eight registers, so register `limb` holds that limb's 64 bytes.
#[target_feature(enable = "avx512f,avx512bw,avx512vbmi")]
fn pack_a(a: &[u64], m: usize, k: usize, cols: Range<usize>, out: &mut Tiles) {
    let k_tiles = cols.len().div_ceil(TILE_K);
    let row_tiles = tiles_for(m);
    reuse(out, row_tiles * k_tiles * LIMBS * TILE_BYTES);
    let limb_major = bytemuck::cast::<[u8; 64], __m512i>(LIMB_MAJOR);
    for r in 0..row_tiles * TILE_ROWS {
        let row = match a.get(r * k + cols.start..r * k + cols.end) {
            Some(row) if r < m => row,
            _ => &[],
        };
        let (rt, rr) = (r / TILE_ROWS, r % TILE_ROWS);
        for kt in 0..k_tiles {
            let regs: [__m512i; 8] = std::array::from_fn(|j| {
                _mm512_permutexvar_epi8(limb_major, load8(row, kt * TILE_K + 8 * j))
            });
            for (limb, v) in transpose_words(regs).into_iter().enumerate() {
                let at = ((rt * k_tiles + kt) * LIMBS + limb) * TILE_BYTES + rr * ROW_BYTES;
                store64(out, at, v);
            }
        }
    }
}

/// Transposes an 8 x 8 matrix of words held as eight registers (row `j` in register `j`): three
/// stages, each swapping one bit between the row and the column index.
#[target_feature(enable = "avx512f")]
fn transpose_words(mut rows: [__m512i; 8]) -> [__m512i; 8] {
    for d in [1usize, 2, 4] {
        let low: [i64; 8] = std::array::from_fn(|c| if c & d == 0 { c } else { 8 + c - d } as i64);
        let high: [i64; 8] = std::array::from_fn(|c| if c & d == 0 { c + d } else { 8 + c } as i64);
        let (low, high) = (bytemuck::cast(low), bytemuck::cast(high));
        for j in (0..8).filter(|j| j & d == 0) {
            let (x, y) = (rows[j], rows[j + d]);
            rows[j] = _mm512_permutex2var_epi64(x, low, y);
            rows[j + d] = _mm512_permutex2var_epi64(x, high, y);
        }
    }
    rows
}

/// Step 1 of the VNNI packing, limbs `4g..4g + 4`: from rows `t` and `t + 1` (8 columns each),
/// output byte `8c + 2l + u` = byte `4g + l` of column `c` of row `t + u`.
const PAIRS: [[u8; 64]; 2] = [
    permute_index(Permute::Pairs(0)),
    permute_index(Permute::Pairs(1)),
];
/// Step 2: from the pairs of rows 0, 1 and 2, 3, limbs `2p`, `2p + 1` of the group: output byte
/// `32l + 4c + t` = row `t`'s byte of limb `2p + l`, column `c`.
const QUADS: [[u8; 64]; 2] = [
    permute_index(Permute::Quads(0)),
    permute_index(Permute::Quads(1)),
];

/// Packs rows `rows` of `b: [k, n]` as VNNI limb tiles: tile `((ct·k_tiles + kt)·8 + limb)`,
/// row `q`, bytes `4c..4c + 4` hold byte `limb` of `b[64kt + 4q + t][16ct + c]`, `t = 0..4`,
/// zero past the edges. Per four rows of 16 columns: byte permutes pair the rows, then the
/// pairs, then the two halves of the columns meet.
#[target_feature(enable = "avx512f,avx512bw,avx512vbmi")]
fn pack_b(b: &[u64], n: usize, rows: Range<usize>, out: &mut Tiles) {
    let k_tiles = rows.len().div_ceil(TILE_K);
    reuse(out, tiles_for(n) * k_tiles * LIMBS * TILE_BYTES);
    let pairs = PAIRS.map(bytemuck::cast::<[u8; 64], __m512i>);
    let quads = QUADS.map(bytemuck::cast::<[u8; 64], __m512i>);
    for ct in 0..tiles_for(n) {
        let c0 = ct * TILE_ROWS;
        let width = n.saturating_sub(c0).min(TILE_ROWS);
        for kt in 0..k_tiles {
            for q in 0..TILE_ROWS {
                // [half][limb group][limb pair]: limbs 4g + 2p + {0, 1}, 8 columns each.
                let mut grouped = [[[_mm512_setzero_si512(); 2]; 2]; 2];
                for (h, halves) in grouped.iter_mut().enumerate() {
                    let cols = width.saturating_sub(8 * h).min(8);
                    let load = |t: usize| {
                        let kk = rows.start + kt * TILE_K + 4 * q + t;
                        match b.get(kk * n + c0 + 8 * h..kk * n + c0 + 8 * h + cols) {
                            Some(src) if kk < rows.end => load8(src, 0),
                            _ => _mm512_setzero_si512(),
                        }
                    };
                    let r = [load(0), load(1), load(2), load(3)];
                    for (g, group) in halves.iter_mut().enumerate() {
                        let p01 = _mm512_permutex2var_epi8(r[0], pairs[g], r[1]);
                        let p23 = _mm512_permutex2var_epi8(r[2], pairs[g], r[3]);
                        for (p, v) in group.iter_mut().enumerate() {
                            *v = _mm512_permutex2var_epi8(p01, quads[p], p23);
                        }
                    }
                }
                for limb in 0..LIMBS {
                    let (g, p, l) = (limb / 4, (limb / 2) % 2, limb % 2);
                    let (left, right) = (grouped[0][g][p], grouped[1][g][p]);
                    let row = if l == 0 {
                        _mm512_shuffle_i64x2::<0b01_00_01_00>(left, right)
                    } else {
                        _mm512_shuffle_i64x2::<0b11_10_11_10>(left, right)
                    };
                    let at = ((ct * k_tiles + kt) * LIMBS + limb) * TILE_BYTES + q * ROW_BYTES;
                    store64(out, at, row);
                }
            }
        }
    }
}

/// The tile configuration (palette 1): eight tiles of 16 rows x 64 bytes.
#[repr(C, align(64))]
struct TileConfig {
    palette: u8,
    start_row: u8,
    reserved: [u8; 14],
    bytes_per_row: [u16; 16],
    rows: [u8; 16],
}

impl TileConfig {
    fn eight_full_tiles() -> Self {
        let mut config = Self {
            palette: 1,
            start_row: 0,
            reserved: [0; 14],
            bytes_per_row: [0; 16],
            rows: [0; 16],
        };
        config.bytes_per_row[..8].fill(ROW_BYTES as u16);
        config.rows[..8].fill(TILE_ROWS as u8);
        config
    }
}

/// `out += a · b` for one chunk, from packed tiles.
///
/// # Safety
/// The CPU must support AMX-INT8 and AVX-512 F, BW and VBMI, and the process must hold the tile state
/// permission (`available()` returned true).
#[target_feature(enable = "avx512f,avx512bw,avx512vbmi")]
unsafe fn multiply(a: &[u8], b: &[u8], out: &mut [u64], shape: Shape, sums: &mut Sums) {
    let Shape { m, n, k_tiles } = shape;
    let (row_tiles, col_tiles) = (tiles_for(m), tiles_for(n));
    let tiles = |t: usize| t * k_tiles * LIMBS * TILE_BYTES;
    // Every tile read below lies inside `a` and `b`, every store inside `sums`.
    if a.len() < tiles(row_tiles) || b.len() < tiles(col_tiles) || out.len() < m * n {
        return;
    }
    let tile = |base: &[u8], t: usize, kt: usize, limb: usize| {
        base[((t * k_tiles + kt) * LIMBS + limb) * TILE_BYTES..].as_ptr()
    };
    let config = TileConfig::eight_full_tiles();
    // SAFETY: AMX is available (the caller's contract); `config` is a valid palette-1 layout.
    unsafe { asm!("ldtilecfg [{}]", in(reg) &config, options(nostack, readonly)) };
    for rb in 0..row_tiles / 2 {
        for cb in 0..col_tiles / 2 {
            for (s, sum) in sums.0.iter_mut().enumerate() {
                // SAFETY: tile registers only; no memory.
                unsafe {
                    asm!(
                        "tilezero tmm0",
                        "tilezero tmm1",
                        "tilezero tmm2",
                        "tilezero tmm3",
                        options(nostack, nomem)
                    )
                };
                for kt in 0..k_tiles {
                    for i in 0..=s {
                        let (a0, a1) = (tile(a, 2 * rb, kt, i), tile(a, 2 * rb + 1, kt, i));
                        let (b0, b1) = (tile(b, 2 * cb, kt, s - i), tile(b, 2 * cb + 1, kt, s - i));
                        // SAFETY: each load reads 16 rows of 64 bytes at a 64-byte stride from
                        // the start of a tile, i.e. one whole tile of `a` or `b`, in bounds by
                        // the length check above.
                        unsafe {
                            asm!(
                                "tileloadd tmm4, [{a0} + {stride}*1]",
                                "tileloadd tmm5, [{a1} + {stride}*1]",
                                "tileloadd tmm6, [{b0} + {stride}*1]",
                                "tileloadd tmm7, [{b1} + {stride}*1]",
                                "tdpbuud tmm0, tmm4, tmm6",
                                "tdpbuud tmm1, tmm4, tmm7",
                                "tdpbuud tmm2, tmm5, tmm6",
                                "tdpbuud tmm3, tmm5, tmm7",
                                a0 = in(reg) a0,
                                a1 = in(reg) a1,
                                b0 = in(reg) b0,
                                b1 = in(reg) b1,
                                stride = in(reg) ROW_BYTES,
                                options(nostack, readonly)
                            )
                        };
                    }
                }
                let q = quarters(sum.as_mut_ptr());
                // SAFETY: writes the four quarters of `sum`, in bounds (see `quarters`).
                unsafe {
                    asm!(
                        "tilestored [{q0} + {stride}*1], tmm0",
                        "tilestored [{q1} + {stride}*1], tmm1",
                        "tilestored [{q2} + {stride}*1], tmm2",
                        "tilestored [{q3} + {stride}*1], tmm3",
                        q0 = in(reg) q[0],
                        q1 = in(reg) q[1],
                        q2 = in(reg) q[2],
                        q3 = in(reg) q[3],
                        stride = in(reg) BLOCK * 4,
                        options(nostack)
                    )
                };
            }
            fold(sums, out, (rb * BLOCK, cb * BLOCK), (m, n));
        }
    }
    // SAFETY: releases the tile state taken by `ldtilecfg`.
    unsafe { asm!("tilerelease", options(nostack, nomem)) };
}

/// The four 16 x 16 quarters of a 32 x 32 block of sums at `at` (rows of 128 bytes): offsets
/// 0, 16, 512 and 528 words; 16 rows from each stay inside the block's 1024 words.
fn quarters(at: *mut u32) -> [*mut u32; 4] {
    let half = TILE_ROWS * BLOCK;
    [0, TILE_ROWS, half, half + TILE_ROWS].map(|offset| at.wrapping_add(offset))
}

/// `out[block] += Σ_s S_s · 2^(8s)`, the shifts `s ≥ 4` summed in 32 bits first.
#[target_feature(enable = "avx512f,avx512bw,avx512vbmi")]
fn fold(sums: &Sums, out: &mut [u64], (r0, c0): (usize, usize), (m, n): (usize, usize)) {
    let cols = n.saturating_sub(c0).min(BLOCK);
    for rr in 0..m.saturating_sub(r0).min(BLOCK) {
        let at = (r0 + rr) * n + c0;
        let Some(dst) = out.get_mut(at..at + cols) else {
            return;
        };
        let s = |i: usize| &sums.0[i][rr * BLOCK..rr * BLOCK + cols];
        let (s0, s1, s2, s3, s4, s5, s6, s7) = (s(0), s(1), s(2), s(3), s(4), s(5), s(6), s(7));
        for (c, d) in dst.iter_mut().enumerate() {
            let low = u64::from(s0[c])
                + (u64::from(s1[c]) << 8)
                + (u64::from(s2[c]) << 16)
                + (u64::from(s3[c]) << 24);
            let high = s4[c]
                .wrapping_add(s5[c] << 8)
                .wrapping_add(s6[c] << 16)
                .wrapping_add(s7[c] << 24);
            *d = d.wrapping_add(low).wrapping_add(u64::from(high) << 32);
        }
    }
}
