//! The crypto provider (dealer): correlated randomness with seed compression.
//!
//! For every [`Request`] the dealer draws one fresh [`Seed`] per party. A request has a fixed
//! list of *components* (for a Beaver triple: `a`, `b`, `c`), each expanded from the party's seed
//! on its own PRG stream (stream = component index). Components are either
//!
//! - *random*: every party expands its share from its seed (`a`, `b`, masks, bit planes), or
//! - *correlated*: parties `0..n-1` expand their share from the seed and the **last** party
//!   receives an explicit correction so that the shares add up to the required value
//!   (`c = a·b`, the truncated mask, ...).
//!
//! So the dealer sends each party 32 bytes of seed plus, to one party, one tensor per correlated
//! component: one tensor per Beaver triple. Each dealt piece carries a unique id, and a
//! [`Party`](crate::smpc::Party) refuses to use an id twice ([`SmpcError::MaterialReused`]).
//!
//! | request | components (random / correlated) | correction words |
//! |---|---|---|
//! | `Mul { len }` | a, b / c = a·b | len |
//! | `Matmul { m, k, n }` | a `[m,k]`, b `[k,n]` / c = a·b | m·n |
//! | `Trunc { len, frac_bits }` | r / r_hi = (r mod 2^63) >> f, r_msb = r >> 63 | 2·len |
//! | `Compare { len }` | bit planes of r (64·W), AND triples a, b (T·W each), dabit planes (W) / AND c (T·W), r, dabit b, b·r (len each) | T·W + 3·len |
//!
//! with `W = ceil(len/64)` and `T` the AND gates of the comparison circuit
//! ([`compare::AND_GATES`](crate::smpc::compare::AND_GATES)).
//!
//! **Expanded or streamed.** A party can expand its [`Dealt`] into [`Material`] ahead of time
//! (the offline phase, [`Party::prefetch`](crate::smpc::Party::prefetch)), or keep it as
//! [`Streamed`] PRG streams that the Beaver multiplication and the truncation consume chunk by
//! chunk inside their pipelined pass, so the expanded words are generated in cache and never
//! written to main memory. For Beaver triples the dealer can also hand out the correction in
//! pieces as it computes it ([`Dealing::correction_pieces`]), so the last party starts before the
//! dealer has finished.

use super::bits::{from_planes, plane_bit, words_per_plane};
use super::compare::AND_GATES;
use super::prg::{Prg, PrgKind, Seed};
use super::ring::{add_assign_slice, xor_assign_slice};
use super::{SmpcError, matmul};
use serde::{Deserialize, Serialize};

/// What a protocol step needs from the dealer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Request {
    /// A Beaver triple for elementwise multiplication of `len` elements.
    Mul {
        /// Elements.
        len: usize,
    },
    /// A matrix Beaver triple for `[m, k] x [k, n]`.
    Matmul {
        /// Rows of the left operand.
        m: usize,
        /// Inner dimension.
        k: usize,
        /// Columns of the right operand.
        n: usize,
    },
    /// A truncation pair for `len` elements and a shift of `frac_bits`.
    Trunc {
        /// Elements.
        len: usize,
        /// Bits to shift away.
        frac_bits: u32,
    },
    /// Material for one sign extraction (comparison with zero) of `len` elements.
    Compare {
        /// Elements.
        len: usize,
    },
}

/// How a component's shares combine.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Combine {
    Add,
    Xor,
}

/// One component of a request: its size, and whether the last party gets a correction.
#[derive(Clone, Copy, Debug)]
struct Component {
    words: usize,
    correlated: bool,
    combine: Combine,
}

const fn comp(words: usize, correlated: bool, combine: Combine) -> Component {
    Component {
        words,
        correlated,
        combine,
    }
}

