//! Comparison with zero, ReLU, max and argmax on additive shares, with dealer help.
//!
//! **Sign extraction** ([`msb`]) in 8 rounds, for any number of parties and any ring value:
//!
//! 1. *Mask* (1 round): open `c = x + r`, where the dealer shared `r` both additively and as
//!    XOR-shared bit planes (`r_0 … r_63`). Then `x = c − r`, and its top bit is
//!    `msb(x) = c_63 ⊕ r_63 ⊕ [c_low < r_low]` (`low` = bits 0..63, the borrow into bit 63).
//! 2. *Compare* (6 rounds): `[c_low < r_low]` with `c` public is a boolean circuit on the
//!    XOR-shared bits of `r`. Leaves `G_i = r_i ∧ ¬c_i` ("r is larger at bit i") and
//!    `E_i = ¬(r_i ⊕ c_i)` ("equal at bit i") are local; a tree combines neighbours with
//!    `G = G_hi ⊕ (E_hi ∧ G_lo)`, `E = E_hi ∧ E_lo`. The 63 leaves need ⌈log2 63⌉ = 6 levels and
//!    [`AND_GATES`] = 2·62 − 1 = 123 AND gates (the root needs no `E`), evaluated with the
//!    dealer's boolean Beaver triples, **bit-sliced**: one 64-bit word carries a gate for 64
//!    elements.
//! 3. *Convert* (1 round): with a dealer "daBit" `b`, shared both as a bit plane and
//!    additively, open `v = msb(x) ⊕ b`; then `[msb] = v + (1 − 2v)·[b]` is additive.
//!
//! **ReLU** needs no extra round: `relu(x) = x − msb·x` and
//! `msb·x = v·x + (1 − 2v)·b·x` where `b·x = b·(c − r) = c·[b] − [b·r]`, with `[b·r]` also from
//! the dealer: all local once `c` and `v` are public.
//!
//! Cost of one sign extraction of `len` elements, `W = ⌈len/64⌉`, per party:
//! **8 rounds**, **8·(n−1)·(len + 2·123·W + W) bytes** sent. Every round is pipelined in
//! messages of at most [`PIPELINE_CHUNK`](super::party::PIPELINE_CHUNK) elements (so no large
//! buffers are allocated per round). [`argmax`] over `k` columns uses two
//! sign extractions (all `k(k−1)/2` pairwise comparisons at once, then a test of each score):
//! **16 rounds**.

use super::bits::{plane_bit, to_planes, words_per_plane};
use super::dealer::Request;
use super::protocols::parts;
use super::ring::xor_assign_slice;
use super::{Party, PartyChannel, RingTensor, SharedTensor, SmpcError};
use crate::tensor::ShapeError;

/// Bits compared by the circuit (the low 63 bits; bit 63 is handled linearly).
pub const LT_BITS: usize = 63;
/// AND gates of the comparison circuit: two per tree node, one at the root.
pub const AND_GATES: usize = 2 * (LT_BITS - 1) - 1;

/// The public and shared pieces a sign extraction leaves behind.
struct Sign {
    /// Opened `x + r`.
    c: Vec<u64>,
    /// Opened `msb(x) ⊕ b` per element, 0 or 1.
    v: Vec<u64>,
    /// Additive shares of the daBit `b`.
    b: Vec<u64>,
    /// Additive shares of `b·r`.
    br: Vec<u64>,
}

/// Words `i·w .. (i+1)·w` of `v` (plane `i`), empty when out of range.
fn plane(v: &[u64], i: usize, w: usize) -> &[u64] {
    v.get(i * w..(i + 1) * w).unwrap_or_default()
}

