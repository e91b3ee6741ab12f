//! Arithmetic protocols on additive shares: Beaver multiplication and matrix multiplication,
//! dealer-assisted truncation, and their fixed-point combinations.
//!
//! Costs per call, for `n` parties (bytes are what *each* party sends, as counted in
//! [`CommStats`](super::CommStats); `mul` and `truncate` pipeline their one round in messages of
//! [`PIPELINE_CHUNK`](super::party::PIPELINE_CHUNK) elements):
//!
//! | protocol | rounds | bytes sent per party |
//! |---|---|---|
//! | [`mul`] of `len` elements | 1 | 16·(n−1)·len |
//! | [`matmul`] `[m,k]·[k,p]` | 1 | 8·(n−1)·(m·k + k·p) |
//! | [`truncate`] of `len` elements | 1 | 8·(n−1)·len |
//! | [`mul_fixed`] / [`matmul_fixed`] | 2 | sum of the above |
//!
//! **Truncation** (correct for any number of parties, perfectly hiding). For `|x| < 2^62` the
//! parties shift to `y = x + 2^62 ∈ [0, 2^63)` and open `c = y + r mod 2^64`, with the dealer's
//! uniform `r`, its `r_hi = (r mod 2^63) >> f` and its top bit `r_msb`, all additively shared.
//! Writing `c = c_msb·2^63 + c_low`, the carry out of `y + (r mod 2^63)` is
//! `t = c_msb ⊕ r_msb = c_msb + (1 − 2 c_msb)·r_msb`, linear in the shared `r_msb`, so
//! `y = c_low + 2^63·t − (r mod 2^63)` exactly, and
//! `⌊y / 2^f⌋ = (c_low >> f) + 2^(63−f)·t − r_hi − ε` with `ε ∈ {0, 1}` (a borrow from the low
//! bits). The result is `⌊x / 2^f⌋` or one more: an error of at most one unit in the last place,
//! whatever the number of parties, never a large wrap-around error.

use super::Message;
use super::dealer::{Material, PartStream, Request};
use super::{Party, PartyChannel, RingTensor, SharedTensor, SmpcError, matmul as kernel};
use crate::tensor::ShapeError;
use std::cell::RefCell;
use std::collections::VecDeque;
use std::ops::Range;

/// The dealer components of `m`, checked against the expected word counts.
pub(crate) fn parts<const N: usize>(
    m: Material,
    words: [usize; N],
) -> Result<[Vec<u64>; N], SmpcError> {
    let got = m.parts.len();
    let parts: [Vec<u64>; N] = m
        .parts
        .try_into()
        .map_err(|_| SmpcError::MaterialMismatch {
            needed: format!("{N} components"),
            got: format!("{got} components"),
        })?;
    for (p, &w) in parts.iter().zip(words.iter()) {
        if p.len() != w {
            return Err(SmpcError::MaterialMismatch {
                needed: format!("a component of {w} words"),
                got: format!("{} words", p.len()),
            });
        }
    }
    Ok(parts)
}

fn same_shape(op: &'static str, x: &SharedTensor, y: &SharedTensor) -> Result<(), SmpcError> {
    if x.shape() == y.shape() {
        Ok(())
    } else {
        Err(ShapeError::new(
            op,
            format!("shapes {:?} and {:?} differ", x.shape(), y.shape()),
        )
        .into())
    }
}

/// `c[i] += e[i]·b[i] + d[i]·a[i] + lead·e[i]·d[i]`: the local Beaver step.
#[inline(always)]
fn beaver_step(
    c: &mut [u64],
    a: &[u64],
    b: &[u64],
    e: impl Iterator<Item = u64>,
    d: impl Iterator<Item = u64>,
    lead: u64,
) {
    for ((((z, &a), &b), e), d) in c.iter_mut().zip(a).zip(b).zip(e).zip(d) {
        let bd = b.wrapping_add(lead.wrapping_mul(d));
        *z = z
            .wrapping_add(e.wrapping_mul(bd))
            .wrapping_add(d.wrapping_mul(a));
    }
}