impl Request {
    /// The components, in stream order.
    fn components(&self) -> Result<Vec<Component>, SmpcError> {
        let too_big = || SmpcError::Parties(format!("request {self:?} is too large"));
        Ok(match *self {
            Request::Mul { len } => vec![
                comp(len, false, Combine::Add),
                comp(len, false, Combine::Add),
                comp(len, true, Combine::Add),
            ],
            Request::Matmul { m, k, n } => {
                let mk = m.checked_mul(k).ok_or_else(too_big)?;
                let kn = k.checked_mul(n).ok_or_else(too_big)?;
                let mn = m.checked_mul(n).ok_or_else(too_big)?;
                vec![
                    comp(mk, false, Combine::Add),
                    comp(kn, false, Combine::Add),
                    comp(mn, true, Combine::Add),
                ]
            }
            Request::Trunc { len, .. } => vec![
                comp(len, false, Combine::Add),
                comp(len, true, Combine::Add),
                comp(len, true, Combine::Add),
            ],
            Request::Compare { len } => {
                let w = words_per_plane(len);
                let tw = AND_GATES.checked_mul(w).ok_or_else(too_big)?;
                vec![
                    comp(64 * w, false, Combine::Xor),
                    comp(tw, false, Combine::Xor),
                    comp(tw, false, Combine::Xor),
                    comp(tw, true, Combine::Xor),
                    comp(w, false, Combine::Xor),
                    comp(len, true, Combine::Add),
                    comp(len, true, Combine::Add),
                    comp(len, true, Combine::Add),
                ]
            }
        })
    }

    /// The largest operand of the request, in elements: what a crypto provider serving
    /// requests from the network bounds before it deals.
    ///
    /// ```
    /// use privgrid::smpc::dealer::Request;
    /// assert_eq!(Request::Matmul { m: 2, k: 3, n: 5 }.elements(), 15);
    /// ```
    pub fn elements(&self) -> usize {
        match *self {
            Request::Mul { len } | Request::Trunc { len, .. } | Request::Compare { len } => len,
            Request::Matmul { m, k, n } => m
                .saturating_mul(k)
                .max(k.saturating_mul(n))
                .max(m.saturating_mul(n)),
        }
    }

    /// A short name for error messages.
    pub fn describe(&self) -> String {
        format!("{self:?}")
    }
}

/// What the dealer sends one party for one request: a seed, and for the last party the
/// corrections of the correlated components.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Dealt {
    /// Unique id of this piece of correlated randomness (same for all parties).
    pub id: u64,
    /// What it is for.
    pub request: Request,
    /// The receiving party.
    pub party: usize,
    /// The number of parties.
    pub parties: usize,
    /// The PRG used to expand the seed.
    pub kind: PrgKind,
    /// The party's seed.
    pub seed: Seed,
    /// Corrections (last party only), one per correlated component, in order.
    #[serde(with = "super::wire::word_lists")]
    pub corrections: Vec<Vec<u64>>,
}

/// A party's expanded correlated randomness: one word vector per component.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Material {
    /// The dealer's id for this piece (single use).
    pub id: u64,
    /// What it is for.
    pub request: Request,
    /// The party's share of each component, in order.
    pub parts: Vec<Vec<u64>>,
}

/// One component of a party's material, produced front to back in chunks: either already
/// expanded words, or a PRG stream expanded on demand (so that the words are generated in
/// cache right where a protocol uses them and never travel through main memory).
pub enum PartStream {
    /// Expanded words and the read position.
    Words(Vec<u64>, usize),
    /// A seeded generator.
    Prg(Box<Prg>),
    /// Words arriving in pieces (e.g. a correction the dealer is still computing): the next
    /// piece comes from the closure; the current one and its read position are kept.
    Pieces(Box<dyn FnMut() -> Option<Vec<u64>> + Send>, Vec<u64>, usize),
}

