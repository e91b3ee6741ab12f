//! One party's view of a computation: its channel, its correlated randomness, its counters.
//!
//! [`Party`] is what every protocol function takes. It owns the [`PartyChannel`] to the other
//! parties, a [`MaterialSource`] delivering expanded dealer material, the set of material ids
//! already used (single use is enforced here: [`SmpcError::MaterialReused`]), the fixed-point
//! format, and the [`CommStats`] counters. One *round* is one call of [`Party::exchange`]: send
//! one message to every peer, then receive one from every peer.

use super::channel::{CommStats, Message, PartyChannel};
use super::dealer::{Material, Request, Streamed};
use super::ring::{add_assign_slice, xor_assign_slice};
use super::{FixedPoint, RingTensor, SharedTensor, SmpcError};
use std::collections::{HashSet, VecDeque};
use std::ops::Range;
use std::sync::Arc;

/// Elements per message in [`Party::exchange_pipelined`]: 128 KiB per operand stays in L2, and
/// few enough hand-offs between party threads (4096 → 16384 took the 1M-element Beaver
/// multiplication end to end from 9.3 to 8.8 ms in `benches/smpc.rs`).
pub const PIPELINE_CHUNK: usize = 16384;

/// Where a party's correlated randomness comes from.
pub trait MaterialSource {
    /// The next piece of material, which must serve `request`.
    fn next(&mut self, request: &Request) -> Result<Material, SmpcError>;

    /// The next piece as streams, for protocols that consume material front to back. The
    /// default expands with [`next`](Self::next); a source holding seeds can return PRG streams
    /// so the expansion happens in cache, inside the protocol's pass.
    fn next_streamed(&mut self, request: &Request) -> Result<Streamed, SmpcError> {
        self.next(request)?.into_streamed()
    }
}

/// Material dealt and expanded in advance (the online phase), consumed in order.
#[derive(Default)]
pub struct Preprocessed {
    queue: VecDeque<Material>,
}

impl Preprocessed {
    /// A source handing out `material` in order.
    pub fn new(material: impl IntoIterator<Item = Material>) -> Self {
        Self {
            queue: material.into_iter().collect(),
        }
    }

    /// Appends more material.
    pub fn push(&mut self, material: Material) {
        self.queue.push_back(material);
    }
}

impl MaterialSource for Preprocessed {
    fn next(&mut self, request: &Request) -> Result<Material, SmpcError> {
        self.queue
            .pop_front()
            .ok_or_else(|| SmpcError::MaterialExhausted(request.describe()))
    }
}

/// The messages of one round: this party's own and its peers'.
pub struct Exchanged {
    /// What this party sent.
    pub own: Message,
    /// What each peer sent, in party order (this party excluded).
    pub others: Vec<Message>,
}

impl Exchanged {
    fn combine(self, op: impl Fn(u64, u64) -> u64, f: fn(&mut [u64], &[u64])) -> Vec<u64> {
        let Some((first, rest)) = self.others.split_first() else {
            return self.own.as_ref().clone();
        };
        // One pass for own ∘ first peer (no copy of our own message), then the rest in place.
        let mut acc: Vec<u64> = self
            .own
            .iter()
            .zip(first.iter())
            .map(|(a, b)| op(*a, *b))
            .collect();
        for m in rest {
            f(&mut acc, m);
        }
        acc
    }

    /// The sum of all messages (opening additive shares).
    pub fn sum(self) -> Vec<u64> {
        self.combine(u64::wrapping_add, add_assign_slice)
    }

    /// The XOR of all messages (opening XOR shares).
    pub fn xor(self) -> Vec<u64> {
        self.combine(|a, b| a ^ b, xor_assign_slice)
    }
}

/// One party in an n-party computation.
pub struct Party<C: PartyChannel> {
    channel: C,
    source: Box<dyn MaterialSource + Send>,
    ready: VecDeque<Material>,
    used: HashSet<u64>,
    stats: CommStats,
    fixed: FixedPoint,
    truncation: Truncation,
    /// This party's recently sent messages, kept so that their buffers can be reused once every
    /// peer has dropped its reference (a reused buffer is still in cache).
    retired: VecDeque<Message>,
}

/// How fixed-point products are truncated back to the fractional bits.
///
/// ```
/// use privgrid::smpc::Truncation;
/// assert_eq!(Truncation::default(), Truncation::DealerPairs);
/// ```
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize,
)]
pub enum Truncation {
    /// Dealer-assisted truncation pairs: one round and a correction per value, exact up to one
    /// unit of the last place, for any number of parties and any value with `|x| < 2^62`.
    #[default]
    DealerPairs,
    /// With exactly two parties, each shifts its own share (SecureML): no communication and no
    /// dealer material, but a value `x` (as a ring integer) comes out wrong, by about `2^(64-f)`,
    /// with probability about `|x| / 2^64` (2^-31 for a product near 1.0 with 16 fractional
    /// bits). The choice of CrypTen and SecureML for two parties. With more than two parties
    /// dealer pairs are used instead.
    LocalTwoParty,
}

