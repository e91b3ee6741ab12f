//! The in-process simulator: n party threads and a dealer thread, connected by channels.
//!
//! [`Simulator::run`] starts one thread per party (each with a [`SimChannel`] to every other
//! party and a link to the dealer) plus a dealer thread serving requests as the parties make
//! them, runs the same closure in every party, and returns each party's result in party order.
//! The dealer thread checks that all parties ask for the same thing at each step, deals, and
//! sends each party only its own seed (and the last party its corrections); the parties expand
//! the seeds in their own threads, in parallel. Seeds go out before the dealer computes the
//! corrections, and a Beaver triple's correction is streamed in pieces of 32768 words, so the
//! dealer and the parties work at the same time.
//!
//! The parties are threads rather than a single-threaded lockstep loop: the protocols are
//! straight-line blocking code (see [`channel`](super::channel)), and with 2 parties on 2 cores
//! threads also run the parties' local work in parallel. No memory is shared between the threads except
//! through the channels.

use super::channel::{CommStats, SimChannel, sim_mesh};
use super::dealer::{Dealer, Dealt, Request, Streamed};
use super::party::MaterialSource;
use super::prg::PrgKind;
use super::{FixedPoint, Party, SmpcError, Truncation};
use std::sync::mpsc::{Receiver, Sender, channel};

/// What the dealer thread sends a party: first the seed, later (last party only) corrections.
enum FromDealer {
    Seed(Dealt),
    /// The last party's seed for a request whose correction follows in pieces.
    SeedStreaming(Dealt, Receiver<Vec<u64>>),
    Corrections(Vec<Vec<u64>>),
}

/// Words per correction piece streamed to the last party.
const CORRECTION_PIECE: usize = 1 << 15;

/// Words per correction piece of a matrix triple (whole rows; 32 rows of 128 columns, one
/// block of the AMX kernel).
const MATRIX_PIECE: usize = 1 << 12;

/// A party's link to the simulator's dealer thread.
struct DealerLink {
    to: Sender<Request>,
    from: Receiver<FromDealer>,
}

impl DealerLink {
    fn receive(&self) -> Result<FromDealer, SmpcError> {
        self.from
            .recv()
            .map_err(|_| SmpcError::ChannelClosed("dealer".into()))
    }

    fn corrections(&self) -> Result<Vec<Vec<u64>>, SmpcError> {
        match self.receive()? {
            FromDealer::Corrections(c) => Ok(c),
            _ => Err(out_of_order()),
        }
    }
}

fn out_of_order() -> SmpcError {
    SmpcError::MaterialMismatch {
        needed: "dealer messages in order".into(),
        got: "out of order".into(),
    }
}

impl MaterialSource for DealerLink {
    fn next(&mut self, request: &Request) -> Result<super::dealer::Material, SmpcError> {
        self.to
            .send(request.clone())
            .map_err(|_| SmpcError::ChannelClosed("dealer".into()))?;
        match self.receive()? {
            // Expand from the seed while the dealer computes the corrections.
            FromDealer::Seed(dealt) => dealt.expand_then(|| self.corrections()),
            FromDealer::SeedStreaming(dealt, pieces) => {
                dealt.expand_then(|| Ok(vec![pieces.iter().flatten().collect()]))
            }
            FromDealer::Corrections(_) => Err(out_of_order()),
        }
    }

    fn next_streamed(&mut self, request: &Request) -> Result<Streamed, SmpcError> {
        self.to
            .send(request.clone())
            .map_err(|_| SmpcError::ChannelClosed("dealer".into()))?;
        match self.receive()? {
            FromDealer::Seed(mut dealt) => {
                if dealt.party + 1 == dealt.parties {
                    dealt.corrections = self.corrections()?;
                }
                dealt.into_streamed()
            }
            FromDealer::SeedStreaming(dealt, pieces) => {
                dealt.into_streamed_with(Some(Box::new(move || pieces.recv().ok())))
            }
            FromDealer::Corrections(_) => Err(out_of_order()),
        }
    }
}

/// Runs n parties and a dealer in threads of this process.
///
/// ```
/// use privgrid::smpc::{Simulator, FixedPoint, protocols, share_fixed_for};
/// use privgrid::Tensor;
///
/// let sim = Simulator::new(3)?;
/// let fx = FixedPoint::default();
/// let x = share_fixed_for(&Tensor::from_vec(vec![1.5, -2.0]), 3, fx)?;
/// let y = share_fixed_for(&Tensor::from_vec(vec![4.0, 0.25]), 3, fx)?;
/// let out = sim.run(|p| {
///     let z = protocols::mul_fixed(p, &x[p.id()], &y[p.id()])?;
///     p.open_fixed(&z)
/// })?;
/// assert!(out[0].approx_eq(&Tensor::from_vec(vec![6.0, -0.5]), 1e-4));
/// # Ok::<(), privgrid::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct Simulator {
    parties: usize,
    fixed: FixedPoint,
    prg: PrgKind,
    truncation: Truncation,
}

impl Simulator {
    /// A simulator for `parties ≥ 2` parties with the default fixed-point format and PRG.
    pub fn new(parties: usize) -> Result<Self, SmpcError> {
        if parties < 2 {
            return Err(SmpcError::Parties(format!(
                "a computation needs at least 2 parties, got {parties}"
            )));
        }
        Ok(Self {
            parties,
            fixed: FixedPoint::default(),
            prg: PrgKind::DEFAULT,
            truncation: Truncation::default(),
        })
    }

    /// The same simulator with another fixed-point format.
    pub fn with_fixed(mut self, fixed: FixedPoint) -> Self {
        self.fixed = fixed;
        self
    }