impl PartStream {
    /// The next `n` words: borrowed in place when expanded, otherwise generated into `buf`.
    pub fn next_chunk<'a>(
        &'a mut self,
        n: usize,
        buf: &'a mut Vec<u64>,
    ) -> Result<&'a [u64], SmpcError> {
        if let PartStream::Words(v, pos) = self {
            let start = *pos;
            *pos += n;
            return v
                .get(start..start + n)
                .ok_or_else(|| SmpcError::MaterialMismatch {
                    needed: format!("{n} more words"),
                    got: format!("{} left", v.len().saturating_sub(start)),
                });
        }
        let lend = match self {
            PartStream::Pieces(next, piece, pos) => {
                if *pos == piece.len()
                    && n > 0
                    && let Some(p) = next()
                {
                    *piece = p;
                    *pos = 0;
                }
                piece.len() - *pos >= n
            }
            _ => false,
        };
        if lend {
            // The chunk lies inside the current piece: lend it, no copy.
            return match self {
                PartStream::Pieces(_, piece, pos) => {
                    let start = *pos;
                    *pos += n;
                    Ok(piece.get(start..start + n).unwrap_or_default())
                }
                _ => Ok(&[]),
            };
        }
        buf.resize(n, 0);
        self.fill_next(buf)?;
        Ok(buf)
    }

    /// The next `n` words as a vector: moved out when the stream is exactly those expanded
    /// words, otherwise generated without zeroing first.
    pub fn take(&mut self, n: usize) -> Result<Vec<u64>, SmpcError> {
        match self {
            PartStream::Words(v, 0) if v.len() == n => Ok(std::mem::take(v)),
            PartStream::Prg(g) => Ok(g.words(n)),
            _ => {
                let mut out = vec![0u64; n];
                self.fill_next(&mut out)?;
                Ok(out)
            }
        }
    }

    /// Overwrites `out` with the next `out.len()` words; running out of words is an error.
    pub fn fill_next(&mut self, out: &mut [u64]) -> Result<(), SmpcError> {
        match self {
            PartStream::Words(v, pos) => {
                let src =
                    v.get(*pos..*pos + out.len())
                        .ok_or_else(|| SmpcError::MaterialMismatch {
                            needed: format!("{} more words", out.len()),
                            got: format!("{} left", v.len().saturating_sub(*pos)),
                        })?;
                out.copy_from_slice(src);
                *pos += out.len();
            }
            PartStream::Prg(g) => g.fill(out),
            PartStream::Pieces(next, piece, pos) => {
                let mut filled = 0;
                while filled < out.len() {
                    if *pos >= piece.len() {
                        match next() {
                            Some(p) => {
                                *piece = p;
                                *pos = 0;
                                continue;
                            }
                            None => {
                                return Err(SmpcError::ChannelClosed("dealer (correction)".into()));
                            }
                        }
                    }
                    let take = (out.len() - filled).min(piece.len() - *pos);
                    let src = piece.get(*pos..*pos + take).unwrap_or_default();
                    out.get_mut(filled..filled + take)
                        .unwrap_or_default()
                        .copy_from_slice(src);
                    filled += take;
                    *pos += take;
                }
            }
        }
        Ok(())
    }
}

/// A party's material as streams: id, request, one stream per component.
pub struct Streamed {
    /// The dealer's id for this piece (single use).
    pub id: u64,
    /// What it is for.
    pub request: Request,
    /// One stream per component, in order.
    pub parts: Vec<PartStream>,
}

impl Material {
    /// Streams over the expanded components, after checking their sizes against the request.
    pub fn into_streamed(self) -> Result<Streamed, SmpcError> {
        let comps = self.request.components()?;
        if comps.len() != self.parts.len()
            || comps
                .iter()
                .zip(&self.parts)
                .any(|(c, p)| c.words != p.len())
        {
            return Err(SmpcError::MaterialMismatch {
                needed: self.request.describe(),
                got: "components of other sizes".into(),
            });
        }
        Ok(Streamed {
            id: self.id,
            request: self.request,
            parts: self
                .parts
                .into_iter()
                .map(|v| PartStream::Words(v, 0))
                .collect(),
        })
    }
}

impl Dealt {
    /// Streams over this party's material without expanding it: seeded components become PRG
    /// streams, and the last party's corrections (which must be present) become word streams.
    pub fn into_streamed(self) -> Result<Streamed, SmpcError> {
        self.into_streamed_with(None)
    }

    /// Like [`into_streamed`](Self::into_streamed), with the last party's (single) correction
    /// arriving in pieces from `pieces` while the dealer computes it.
    pub fn into_streamed_with(
        self,
        mut pieces: Option<Box<dyn FnMut() -> Option<Vec<u64>> + Send>>,
    ) -> Result<Streamed, SmpcError> {
        let comps = self.request.components()?;
        let last = self.party + 1 == self.parties;
        let mut given = self.corrections.into_iter();
        let mut parts = Vec::with_capacity(comps.len());
        for (stream, c) in comps.iter().enumerate() {
            if c.correlated
                && last
                && let Some(next) = pieces.take()
            {
                parts.push(PartStream::Pieces(next, Vec::new(), 0));
            } else if c.correlated && last {
                let v = next_correction(&mut given, c.words)?;
                parts.push(PartStream::Words(v, 0));
            } else {
                parts.push(PartStream::Prg(Box::new(Prg::new(
                    self.kind,
                    &self.seed,
                    stream as u64,
                ))));
            }
        }
        Ok(Streamed {
            id: self.id,
            request: self.request,
            parts,
        })
    }