/// Shares of the ring product `x ⊙ y` (elementwise, exact modulo 2^64; no truncation).
/// One round, one dealer triple.
pub fn mul<C: PartyChannel>(
    party: &mut Party<C>,
    x: &SharedTensor,
    y: &SharedTensor,
) -> Result<SharedTensor, SmpcError> {
    same_shape("mul", x, y)?;
    let len = x.len();
    let streamed = party.material_streamed(Request::Mul { len })?;
    let lead = u64::from(party.is_leader());
    let z = match streams3(streamed)? {
        [
            PartStream::Words(a, 0),
            PartStream::Words(b, 0),
            PartStream::Words(c, 0),
        ] => mul_expanded(party, (x, y), [a, b, c], lead)?,
        streams => mul_streamed(party, (x, y), streams, lead)?,
    };
    Ok(SharedTensor::new(RingTensor::new(x.shape(), z)?))
}

/// The online Beaver step on one chunk: `z += e·b + d·a (+ e·d)`, with `e | d` opened from
/// this party's message `own` and the peers' `others`.
#[multiversion::multiversion(targets("x86_64+avx512f+avx512dq+avx512vl", "x86_64+avx2"))]
fn beaver_chunk(z: &mut [u64], a: &[u64], b: &[u64], own: &[u64], others: &[Message], lead: u64) {
    let l = z.len();
    let (own_e, own_d) = own.split_at(l.min(own.len()));
    if let [other] = others {
        let (oth_e, oth_d) = other.split_at(l.min(other.len()));
        let e = own_e.iter().zip(oth_e).map(|(p, q)| p.wrapping_add(*q));
        let d = own_d.iter().zip(oth_d).map(|(p, q)| p.wrapping_add(*q));
        beaver_step(z, a, b, e, d, lead);
    } else {
        let mut opened = own.to_vec();
        for m in others {
            add_assign(&mut opened, m);
        }
        let (e, d) = opened.split_at(l.min(opened.len()));
        beaver_step(z, a, b, e.iter().copied(), d.iter().copied(), lead);
    }
}

/// [`mul`] with an expanded triple (prefetched material): reads `a`, `b`, `c` in place and
/// writes the product over `c`.
fn mul_expanded<C: PartyChannel>(
    party: &mut Party<C>,
    (x, y): (&SharedTensor, &SharedTensor),
    [a, b, mut c]: [Vec<u64>; 3],
    lead: u64,
) -> Result<Vec<u64>, SmpcError> {
    let (xd, yd) = (x.ring().data(), y.ring().data());
    let produce = |r: Range<usize>, mut msg: Vec<u64>| -> Vec<u64> {
        msg.reserve(2 * r.len());
        extend_sub(&mut msg, slice(xd, r.clone()), slice(&a, r.clone()));
        extend_sub(&mut msg, slice(yd, r.clone()), slice(&b, r));
        msg
    };
    let consume = |r: Range<usize>, own: &[u64], others: &[Message]| {
        let (ar, br) = (slice(&a, r.clone()), slice(&b, r.clone()));
        beaver_chunk(slice_mut(&mut c, r), ar, br, own, others, lead);
    };
    party.exchange_pipelined(x.len(), produce, consume)?;
    Ok(c)
}

/// [`mul`] with a triple still in seed form: `a` and `b` are generated in cache when a chunk's
/// message is produced (and kept until it is consumed, one chunk later), `c` when it is
/// consumed; the expanded triple never goes through main memory. Chunk buffers are recycled,
/// so nothing is zeroed before the PRG overwrites it.
fn mul_streamed<C: PartyChannel>(
    party: &mut Party<C>,
    (x, y): (&SharedTensor, &SharedTensor),
    [mut ga, mut gb, mut gc]: [PartStream; 3],
    lead: u64,
) -> Result<Vec<u64>, SmpcError> {
    let (xd, yd) = (x.ring().data(), y.ring().data());
    let pending: RefCell<VecDeque<(Vec<u64>, Vec<u64>)>> = RefCell::new(VecDeque::new());
    let spare: RefCell<Vec<Vec<u64>>> = RefCell::new(Vec::new());
    let failure: RefCell<Option<SmpcError>> = RefCell::new(None);
    let note = |r: Result<(), SmpcError>| {
        if let Err(e) = r {
            failure.borrow_mut().get_or_insert(e);
        }
    };
    let buffer = |len: usize| {
        let mut v = spare.borrow_mut().pop().unwrap_or_default();
        v.resize(len, 0);
        v
    };
    let mut z: Vec<u64> = Vec::with_capacity(x.len());
    let mut c = Vec::new();
    let produce = |r: Range<usize>, mut msg: Vec<u64>| -> Vec<u64> {
        let (mut a, mut b) = (buffer(r.len()), buffer(r.len()));
        note(ga.fill_next(&mut a));
        note(gb.fill_next(&mut b));
        msg.reserve(2 * r.len());
        extend_sub(&mut msg, slice(xd, r.clone()), &a);
        extend_sub(&mut msg, slice(yd, r), &b);
        pending.borrow_mut().push_back((a, b));
        msg
    };
    let consume = |r: Range<usize>, own: &[u64], others: &[Message]| {
        let Some((a, b)) = pending.borrow_mut().pop_front() else {
            return;
        };
        let start = z.len();
        match gc.next_chunk(r.len(), &mut c) {
            Ok(words) => z.extend_from_slice(words),
            Err(e) => {
                note(Err(e));
                z.resize(start + r.len(), 0);
            }
        }
        let zc = slice_mut(&mut z, start..start + r.len());
        beaver_chunk(zc, &a, &b, own, others, lead);
        spare.borrow_mut().extend([a, b]);
    };
    party.exchange_pipelined(x.len(), produce, consume)?;
    match failure.into_inner() {
        Some(e) => Err(e),
        None => Ok(z),
    }
}

