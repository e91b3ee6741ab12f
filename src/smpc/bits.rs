//! Bit slicing: 64 ring elements ⇄ 64 bit planes, for boolean circuits on XOR shares.
//!
//! The comparison circuit works on *planes*: plane `i` holds bit `i` of many elements, 64
//! elements per word, so one word operation evaluates a gate for 64 elements. A batch of `len`
//! elements uses `W = ceil(len / 64)` words per plane and planes are stored plane-major
//! (`planes[i * W + w]`, bit `j` of word `w` belongs to element `64 w + j`).

/// The number of 64-bit words per plane for `len` elements.
pub fn words_per_plane(len: usize) -> usize {
    len.div_ceil(64)
}

/// Transposes a 64×64 bit matrix in place: afterwards bit `j` of `block[i]` is what bit `i` of
/// `block[j]` was.
pub fn transpose64(block: &mut [u64; 64]) {
    let mut width = 32usize;
    let mut mask: u64 = 0x0000_0000_FFFF_FFFF;
    while width != 0 {
        let mut k = 0usize;
        while k < 64 {
            // Swap the upper-right and lower-left `width`-sized sub-blocks.
            let (lo, hi) = (block[k], block[k + width]);
            let t = ((lo >> width) ^ hi) & mask;
            block[k] = lo ^ (t << width);
            block[k + width] = hi ^ t;
            k = (k + width + 1) & !width;
        }
        width >>= 1;
        mask ^= mask << width;
    }
}

/// Bit-slices `values` into 64 planes of `words_per_plane(values.len())` words (zero padded).
pub fn to_planes(values: &[u64]) -> Vec<u64> {
    let w_count = words_per_plane(values.len());
    let mut planes = vec![0u64; 64 * w_count];
    let mut block = [0u64; 64];
    for (w, chunk) in values.chunks(64).enumerate() {
        block.iter_mut().for_each(|b| *b = 0);
        block[..chunk.len()].copy_from_slice(chunk);
        transpose64(&mut block);
        for (i, &word) in block.iter().enumerate() {
            if let Some(slot) = planes.get_mut(i * w_count + w) {
                *slot = word;
            }
        }
    }
    planes
}

/// The inverse of [`to_planes`]: `len` elements from 64 planes.
pub fn from_planes(planes: &[u64], len: usize) -> Vec<u64> {
    let w_count = words_per_plane(len);
    let mut out = Vec::with_capacity(len);
    let mut block = [0u64; 64];
    for w in 0..w_count {
        for (i, b) in block.iter_mut().enumerate() {
            *b = planes.get(i * w_count + w).copied().unwrap_or(0);
        }
        transpose64(&mut block);
        let take = (len - w * 64).min(64);
        out.extend_from_slice(&block[..take]);
    }
    out
}

/// Bit `e` of a single plane, as 0 or 1.
pub fn plane_bit(plane: &[u64], e: usize) -> u64 {
    plane.get(e / 64).map_or(0, |w| (w >> (e % 64)) & 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[allow(clippy::needless_range_loop)]
    fn transpose_matches_definition() {
        let mut block = [0u64; 64];
        let mut x = 0x9E37_79B9_7F4A_7C15u64;
        for b in block.iter_mut() {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            *b = x;
        }
        let original = block;
        transpose64(&mut block);
        for i in 0..64 {
            for j in 0..64 {
                assert_eq!((block[i] >> j) & 1, (original[j] >> i) & 1, "i={i} j={j}");
            }
        }
    }

    #[test]
    fn planes_round_trip_with_padding() {
        let values: Vec<u64> = (0..150u64)
            .map(|i| i.wrapping_mul(0x1234_5678_9ABC_DEF1))
            .collect();
        let planes = to_planes(&values);
        assert_eq!(planes.len(), 64 * 3);
        assert_eq!(from_planes(&planes, values.len()), values);
        // plane 0 holds the lowest bits
        for (e, v) in values.iter().enumerate() {
            assert_eq!(plane_bit(&planes[..3], e), v & 1);
        }
    }
}