    /// Expands the seed (and the corrections it carries) into this party's [`Material`].
    pub fn expand(mut self) -> Result<Material, SmpcError> {
        let corrections = std::mem::take(&mut self.corrections);
        self.expand_then(|| Ok(corrections))
    }

    /// Expands everything that comes from the seed first, and only then asks `corrections` for
    /// the explicit corrections (called only for the last party, which needs them). This lets a
    /// party expand while the dealer is still computing the corrections.
    pub fn expand_then(
        self,
        corrections: impl FnOnce() -> Result<Vec<Vec<u64>>, SmpcError>,
    ) -> Result<Material, SmpcError> {
        let comps = self.request.components()?;
        let last = self.party + 1 == self.parties;
        let mut parts: Vec<Option<Vec<u64>>> = comps
            .iter()
            .enumerate()
            .map(|(stream, c)| {
                (!(c.correlated && last))
                    .then(|| Prg::new(self.kind, &self.seed, stream as u64).words(c.words))
            })
            .collect();
        if last {
            let mut given = corrections()?.into_iter();
            for (slot, c) in parts.iter_mut().zip(&comps) {
                if slot.is_none() {
                    let v = next_correction(&mut given, c.words)?;
                    *slot = Some(v);
                }
            }
        }
        Ok(Material {
            id: self.id,
            request: self.request,
            parts: parts.into_iter().map(Option::unwrap_or_default).collect(),
        })
    }
}

/// One request being dealt: the seeds are fixed (and can be sent at once); the corrections
/// for the last party are computed by [`Dealing::corrections`].
pub struct Dealing {
    id: u64,
    request: Request,
    kind: PrgKind,
    seeds: Vec<Seed>,
}

impl Dealing {
    /// The seed message for `party` (without corrections).
    pub fn seed_for(&self, party: usize) -> Option<Dealt> {
        self.seeds.get(party).map(|seed| Dealt {
            id: self.id,
            request: self.request.clone(),
            party,
            parties: self.seeds.len(),
            kind: self.kind,
            seed: *seed,
            corrections: Vec::new(),
        })
    }

    /// Whether [`correction_pieces`](Self::correction_pieces) can stream this request's
    /// correction (one correlated component computed front to back: Beaver triples).
    pub fn streams_corrections(&self) -> bool {
        matches!(self.request, Request::Mul { .. } | Request::Matmul { .. })
    }

    /// For a streamable request, hands the last party's single correction to `sink` in pieces
    /// of about `piece` words as they are computed, so that party can start before the
    /// dealer is done; `sink` returning false stops early.
    pub fn correction_pieces(
        &self,
        piece: usize,
        sink: impl FnMut(Vec<u64>) -> bool,
    ) -> Result<(), SmpcError> {
        let len = match self.request {
            Request::Mul { len } => len,
            Request::Matmul { m, k, n } => {
                // Row blocks of the product, each sent as soon as it is computed.
                let rows = (piece / n.max(1)).clamp(1, m.max(1));
                let comps = self.request.components()?;
                Corrections {
                    parties: self.seeds.len(),
                    kind: self.kind,
                }
                .matmul_correction_rows(&self.seeds, &comps, (m, k, n), rows, sink);
                return Ok(());
            }
            _ => {
                return Err(SmpcError::MaterialMismatch {
                    needed: "a Beaver triple request".into(),
                    got: self.request.describe(),
                });
            }
        };
        Corrections {
            parties: self.seeds.len(),
            kind: self.kind,
        }
        .mul_correction_chunks(&self.seeds, len, piece, sink);
        Ok(())
    }