/// Appends `x[i] − m[i]` to `out` (a plain slice loop, so it vectorises).
fn extend_sub(out: &mut Vec<u64>, x: &[u64], m: &[u64]) {
    out.extend(x.iter().zip(m).map(|(p, q)| p.wrapping_sub(*q)));
}

/// Shares of the ring matrix product `x · y` for `[m, k]` and `[k, n]` (no truncation).
/// One round, one dealer matrix triple.
pub fn matmul<C: PartyChannel>(
    party: &mut Party<C>,
    x: &SharedTensor,
    y: &SharedTensor,
) -> Result<SharedTensor, SmpcError> {
    let (m, k) = x.ring().matrix_dims("shared matmul")?;
    let (k2, n) = y.ring().matrix_dims("shared matmul")?;
    if k != k2 {
        return Err(ShapeError::new(
            "shared matmul",
            format!("inner dimensions differ: {:?} x {:?}", x.shape(), y.shape()),
        )
        .into());
    }
    let (mk, kn) = (x.len(), y.len());
    let mn = m.checked_mul(n).ok_or_else(|| {
        ShapeError::new("shared matmul", format!("{m} x {n} result is too large"))
    })?;
    // Streams: `a` and `b` come from the seed at once; `c` (for the last party, the dealer's
    // correction) is only read after the exchange and both local products, so the dealer's
    // work overlaps with them.
    let [mut ga, mut gb, mut gc] =
        streams3(party.material_streamed(Request::Matmul { m, k, n })?)?;
    let (a, mut b) = (ga.take(mk)?, gb.take(kn)?);
    let mut msg = Vec::with_capacity(mk + kn);
    extend_sub(&mut msg, x.ring().data(), &a);
    extend_sub(&mut msg, y.ring().data(), &b);
    let opened = party.exchange(msg)?.sum();
    let (e, d) = opened.split_at(mk);
    if party.is_leader() {
        add_assign(&mut b, d);
    }
    // z = e·(b [+ d]) + a·d + c, accumulated in place.
    let mut z = vec![0u64; mn];
    kernel::matmul_add_into(e, &b, &mut z, m, k, n);
    kernel::matmul_add_into(&a, d, &mut z, m, k, n);
    let c = gc.take(mn)?;
    add_assign(&mut z, &c);
    Ok(SharedTensor::new(RingTensor::new(&[m, n], z)?))
}

fn add_assign(acc: &mut [u64], x: &[u64]) {
    super::ring::add_assign_slice(acc, x);
}

/// `v[r]`, or an empty slice when out of range (callers checked lengths).
fn slice(v: &[u64], r: Range<usize>) -> &[u64] {
    v.get(r).unwrap_or_default()
}

/// `v[r]` mutably, or an empty slice when out of range.
fn slice_mut(v: &mut [u64], r: Range<usize>) -> &mut [u64] {
    v.get_mut(r).unwrap_or_default()
}

/// Shares of `x / 2^shift` (rounded down, or up by at most one unit), by the party's
/// [`Truncation`](super::Truncation) mode: dealer pairs (the default, exact for `|x| < 2^62`
/// and any number of parties), or with two parties optionally [`truncate_local`].
pub fn truncate<C: PartyChannel>(
    party: &mut Party<C>,
    x: &SharedTensor,
    shift: u32,
) -> Result<SharedTensor, SmpcError> {
    if party.truncation() == super::Truncation::LocalTwoParty && party.parties() == 2 {
        truncate_local(party.id(), x, shift)
    } else {
        truncate_with_pair(party, x, shift)
    }
}