/// Sent messages kept for buffer reuse.
const RETIRED_MAX: usize = 4;

impl<C: PartyChannel> Party<C> {
    /// A party talking over `channel`, taking dealer material from `source`.
    pub fn new(channel: C, source: Box<dyn MaterialSource + Send>, fixed: FixedPoint) -> Self {
        Self {
            channel,
            source,
            ready: VecDeque::new(),
            used: HashSet::new(),
            stats: CommStats::default(),
            fixed,
            truncation: Truncation::default(),
            retired: VecDeque::new(),
        }
    }

    /// The same party truncating fixed-point products with `truncation`.
    pub fn with_truncation(mut self, truncation: Truncation) -> Self {
        self.truncation = truncation;
        self
    }

    /// How this party truncates fixed-point products.
    pub fn truncation(&self) -> Truncation {
        self.truncation
    }

    /// This party's index.
    pub fn id(&self) -> usize {
        self.channel.party()
    }

    /// The number of parties.
    pub fn parties(&self) -> usize {
        self.channel.parties()
    }

    /// Whether this party adds public constants (party 0 does, the others do not).
    pub fn is_leader(&self) -> bool {
        self.id() == 0
    }

    /// The fixed-point format of the computation.
    pub fn fixed(&self) -> FixedPoint {
        self.fixed
    }

    /// Communication so far.
    pub fn stats(&self) -> CommStats {
        self.stats
    }

    /// Replaces the material source (e.g. to switch from live dealing to preprocessed).
    pub fn set_source(&mut self, source: Box<dyn MaterialSource + Send>) {
        self.source = source;
    }

    /// Fetches (and expands) the material for `requests` now, ahead of the computation that
    /// will consume it in this order: the offline phase. Protocols use prefetched material first.
    pub fn prefetch(&mut self, requests: &[Request]) -> Result<(), SmpcError> {
        for r in requests {
            let m = self.source.next(r)?;
            self.ready.push_back(m);
        }
        Ok(())
    }

    /// Takes the material for `request` (prefetched first, else from the source) and checks it:
    /// the right kind, never used before.
    pub fn material(&mut self, request: Request) -> Result<Material, SmpcError> {
        let m = match self.ready.pop_front() {
            Some(m) => m,
            None => self.source.next(&request)?,
        };
        if m.request != request {
            return Err(SmpcError::MaterialMismatch {
                needed: request.describe(),
                got: m.request.describe(),
            });
        }
        self.accept(&m)?;
        Ok(m)
    }

    /// Like [`material`](Self::material), as streams (prefetched material first).
    pub fn material_streamed(&mut self, request: Request) -> Result<Streamed, SmpcError> {
        let m = match self.ready.pop_front() {
            Some(m) => m.into_streamed()?,
            None => self.source.next_streamed(&request)?,
        };
        if m.request != request {
            return Err(SmpcError::MaterialMismatch {
                needed: request.describe(),
                got: m.request.describe(),
            });
        }
        self.mark_used(m.id)?;
        Ok(m)
    }

    /// Marks `material` used; an id seen before is [`SmpcError::MaterialReused`].
    pub fn accept(&mut self, material: &Material) -> Result<(), SmpcError> {
        self.mark_used(material.id)
    }

    fn mark_used(&mut self, id: u64) -> Result<(), SmpcError> {
        if self.used.insert(id) {
            Ok(())
        } else {
            Err(SmpcError::MaterialReused { id })
        }
    }

    /// One round: sends `words` to every other party, then receives one message of the same
    /// length from each. Returns this party's message and the peers' (in party order).
    pub fn exchange(&mut self, words: Vec<u64>) -> Result<Exchanged, SmpcError> {
        let len = words.len();
        let own = self.send_all(words)?;
        self.stats.rounds += 1;
        let others = self.recv_all(len)?;
        Ok(Exchanged { own, others })
    }

    fn send_all(&mut self, words: Vec<u64>) -> Result<Message, SmpcError> {
        let (me, n) = (self.id(), self.parties());
        let len = words.len() as u64;
        let msg: Message = Arc::new(words);
        for to in (0..n).filter(|&p| p != me) {
            self.channel.send(to, Arc::clone(&msg))?;
            self.stats.messages_sent += 1;
            self.stats.bytes_sent += 8 * len;
        }
        Ok(msg)
    }

    fn recv_all(&mut self, len: usize) -> Result<Vec<Message>, SmpcError> {
        let (me, n) = (self.id(), self.parties());
        let mut out = Vec::with_capacity(n.saturating_sub(1));
        for from in (0..n).filter(|&p| p != me) {
            let m = self.channel.recv(from)?;
            if m.len() != len {
                return Err(SmpcError::MessageLength {
                    from,
                    expected: len,
                    got: m.len(),
                });
            }
            out.push(m);
        }
        Ok(out)
    }