    /// The corrections for the last party, one per correlated component.
    pub fn corrections(&self) -> Result<Vec<Vec<u64>>, SmpcError> {
        let comps = self.request.components()?;
        Corrections {
            parties: self.seeds.len(),
            kind: self.kind,
        }
        .compute(&self.request, &comps, &self.seeds)
    }
}

/// The crypto provider: deals correlated randomness to `parties` parties.
///
/// ```
/// use privgrid::smpc::dealer::{Dealer, Request};
/// use privgrid::smpc::reconstruct;
///
/// let mut dealer = Dealer::new(2)?;
/// let dealt = dealer.deal(&Request::Mul { len: 3 })?;
/// assert!(dealt[0].corrections.is_empty());     // seed only
/// assert_eq!(dealt[1].corrections.len(), 1);    // one tensor: the correction of c
/// let m: Vec<_> = dealt.into_iter().map(|d| d.expand()).collect::<Result<_, _>>()?;
/// for i in 0..3 {
///     let sum = |c: usize| m.iter().fold(0u64, |s, p| s.wrapping_add(p.parts[c][i]));
///     assert_eq!(sum(2), sum(0).wrapping_mul(sum(1)));
/// }
/// # Ok::<(), privgrid::Error>(())
/// ```
pub struct Dealer {
    parties: usize,
    kind: PrgKind,
    seeds: Prg,
    next_id: u64,
}

/// Elements per chunk when the dealer streams elementwise components.
const CHUNK: usize = 2048;

impl Dealer {
    /// A dealer for `parties ≥ 2` parties, seeded from the operating system.
    pub fn new(parties: usize) -> Result<Self, SmpcError> {
        Self::with_prg(parties, PrgKind::DEFAULT)
    }

    /// A dealer using `kind` to expand seeds.
    pub fn with_prg(parties: usize, kind: PrgKind) -> Result<Self, SmpcError> {
        if parties < 2 {
            return Err(SmpcError::Parties(format!(
                "a dealer needs at least 2 parties, got {parties}"
            )));
        }
        let mut seeds = Prg::from_os(PrgKind::ChaCha12, 0);
        let mut first = [0u64; 1];
        seeds.fill(&mut first);
        Ok(Self {
            parties,
            kind,
            seeds,
            next_id: first[0] >> 1,
        })
    }

    /// The number of parties served.
    pub fn parties(&self) -> usize {
        self.parties
    }

    /// Starts dealing `request`: draws the seeds and a fresh id.
    pub fn begin(&mut self, request: &Request) -> Result<Dealing, SmpcError> {
        request.components()?;
        let id = self.next_id;
        self.next_id = self.next_id.wrapping_add(1);
        Ok(Dealing {
            id,
            request: request.clone(),
            kind: self.kind,
            seeds: (0..self.parties).map(|_| self.seeds.seed()).collect(),
        })
    }

    /// Deals `request`: one [`Dealt`] per party, in party order, the corrections included.
    pub fn deal(&mut self, request: &Request) -> Result<Vec<Dealt>, SmpcError> {
        let dealing = self.begin(request)?;
        let mut corrections = Some(dealing.corrections()?);
        let n = self.parties;
        Ok((0..n)
            .filter_map(|p| dealing.seed_for(p))
            .map(|mut d| {
                if d.party + 1 == n {
                    d.corrections = corrections.take().unwrap_or_default();
                }
                d
            })
            .collect())
    }
}

/// The dealer's computation of the last party's corrections.
struct Corrections {
    parties: usize,
    kind: PrgKind,
}

impl Corrections {
    /// One generator per party for component `stream`.
    fn streams(&self, seeds: &[Seed], stream: usize, parties: usize) -> Vec<Prg> {
        seeds
            .iter()
            .take(parties)
            .map(|s| Prg::new(self.kind, s, stream as u64))
            .collect()
    }

    /// The combined value of a component over the first `parties` parties' shares.
    fn combined(&self, seeds: &[Seed], stream: usize, c: Component, parties: usize) -> Vec<u64> {
        let mut acc = vec![0u64; c.words];
        let mut buf = vec![0u64; CHUNK.min(c.words)];
        for mut prg in self.streams(seeds, stream, parties) {
            for chunk in acc.chunks_mut(CHUNK) {
                let b = &mut buf[..chunk.len()];
                prg.fill(b);
                match c.combine {
                    Combine::Add => add_assign_slice(chunk, b),
                    Combine::Xor => xor_assign_slice(chunk, b),
                }
            }
        }
        acc
    }

