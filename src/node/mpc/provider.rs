//! The crypto provider's side of a session: deals each step's correlated randomness as the
//! parties ask for it, until every party has finished.
//!
//! The first party's request decides a step: the provider deals at once (seeds to every party
//! first, then the last party's seed with its corrections), and only then checks that every
//! other party asked for the same thing, so no party waits for the slowest one to ask. Requests
//! are bounded before anything is dealt.

use super::links::SessionLink;
use crate::protocol::{MpcPayload, MpcSender};
use crate::smpc::SmpcError;
use crate::smpc::dealer::{Dealer, Request};
use std::sync::Arc;

/// What the provider did in one session.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Dealings {
    /// Requests served.
    pub(crate) steps: u64,
    /// Correction words sent.
    pub(crate) correction_words: u64,
}

/// Words per streamed correction piece: 1 MiB, a few hundred microseconds of dealer work.
const NET_PIECE: usize = 1 << 17;

fn party(i: usize) -> MpcSender {
    MpcSender::Party(i as u32)
}

/// Serves the session behind `link` (whose `me` is ignored) until every party has finished.
pub(crate) fn serve(link: &SessionLink, max_elements: usize) -> Result<Dealings, SmpcError> {
    let n = link.parties;
    let mut dealer = Dealer::new(n)?;
    let mut done = Dealings::default();
    let take = |i: usize| link.inbox.take(party(i), link.timeout);
    loop {
        let request = match take(0)? {
            MpcPayload::Need(request) => request,
            MpcPayload::Finished => {
                for i in 1..n {
                    match take(i)? {
                        MpcPayload::Finished => {}
                        other => return Err(disagreement(0, i, "finished", &other)),
                    }
                }
                return Ok(done);
            }
            other => return Err(unexpected(0, &other)),
        };
        if request.elements() > max_elements {
            return Err(SmpcError::Parties(format!(
                "{} is larger than this provider deals ({max_elements} elements)",
                request.describe()
            )));
        }
        deal(link, &mut dealer, &request, &mut done)?;
        for i in 1..n {
            match take(i)? {
                MpcPayload::Need(r) if r == request => {}
                other => return Err(disagreement(0, i, &request.describe(), &other)),
            }
        }
    }
}

/// Seeds to the first parties at once, then the last party's seed with its corrections.
fn deal(
    link: &SessionLink,
    dealer: &mut Dealer,
    request: &Request,
    done: &mut Dealings,
) -> Result<(), SmpcError> {
    let n = link.parties;
    let dealing = dealer.begin(request)?;
    for i in 0..n {
        let Some(mut dealt) = dealing.seed_for(i) else {
            continue;
        };
        if i + 1 < n {
            link.outbox
                .post(party(i), MpcPayload::Material(Box::new(dealt)));
        } else if dealing.streams_corrections() {
            // The last party starts on its seed; the correction follows piece by piece as it
            // is computed, so computing, sending and using it overlap.
            link.outbox
                .post(party(i), MpcPayload::MaterialStreamed(Box::new(dealt)));
            let piece = match request {
                Request::Matmul { n: cols, .. } => (NET_PIECE / (*cols).max(1)).max(1) * cols,
                _ => NET_PIECE,
            };
            dealing.correction_pieces(piece, |words| {
                done.correction_words += words.len() as u64;
                link.outbox
                    .post(party(i), MpcPayload::Correction(Arc::new(words)));
                true
            })?;
        } else {
            dealt.corrections = dealing.corrections()?;
            done.correction_words += dealt
                .corrections
                .iter()
                .map(|c| c.len() as u64)
                .sum::<u64>();
            link.outbox
                .post(party(i), MpcPayload::Material(Box::new(dealt)));
        }
    }
    done.steps += 1;
    Ok(())
}

fn describe(payload: &MpcPayload) -> String {
    match payload {
        MpcPayload::Need(r) => r.describe(),
        MpcPayload::Finished => "finished".into(),
        MpcPayload::Words { .. } => "protocol words".into(),
        MpcPayload::Material(_) | MpcPayload::MaterialStreamed(_) => "dealer material".into(),
        MpcPayload::Correction(_) => "a correction piece".into(),
        MpcPayload::Abort(r) => format!("abort ({r})"),
    }
}

fn unexpected(from: usize, payload: &MpcPayload) -> SmpcError {
    SmpcError::MaterialMismatch {
        needed: format!("a request or a finish notice from party {from}"),
        got: describe(payload),
    }
}

fn disagreement(first: usize, other: usize, wanted: &str, got: &MpcPayload) -> SmpcError {
    SmpcError::DealerDisagreement(format!(
        "party {first}: {wanted}; party {other}: {}",
        describe(got)
    ))
}