    /// The same simulator with another truncation of fixed-point products.
    pub fn with_truncation(mut self, truncation: Truncation) -> Self {
        self.truncation = truncation;
        self
    }

    /// The same simulator with another seed expansion.
    pub fn with_prg(mut self, prg: PrgKind) -> Self {
        self.prg = prg;
        self
    }

    /// The number of parties.
    pub fn parties(&self) -> usize {
        self.parties
    }

    /// Runs `f` in every party; returns the results in party order.
    pub fn run<R, F>(&self, f: F) -> Result<Vec<R>, SmpcError>
    where
        R: Send,
        F: Fn(&mut Party<SimChannel>) -> Result<R, SmpcError> + Sync,
    {
        Ok(self
            .run_with_stats(f)?
            .into_iter()
            .map(|(r, _)| r)
            .collect())
    }

    /// Like [`run`](Self::run), with each party's communication counters.
    pub fn run_with_stats<R, F>(&self, f: F) -> Result<Vec<(R, CommStats)>, SmpcError>
    where
        R: Send,
        F: Fn(&mut Party<SimChannel>) -> Result<R, SmpcError> + Sync,
    {
        let n = self.parties;
        let dealer = Dealer::with_prg(n, self.prg)?;
        let (mut req_rx, mut reply_tx, mut links) = (Vec::new(), Vec::new(), Vec::new());
        for _ in 0..n {
            let (req_tx, rrx) = channel::<Request>();
            let (dtx, drx) = channel::<FromDealer>();
            req_rx.push(rrx);
            reply_tx.push(dtx);
            links.push(DealerLink {
                to: req_tx,
                from: drx,
            });
        }
        let f = &f;
        let fixed = self.fixed;
        let truncation = self.truncation;
        std::thread::scope(|scope| {
            let dealer_thread = scope.spawn(move || serve(dealer, req_rx, reply_tx));
            let handles: Vec<_> = sim_mesh(n)
                .into_iter()
                .zip(links)
                .map(|(chan, link)| {
                    scope.spawn(move || {
                        let mut party =
                            Party::new(chan, Box::new(link), fixed).with_truncation(truncation);
                        let r = f(&mut party)?;
                        Ok((r, party.stats()))
                    })
                })
                .collect();
            let results: Vec<Result<(R, CommStats), SmpcError>> = handles
                .into_iter()
                .map(|h| h.join().unwrap_or(Err(SmpcError::ThreadPanicked)))
                .collect();
            let dealer_result = dealer_thread
                .join()
                .unwrap_or(Err(SmpcError::ThreadPanicked));
            collect(results, dealer_result)
        })
    }
}

/// The first meaningful error (a closed channel is usually a consequence, not the cause).
fn collect<R>(
    results: Vec<Result<R, SmpcError>>,
    dealer: Result<(), SmpcError>,
) -> Result<Vec<R>, SmpcError> {
    let is_cause = |e: &SmpcError| !matches!(e, SmpcError::ChannelClosed(_));
    if let Some(Err(e)) = results.iter().find(|r| matches!(r, Err(e) if is_cause(e))) {
        return Err(e.clone());
    }
    if let Err(e) = &dealer {
        return Err(e.clone());
    }
    results.into_iter().collect()
}

/// The dealer thread: serves one request per party per step until a party hangs up.
fn serve(
    mut dealer: Dealer,
    requests: Vec<Receiver<Request>>,
    replies: Vec<Sender<FromDealer>>,
) -> Result<(), SmpcError> {
    loop {
        let mut first: Option<Request> = None;
        for rx in &requests {
            let Ok(r) = rx.recv() else {
                return Ok(());
            };
            match &first {
                None => first = Some(r),
                Some(f) if *f == r => {}
                Some(f) => {
                    return Err(SmpcError::DealerDisagreement(format!(
                        "{} vs {}",
                        f.describe(),
                        r.describe()
                    )));
                }
            }
        }
        let Some(request) = first else {
            return Ok(());
        };
        // Seeds first, so every party starts at once; then the corrections, in pieces as they
        // are computed when the request allows it.
        let dealing = dealer.begin(&request)?;
        let streaming = dealing.streams_corrections();
        let (piece_tx, piece_rx) = channel::<Vec<u64>>();
        let mut piece_rx = Some(piece_rx);
        let last_party = replies.len().saturating_sub(1);
        for (party, tx) in replies.iter().enumerate() {
            let Some(seed) = dealing.seed_for(party) else {
                continue;
            };
            let msg = match (streaming && party == last_party, piece_rx.take()) {
                (true, Some(rx)) => FromDealer::SeedStreaming(seed, rx),
                (_, rx) => {
                    piece_rx = rx;
                    FromDealer::Seed(seed)
                }
            };
            if tx.send(msg).is_err() {
                return Ok(());
            }
        }
        // The parties just woken may be waiting for a core this thread holds: let them run
        // first, and again after every piece (on a machine with fewer cores than threads the
        // scheduler would otherwise leave a party parked until the dealer is done).
        std::thread::yield_now();
        if streaming {
            let piece = match request {
                Request::Matmul { .. } => MATRIX_PIECE,
                _ => CORRECTION_PIECE,
            };
            dealing.correction_pieces(piece, |p| {
                let sent = piece_tx.send(p).is_ok();
                std::thread::yield_now();
                sent
            })?;
            continue;
        }
        let corrections = dealing.corrections()?;
        if let Some(last) = replies.last()
            && last.send(FromDealer::Corrections(corrections)).is_err()
        {
            return Ok(());
        }
    }
}