/// Two-party local truncation (SecureML): party 0 shifts its share, party 1 shifts the
/// negation of its share and negates back. No communication. The result is `x / 2^shift`
/// (rounded down, or up by one unit) unless the shares wrapped around zero the "wrong" way,
/// which happens with probability about `|x| / 2^64` for uniformly random shares; then it is
/// off by about `2^(64 - shift)`.
///
/// ```
/// use privgrid::smpc::{protocols::truncate_local, share, reconstruct, RingTensor};
/// use privgrid::smpc::prg::{Prg, PrgKind};
///
/// let x = RingTensor::from_vec(vec![(-40i64 << 16) as u64, 3 << 16]);
/// let shares = share(&x, 2, &mut Prg::from_os(PrgKind::DEFAULT, 0))?;
/// let y: Vec<_> = (0..2).map(|p| truncate_local(p, &shares[p], 16)).collect::<Result<_, _>>()?;
/// let y = reconstruct(&y)?;
/// // Exact or one unit up, except with probability about 2^-42 here.
/// assert!(y.data()[1] == 3 || y.data()[1] == 4);
/// assert!(y.data()[0] as i64 == -40 || y.data()[0] as i64 == -39);
/// # Ok::<(), privgrid::Error>(())
/// ```
pub fn truncate_local(
    party: usize,
    x: &SharedTensor,
    shift: u32,
) -> Result<SharedTensor, SmpcError> {
    if shift > 62 {
        return Err(SmpcError::FracBits(shift));
    }
    let data: Vec<u64> = match party {
        0 => x.ring().data().iter().map(|v| v >> shift).collect(),
        1 => x
            .ring()
            .data()
            .iter()
            .map(|v| 0u64.wrapping_sub(0u64.wrapping_sub(*v) >> shift))
            .collect(),
        other => {
            return Err(SmpcError::Parties(format!(
                "local truncation is for two parties; party {other} does not exist"
            )));
        }
    };
    Ok(SharedTensor::new(RingTensor::new(x.shape(), data)?))
}

/// Dealer-assisted truncation: one round, one truncation pair; correct for any number of
/// parties and `|x| < 2^62`.
fn truncate_with_pair<C: PartyChannel>(
    party: &mut Party<C>,
    x: &SharedTensor,
    shift: u32,
) -> Result<SharedTensor, SmpcError> {
    if shift == 0 {
        return Ok(x.clone());
    }
    if shift > 62 {
        return Err(SmpcError::FracBits(shift));
    }
    let len = x.len();
    let streamed = party.material_streamed(Request::Trunc {
        len,
        frac_bits: shift,
    })?;
    let [mut gr, mut ghi, mut gmsb]: [PartStream; 3] = streams3(streamed)?;
    let bias = if party.is_leader() { 1u64 << 62 } else { 0 };
    let xd = x.ring().data();
    let failure: RefCell<Option<SmpcError>> = RefCell::new(None);
    let note = |r: Result<(), SmpcError>| {
        if let Err(e) = r {
            failure.borrow_mut().get_or_insert(e);
        }
    };
    let mut rbuf = Vec::new();
    let produce = |rg: Range<usize>, mut msg: Vec<u64>| -> Vec<u64> {
        let l = rg.len();
        match gr.next_chunk(l, &mut rbuf) {
            Ok(r) => msg.extend(
                slice(xd, rg)
                    .iter()
                    .zip(r)
                    .map(|(v, r)| v.wrapping_add(*r).wrapping_add(bias)),
            ),
            Err(e) => {
                note(Err(e));
                msg.resize(l, 0);
            }
        }
        msg
    };
    let top = 1u64 << (63 - shift);
    let lead = party.is_leader();
    let mut out: Vec<u64> = Vec::with_capacity(len);
    let (mut hbuf, mut mbuf) = (Vec::new(), Vec::new());
    let consume = |rg: Range<usize>, own: &[u64], others: &[Message]| {
        let l = rg.len();
        let (hi, msb) = match (ghi.next_chunk(l, &mut hbuf), gmsb.next_chunk(l, &mut mbuf)) {
            (Ok(h), Ok(m)) => (h, m),
            (Err(e), _) | (_, Err(e)) => return note(Err(e)),
        };
        // One output share from the shares of r_hi, r_msb and the opened c.
        // Branch-free: the opened bits are random, so a branch would mispredict half the time.
        let lead_mask = if lead { u64::MAX } else { 0 };
        let (top, shift) = (top, shift);
        let finish = move |h: u64, m: u64, cv: u64| {
            let c_msb = cv >> 63;
            let c_low = cv & (u64::MAX >> 1);
            // (1 - 2 c_msb) · r_msb, as a ring element
            let t_share = m.wrapping_mul(1u64.wrapping_sub(c_msb << 1));
            let public = (c_low >> shift)
                .wrapping_add(top.wrapping_mul(c_msb))
                .wrapping_sub(1u64 << (62 - shift));
            top.wrapping_mul(t_share)
                .wrapping_sub(h)
                .wrapping_add(public & lead_mask)
        };
        if let [other] = others {
            let c = own
                .iter()
                .zip(other.iter())
                .map(|(p, q)| p.wrapping_add(*q));
            out.extend(
                hi.iter()
                    .zip(msb)
                    .zip(c)
                    .map(|((&h, &m), cv)| finish(h, m, cv)),
            );
        } else {
            let mut c = own.to_vec();
            for m in others {
                add_assign(&mut c, m);
            }
            out.extend(
                hi.iter()
                    .zip(msb)
                    .zip(&c)
                    .map(|((&h, &m), &cv)| finish(h, m, cv)),
            );
        }
    };
    party.exchange_pipelined(len, produce, consume)?;
    if let Some(e) = failure.into_inner() {
        return Err(e);
    }
    Ok(SharedTensor::new(RingTensor::new(x.shape(), out)?))
}