/// Evaluates a batch of AND gates on XOR shares in one (pipelined) round. Gate `i` works on
/// the `w`-word planes `xs[i]` and `ys[i]`; the triples `(a, b, c)` cover all gate words in
/// order. Returns the shares of `x ∧ y`, gate after gate.
fn and_batch<C: PartyChannel>(
    party: &mut Party<C>,
    (xs, ys, w): (&[&[u64]], &[&[u64]], usize),
    (ta, tb, tc): (&[u64], &[u64], &[u64]),
) -> Result<Vec<u64>, SmpcError> {
    let g = ta.len();
    let word = |planes: &[&[u64]], i: usize| {
        planes
            .get(i / w.max(1))
            .and_then(|p| p.get(i % w.max(1)))
            .copied()
            .unwrap_or(0)
    };
    let lead = if party.is_leader() { u64::MAX } else { 0 };
    let mut z = Vec::with_capacity(g);
    party.exchange_pipelined(
        g,
        |r, mut msg| {
            let masked_x = r
                .clone()
                .zip(ta.get(r.clone()).unwrap_or_default())
                .map(|(i, a)| word(xs, i) ^ a);
            let masked_y = r
                .clone()
                .zip(tb.get(r.clone()).unwrap_or_default())
                .map(|(i, b)| word(ys, i) ^ b);
            msg.extend(masked_x);
            msg.extend(masked_y);
            msg
        },
        |r, own, others| {
            let l = r.len();
            let mut opened = own.to_vec();
            for m in others {
                xor_assign_slice(&mut opened, m);
            }
            let (d, e) = opened.split_at(l.min(opened.len()));
            let (a, b, c) = (
                ta.get(r.clone()).unwrap_or_default(),
                tb.get(r.clone()).unwrap_or_default(),
                tc.get(r).unwrap_or_default(),
            );
            z.extend(
                c.iter()
                    .zip(a.iter().zip(b))
                    .zip(d.iter().zip(e))
                    .map(|((&c, (&a, &b)), (&d, &e))| c ^ (d & b) ^ (e & a) ^ (lead & d & e)),
            );
        },
    )?;
    Ok(z)
}

fn sign<C: PartyChannel>(party: &mut Party<C>, x: &SharedTensor) -> Result<Sign, SmpcError> {
    let len = x.len();
    let w = words_per_plane(len);
    let tw = AND_GATES * w;
    let [rbits, ta, tb, tc, dabit, r, b, br] = parts(
        party.material(Request::Compare { len })?,
        [64 * w, tw, tw, tw, w, len, len, len],
    )?;
    let lead = if party.is_leader() { u64::MAX } else { 0 };

    // Round 1: open c = x + r.
    let xd = x.ring().data();
    let c = party.open_with(len, false, |rg, mut msg| {
        msg.extend(
            xd.get(rg.clone())
                .unwrap_or_default()
                .iter()
                .zip(r.get(rg).unwrap_or_default())
                .map(|(p, q)| p.wrapping_add(*q)),
        );
        msg
    })?;
    let cp = to_planes(&c);

    // Leaves, lowest bit first: (G, E) word vectors.
    let mut nodes: Vec<(Vec<u64>, Vec<u64>)> = (0..LT_BITS)
        .map(|i| {
            let (ri, ci) = (plane(&rbits, i, w), plane(&cp, i, w));
            let g = ri.iter().zip(ci).map(|(r, c)| r & !c).collect();
            let e = ri.iter().zip(ci).map(|(r, c)| r ^ (lead & !c)).collect();
            (g, e)
        })
        .collect();

    // Rounds 2..7: the tree, one level per round. Gate inputs go straight into the message:
    // first all `x ⊕ a` (x = E_hi), then all `y ⊕ b` (y = G_lo or E_lo).
    let mut used = 0usize;
    while nodes.len() > 1 {
        let root = nodes.len() == 2;
        let per = if root { w } else { 2 * w };
        let g = (nodes.len() / 2) * per;
        let range = used..used + g;
        let (Some(a), Some(bb), Some(cc)) =
            (ta.get(range.clone()), tb.get(range.clone()), tc.get(range))
        else {
            return Err(SmpcError::MaterialMismatch {
                needed: format!("{} AND triple words", used + g),
                got: format!("{}", ta.len()),
            });
        };
        used += g;
        let mut xs: Vec<&[u64]> = Vec::with_capacity(nodes.len());
        let mut ys: Vec<&[u64]> = Vec::with_capacity(nodes.len());
        for pair in nodes.chunks_exact(2) {
            let [(g_lo, e_lo), (_, e_hi)] = pair else {
                continue;
            };
            xs.push(e_hi);
            ys.push(g_lo);
            if !root {
                xs.push(e_hi);
                ys.push(e_lo);
            }
        }
        let z = and_batch(party, (&xs, &ys, w), (a, bb, cc))?;
        let carried = if nodes.len() % 2 == 1 {
            nodes.pop()
        } else {
            None
        };
        let mut next: Vec<(Vec<u64>, Vec<u64>)> = nodes
            .chunks_exact_mut(2)
            .zip(z.chunks(per.max(1)))
            .map(|(pair, zs)| {
                let mut g_hi = pair
                    .get_mut(1)
                    .map(|n| std::mem::take(&mut n.0))
                    .unwrap_or_default();
                let (z_g, z_e) = zs.split_at(w.min(zs.len()));
                xor_assign_slice(&mut g_hi, z_g);
                (g_hi, z_e.to_vec())
            })
            .collect();
        next.extend(carried);
        nodes = next;
    }
    let mut msb = nodes.pop().map(|n| n.0).unwrap_or_default();
    xor_assign_slice(&mut msb, plane(&rbits, 63, w));
    for (m, c) in msb.iter_mut().zip(plane(&cp, 63, w)) {
        *m ^= lead & c;
    }
    // Round 8: open v = msb ⊕ b.
    xor_assign_slice(&mut msb, &dabit);
    let v_planes = party.open_with(msb.len(), true, |rg, mut msg| {
        msg.extend_from_slice(msb.get(rg).unwrap_or_default());
        msg
    })?;
    let v = (0..len).map(|e| plane_bit(&v_planes, e)).collect();
    Ok(Sign { c, v, b, br })
}