    fn compute(
        &self,
        request: &Request,
        comps: &[Component],
        seeds: &[Seed],
    ) -> Result<Vec<Vec<u64>>, SmpcError> {
        let n = self.parties;
        let all = |s: usize| comps.get(s).map(|&c| self.combined(seeds, s, c, n));
        let but_last = |s: usize| comps.get(s).map(|&c| self.combined(seeds, s, c, n - 1));
        let missing = || SmpcError::MaterialMismatch {
            needed: request.describe(),
            got: "a component list of another shape".into(),
        };
        match *request {
            Request::Mul { len } => Ok(vec![self.mul_correction(seeds, len)]),
            Request::Matmul { m, k, n: cols } => {
                let mut out = Vec::with_capacity(m * cols);
                self.matmul_correction_rows(seeds, comps, (m, k, cols), m.max(1), |rows| {
                    out.extend_from_slice(&rows);
                    true
                });
                Ok(vec![out])
            }
            Request::Trunc { len, frac_bits } => Ok(self.trunc_corrections(seeds, len, frac_bits)),
            Request::Compare { len } => {
                let rbits = all(0).ok_or_else(missing)?;
                let (a, b) = (all(1).ok_or_else(missing)?, all(2).ok_or_else(missing)?);
                let mut c = but_last(3).ok_or_else(missing)?;
                for ((ci, ai), bi) in c.iter_mut().zip(&a).zip(&b) {
                    *ci ^= ai & bi;
                }
                let dabit = all(4).ok_or_else(missing)?;
                let r = from_planes(&rbits, len);
                let bit: Vec<u64> = (0..len).map(|e| plane_bit(&dabit, e)).collect();
                let br: Vec<u64> = bit
                    .iter()
                    .zip(&r)
                    .map(|(&b, &r)| b.wrapping_mul(r))
                    .collect();
                Ok(vec![
                    c,
                    sub_vec(r, &but_last(5).ok_or_else(missing)?),
                    sub_vec(bit, &but_last(6).ok_or_else(missing)?),
                    sub_vec(br, &but_last(7).ok_or_else(missing)?),
                ])
            }
        }
    }

    /// Walks components 0, 1, 2 of a request chunk by chunk, summing the shares of
    /// `parties[i]` parties of component `i`, and hands each chunk's three sums to `each`
    /// (which returns false to stop).
    fn summed_chunks(
        &self,
        seeds: &[Seed],
        parties: [usize; 3],
        len: usize,
        mut each: impl FnMut(&[u64], &[u64], &[u64]) -> bool,
    ) {
        let mut gens = [0usize, 1, 2].map(|c| self.streams(seeds, c, parties[c]));
        let mut sums = [[0u64; CHUNK]; 3];
        let mut buf = [0u64; CHUNK];
        let mut done = 0;
        while done < len {
            let l = (len - done).min(CHUNK);
            for (g, sum) in gens.iter_mut().zip(sums.iter_mut()) {
                sum_streams(g, &mut sum[..l], &mut buf[..l]);
            }
            done += l;
            let [s0, s1, s2] = &sums;
            if !each(&s0[..l], &s1[..l], &s2[..l]) {
                return;
            }
        }
    }

    /// `c_last = a·b − Σ_{p<last} c_p` for a `[m, k] x [k, n]` triple, handed to `sink` in
    /// blocks of `rows` rows as they are computed (`sink` returning false stops early).
    fn matmul_correction_rows(
        &self,
        seeds: &[Seed],
        comps: &[Component],
        (_, k, n): (usize, usize, usize),
        rows: usize,
        mut sink: impl FnMut(Vec<u64>) -> bool,
    ) {
        let parties = self.parties;
        let [Some(&ca), Some(&cb), Some(&cc)] = [0, 1, 2].map(|i| comps.get(i)) else {
            return;
        };
        let a = self.combined(seeds, 0, ca, parties);
        let b = self.combined(seeds, 1, cb, parties);
        let mut others = self.combined(seeds, 2, cc, parties - 1);
        let b = matmul::Rhs::new(&b, k, n);
        for (block, c) in others.chunks_mut((rows * n).max(1)).enumerate() {
            let r0 = block * rows;
            let r = c.len() / n.max(1);
            c.iter_mut().for_each(|x| *x = x.wrapping_neg());
            let a_rows = a.get(r0 * k..(r0 + r) * k).unwrap_or_default();
            b.matmul_add_into(a_rows, c, r);
            if !sink(c.to_vec()) {
                return;
            }
        }
    }