/// The three component streams of a streamed piece of material.
fn streams3(streamed: super::dealer::Streamed) -> Result<[PartStream; 3], SmpcError> {
    streamed
        .parts
        .try_into()
        .map_err(|_| SmpcError::MaterialMismatch {
            needed: "3 components".into(),
            got: "another count".into(),
        })
}

/// A ring product protocol (elementwise or matrix).
type Product<C> =
    fn(&mut Party<C>, &SharedTensor, &SharedTensor) -> Result<SharedTensor, SmpcError>;

/// `product` followed by a truncation by the party's fractional bits.
fn fixed_product<C: PartyChannel>(
    product: Product<C>,
    party: &mut Party<C>,
    x: &SharedTensor,
    y: &SharedTensor,
) -> Result<SharedTensor, SmpcError> {
    let z = product(party, x, y)?;
    let f = party.fixed().frac_bits();
    truncate(party, &z, f)
}

/// Fixed-point elementwise product: [`mul`] then [`truncate`] by the party's fractional bits.
pub fn mul_fixed<C: PartyChannel>(
    party: &mut Party<C>,
    x: &SharedTensor,
    y: &SharedTensor,
) -> Result<SharedTensor, SmpcError> {
    fixed_product(mul, party, x, y)
}

/// Fixed-point matrix product: [`matmul`] then [`truncate`].
pub fn matmul_fixed<C: PartyChannel>(
    party: &mut Party<C>,
    x: &SharedTensor,
    y: &SharedTensor,
) -> Result<SharedTensor, SmpcError> {
    fixed_product(matmul, party, x, y)
}

/// Shares of `x + p` for a public ring tensor `p` of the same shape (local: the leader adds).
pub fn add_public<C: PartyChannel>(
    party: &Party<C>,
    x: &SharedTensor,
    public: &RingTensor,
) -> Result<SharedTensor, SmpcError> {
    if party.is_leader() {
        Ok(SharedTensor::new(x.ring().add(public)?))
    } else if x.shape() == public.shape() {
        Ok(x.clone())
    } else {
        Err(ShapeError::new(
            "add_public",
            format!("shapes {:?} and {:?} differ", x.shape(), public.shape()),
        )
        .into())
    }
}

/// Shares of `x ⊙ p` for a public fixed-point tensor `p`, truncated back to the party's format.
/// One round (the truncation).
pub fn mul_public_fixed<C: PartyChannel>(
    party: &mut Party<C>,
    x: &SharedTensor,
    public: &RingTensor,
) -> Result<SharedTensor, SmpcError> {
    let z = x.mul_public(public)?;
    let f = party.fixed().frac_bits();
    truncate(party, &z, f)
}