/// Additive shares of `[x < 0]` (0 or 1, as ring integers, not fixed point) for every element:
/// the top bit of each ring element. 8 rounds.
///
/// ```
/// use privgrid::smpc::{Simulator, FixedPoint, compare, share_fixed_for, reconstruct};
/// use privgrid::Tensor;
///
/// let sim = Simulator::new(2)?;
/// let x = Tensor::from_vec(vec![-1.5, 0.0, 2.0]);
/// let shares = share_fixed_for(&x, 2, FixedPoint::default())?;
/// let out = sim.run(|p| compare::msb(p, &shares[p.id()]))?;
/// assert_eq!(reconstruct(&out)?.data(), &[1, 0, 0]);
/// # Ok::<(), privgrid::Error>(())
/// ```
pub fn msb<C: PartyChannel>(
    party: &mut Party<C>,
    x: &SharedTensor,
) -> Result<SharedTensor, SmpcError> {
    let s = sign(party, x)?;
    let lead = u64::from(party.is_leader());
    let data =
        s.v.iter()
            .zip(&s.b)
            .map(|(&v, &b)| {
                // (1 − 2v)·b + lead·v, branch-free (v is a random bit)
                b.wrapping_mul(1u64.wrapping_sub(v << 1))
                    .wrapping_add(lead * v)
            })
            .collect();
    Ok(SharedTensor::new(RingTensor::new(x.shape(), data)?))
}

/// Additive shares of `[x ≥ 0]` (0 or 1). 8 rounds.
pub fn ge_zero<C: PartyChannel>(
    party: &mut Party<C>,
    x: &SharedTensor,
) -> Result<SharedTensor, SmpcError> {
    let m = msb(party, x)?;
    let lead = u64::from(party.is_leader());
    Ok(SharedTensor::new(m.ring().map(|s| lead.wrapping_sub(s))))
}