    /// One round over `elements` elements, **pipelined** in chunks of [`PIPELINE_CHUNK`]
    /// elements so that the data stays in cache: `produce(range, buffer)` appends this party's
    /// words for those elements to `buffer` (an empty, possibly recycled vector) and returns it;
    /// every party produces the same count, and the words go to every peer. Once the peers'
    /// words for the chunk arrive, `consume(range, own, peers)` uses them. The next chunk is
    /// sent before waiting for the current one. Counts one round and one message per chunk and
    /// peer (at least one chunk, even when `elements` is 0).
    pub fn exchange_pipelined(
        &mut self,
        elements: usize,
        mut produce: impl FnMut(Range<usize>, Vec<u64>) -> Vec<u64>,
        mut consume: impl FnMut(Range<usize>, &[u64], &[Message]),
    ) -> Result<(), SmpcError> {
        let chunks = elements.div_ceil(PIPELINE_CHUNK).max(1);
        let range = |t: usize| t * PIPELINE_CHUNK..((t + 1) * PIPELINE_CHUNK).min(elements);
        let buffer = self.recycled_buffer();
        let mut pending = Some(self.send_all(produce(range(0), buffer))?);
        for t in 0..chunks {
            let own = pending.take().unwrap_or_default();
            if t + 1 < chunks {
                let buffer = self.recycled_buffer();
                pending = Some(self.send_all(produce(range(t + 1), buffer))?);
            }
            let others = self.recv_all(own.len())?;
            consume(range(t), &own, &others);
            drop(others);
            self.retire(own);
        }
        self.stats.rounds += 1;
        Ok(())
    }

    /// An empty vector, reusing the buffer of a sent message that no peer holds any more.
    fn recycled_buffer(&mut self) -> Vec<u64> {
        for _ in 0..self.retired.len() {
            let Some(m) = self.retired.pop_front() else {
                break;
            };
            match Arc::try_unwrap(m) {
                Ok(mut v) => {
                    v.clear();
                    return v;
                }
                Err(m) => self.retired.push_back(m),
            }
        }
        Vec::new()
    }

    /// Keeps a sent message for [`recycled_buffer`](Self::recycled_buffer).
    fn retire(&mut self, message: Message) {
        self.retired.push_back(message);
        while self.retired.len() > RETIRED_MAX {
            self.retired.pop_front();
        }
    }

    /// One pipelined round opening `len` shared words produced chunk by chunk by
    /// `produce(range)`: returns the sum (or with `xor`, the XOR) of all parties' words. Keeps
    /// every message small (see [`exchange_pipelined`](Self::exchange_pipelined)).
    pub fn open_with(
        &mut self,
        len: usize,
        xor: bool,
        produce: impl FnMut(Range<usize>, Vec<u64>) -> Vec<u64>,
    ) -> Result<Vec<u64>, SmpcError> {
        let mut out = Vec::with_capacity(len);
        self.exchange_pipelined(len, produce, |_, own, others| {
            let start = out.len();
            out.extend_from_slice(own);
            let acc = out.get_mut(start..).unwrap_or_default();
            for m in others {
                if xor {
                    xor_assign_slice(acc, m);
                } else {
                    add_assign_slice(acc, m);
                }
            }
        })?;
        Ok(out)
    }

    /// One round opening additive shares `words`: returns the sum of all parties' words.
    pub fn open_words(&mut self, words: Vec<u64>) -> Result<Vec<u64>, SmpcError> {
        Ok(self.exchange(words)?.sum())
    }

    /// One round opening XOR shares `words`: returns the XOR of all parties' words.
    pub fn open_xor_words(&mut self, words: Vec<u64>) -> Result<Vec<u64>, SmpcError> {
        Ok(self.exchange(words)?.xor())
    }

    /// Opens a shared tensor to every party (one round).
    pub fn open(&mut self, share: &SharedTensor) -> Result<RingTensor, SmpcError> {
        let data = self.open_words(share.ring().data().to_vec())?;
        Ok(RingTensor::new(share.shape(), data)?)
    }

    /// Opens a shared fixed-point tensor and decodes it.
    pub fn open_fixed(&mut self, share: &SharedTensor) -> Result<crate::tensor::Tensor, SmpcError> {
        let ring = self.open(share)?;
        self.fixed.decode_tensor(&ring)
    }

    /// Shares of a public ring tensor: the leader holds it, the others hold zero.
    pub fn public(&self, value: &RingTensor) -> SharedTensor {
        if self.is_leader() {
            SharedTensor::new(value.clone())
        } else {
            SharedTensor::new(value.map(|_| 0))
        }
    }
}