    /// `[r_hi − Σ_{p<last} hi_p, r_msb − Σ_{p<last} msb_p]` with `r = Σ r_p`, chunk by chunk.
    fn trunc_corrections(&self, seeds: &[Seed], len: usize, frac_bits: u32) -> Vec<Vec<u64>> {
        let n = self.parties;
        let (mut hi_out, mut msb_out) = (Vec::with_capacity(len), Vec::with_capacity(len));
        self.summed_chunks(seeds, [n, n - 1, n - 1], len, |r, hi, msb| {
            hi_out.extend(
                r.iter()
                    .zip(hi)
                    .map(|(&x, &h)| ((x & (u64::MAX >> 1)) >> frac_bits).wrapping_sub(h)),
            );
            msb_out.extend(r.iter().zip(msb).map(|(&x, &m)| (x >> 63).wrapping_sub(m)));
            true
        });
        vec![hi_out, msb_out]
    }

    /// `c_last = (Σa)(Σb) − Σ_{p<last} c_p`, computed chunk by chunk so that nothing but the
    /// correction is ever held in full.
    fn mul_correction(&self, seeds: &[Seed], len: usize) -> Vec<u64> {
        let mut out = Vec::with_capacity(len);
        self.mul_correction_chunks(seeds, len, len.max(1), |chunk| {
            out.extend_from_slice(&chunk);
            true
        });
        out
    }

    /// Hands the triple correction to `sink` in pieces of about `piece` words, in order;
    /// stops early when `sink` returns false.
    fn mul_correction_chunks(
        &self,
        seeds: &[Seed],
        len: usize,
        piece: usize,
        mut sink: impl FnMut(Vec<u64>) -> bool,
    ) {
        let n = self.parties;
        let piece = piece.max(1);
        let mut out = Vec::with_capacity(piece.min(len));
        let mut done = 0;
        self.summed_chunks(seeds, [n, n, n - 1], len, |a, b, c| {
            out.extend(
                a.iter()
                    .zip(b)
                    .zip(c)
                    .map(|((x, y), c)| x.wrapping_mul(*y).wrapping_sub(*c)),
            );
            done += a.len();
            if out.len() >= piece || done == len {
                let full = std::mem::replace(&mut out, Vec::with_capacity(piece.min(len - done)));
                return sink(full);
            }
            true
        });
    }
}

/// `acc = Σ_g g.next(len)`: the first stream fills `acc`, the others are added via `buf`.
fn sum_streams(gens: &mut [Prg], acc: &mut [u64], buf: &mut [u64]) {
    let Some((first, rest)) = gens.split_first_mut() else {
        acc.iter_mut().for_each(|x| *x = 0);
        return;
    };
    first.fill(acc);
    for g in rest {
        g.fill(buf);
        add_assign_slice(acc, buf);
    }
}

/// The next correction from `given`, which must have `words` words.
fn next_correction(
    given: &mut impl Iterator<Item = Vec<u64>>,
    words: usize,
) -> Result<Vec<u64>, SmpcError> {
    let v = given.next().ok_or_else(|| SmpcError::MaterialMismatch {
        needed: "a correction per correlated component".into(),
        got: "too few corrections".into(),
    })?;
    if v.len() == words {
        Ok(v)
    } else {
        Err(SmpcError::MaterialMismatch {
            needed: format!("correction of {words} words"),
            got: format!("{} words", v.len()),
        })
    }
}

/// `a - b` elementwise, reusing `a`.
fn sub_vec(mut a: Vec<u64>, b: &[u64]) -> Vec<u64> {
    for (x, &y) in a.iter_mut().zip(b) {
        *x = x.wrapping_sub(y);
    }
    a
}