/// Shares of `max(x, 0)`, exact (no fixed-point error). 8 rounds.
pub fn relu<C: PartyChannel>(
    party: &mut Party<C>,
    x: &SharedTensor,
) -> Result<SharedTensor, SmpcError> {
    let s = sign(party, x)?;
    let data = x
        .ring()
        .data()
        .iter()
        .zip(s.v.iter().zip(&s.c))
        .zip(s.b.iter().zip(&s.br))
        .map(|((&xs, (&v, &c)), (&b, &br))| {
            // b·x = c·b − b·r ; msb·x = v·x + (1 − 2v)·b·x ; relu = x − msb·x
            let bx = c.wrapping_mul(b).wrapping_sub(br);
            // v·x + (1 − 2v)·b·x, branch-free (v is a random bit)
            let msb_x = v
                .wrapping_mul(xs)
                .wrapping_add(bx.wrapping_mul(1u64.wrapping_sub(v << 1)));
            xs.wrapping_sub(msb_x)
        })
        .collect();
    Ok(SharedTensor::new(RingTensor::new(x.shape(), data)?))
}

/// Shares of the elementwise maximum `max(x, y) = y + relu(x − y)`. 8 rounds.
pub fn max<C: PartyChannel>(
    party: &mut Party<C>,
    x: &SharedTensor,
    y: &SharedTensor,
) -> Result<SharedTensor, SmpcError> {
    let d = relu(party, &x.sub(y)?)?;
    Ok(y.add(&d)?)
}

/// The result of [`argmax`]: shares of a one-hot matrix and of the index, per row.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ArgMax {
    /// `[m, k]` shares of 0/1 integers: 1 at the (first) largest element of each row.
    pub one_hot: SharedTensor,
    /// `[m]` shares of the column index of the largest element (ring integers).
    pub index: SharedTensor,
}

/// Row-wise argmax of a shared `[m, k]` matrix, ties going to the lowest index (like
/// [`Tensor::argmax`](crate::tensor::Tensor::argmax)). 16 rounds: every pairwise comparison at
/// once, then a test of each element's score.
pub fn argmax<C: PartyChannel>(
    party: &mut Party<C>,
    x: &SharedTensor,
) -> Result<ArgMax, SmpcError> {
    let (m, k) = x.ring().matrix_dims("shared argmax")?;
    if k == 0 {
        return Err(ShapeError::new("shared argmax", "no columns").into());
    }
    let lead = u64::from(party.is_leader());
    let pairs: Vec<(usize, usize)> = (0..k)
        .flat_map(|i| (i + 1..k).map(move |j| (i, j)))
        .collect();
    let xd = x.ring().data();
    let at = |r: usize, i: usize| xd.get(r * k + i).copied().unwrap_or(0);
    // scores: for each row and column, how many columns it beats (ties: lower index wins).
    let mut scores = vec![0u64; m * k];
    if !pairs.is_empty() {
        let diffs: Vec<u64> = (0..m)
            .flat_map(|r| {
                pairs
                    .iter()
                    .map(move |&(i, j)| at(r, i).wrapping_sub(at(r, j)))
            })
            .collect();
        let ge = ge_zero(party, &SharedTensor::new(RingTensor::from_vec(diffs)))?;
        for (r, row) in ge.ring().data().chunks(pairs.len()).enumerate() {
            for (&(i, j), &g) in pairs.iter().zip(row) {
                // i beats j when x_i ≥ x_j; otherwise j beats i.
                if let Some(s) = scores.get_mut(r * k + i) {
                    *s = s.wrapping_add(g);
                }
                if let Some(s) = scores.get_mut(r * k + j) {
                    *s = s.wrapping_add(lead).wrapping_sub(g);
                }
            }
        }
    }
    let best = (k - 1) as u64;
    let shifted = scores
        .iter()
        .map(|&s| s.wrapping_sub(lead * best))
        .collect();
    let one_hot = ge_zero(
        party,
        &SharedTensor::new(RingTensor::new(&[m, k], shifted)?),
    )?;
    let index = one_hot
        .ring()
        .data()
        .chunks(k)
        .map(|row| {
            row.iter().enumerate().fold(0u64, |acc, (i, &h)| {
                acc.wrapping_add((i as u64).wrapping_mul(h))
            })
        })
        .collect();
    Ok(ArgMax {
        one_hot,
        index: SharedTensor::new(RingTensor::new(&[m], index)?),
    })
}
