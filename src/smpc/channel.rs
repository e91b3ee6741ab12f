//! The abstract party channel that every protocol is written against.
//!
//! A [`PartyChannel`] moves word messages between numbered parties: `send(to, msg)` and
//! `recv(from)`. Protocol code never assumes the parties share memory: everything a party learns
//! from another arrives through `recv`. Messages are `Arc<Vec<u64>>` so one buffer can go to
//! several peers without copying in process; a network implementation serializes the words.
//!
//! **Blocking, by design.** The trait is synchronous: `recv` blocks until the message is there.
//! The protocols are long straight-line sequences of local work and exchanges, and a blocking
//! interface keeps them plain functions that run in a simulator thread today and, for the grid,
//! inside `tokio::task::spawn_blocking` with a channel implementation bridged to the async
//! transports (`tokio::sync::mpsc` offers `blocking_send` / `blocking_recv` for exactly this).
//! That keeps this layer free of async runtimes and lets the same code be benchmarked without one.
//!
//! Rounds and bytes are counted by [`Party`](crate::smpc::Party) on top of the channel, so the
//! counts do not depend on the implementation.

use super::SmpcError;
use std::sync::Arc;
use std::sync::mpsc::{Receiver, Sender, channel};

/// A message between parties: ring words.
pub type Message = Arc<Vec<u64>>;

/// Point-to-point, ordered, reliable messaging between `parties()` numbered parties.
pub trait PartyChannel {
    /// This party's index, in `0..parties()`.
    fn party(&self) -> usize;
    /// The number of parties.
    fn parties(&self) -> usize;
    /// Sends `message` to party `to` (must not block indefinitely).
    fn send(&mut self, to: usize, message: Message) -> Result<(), SmpcError>;
    /// Receives the next message from party `from`, blocking until it arrives.
    fn recv(&mut self, from: usize) -> Result<Message, SmpcError>;
}

/// Communication counters of one party.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CommStats {
    /// Communication rounds (each party sends, then waits for its peers).
    pub rounds: u64,
    /// Payload bytes this party sent (8 per ring word, summed over peers).
    pub bytes_sent: u64,
    /// Messages this party sent.
    pub messages_sent: u64,
}

impl CommStats {
    /// The counters accumulated since `earlier` (a snapshot of the same party).
    pub fn since(&self, earlier: &CommStats) -> CommStats {
        CommStats {
            rounds: self.rounds.saturating_sub(earlier.rounds),
            bytes_sent: self.bytes_sent.saturating_sub(earlier.bytes_sent),
            messages_sent: self.messages_sent.saturating_sub(earlier.messages_sent),
        }
    }
}

/// An in-process channel endpoint over `std::sync::mpsc`, one queue per ordered pair of parties.
pub struct SimChannel {
    me: usize,
    to: Vec<Option<Sender<Message>>>,
    from: Vec<Option<Receiver<Message>>>,
}

/// Endpoints for `parties` fully connected in-process parties (index = party).
pub fn sim_mesh(parties: usize) -> Vec<SimChannel> {
    let mut ends: Vec<SimChannel> = (0..parties)
        .map(|me| SimChannel {
            me,
            to: (0..parties).map(|_| None).collect(),
            from: (0..parties).map(|_| None).collect(),
        })
        .collect();
    for i in 0..parties {
        for j in 0..parties {
            if i != j {
                let (tx, rx) = channel();
                if let Some(slot) = ends.get_mut(i).and_then(|e| e.to.get_mut(j)) {
                    *slot = Some(tx);
                }
                if let Some(slot) = ends.get_mut(j).and_then(|e| e.from.get_mut(i)) {
                    *slot = Some(rx);
                }
            }
        }
    }
    ends
}

impl PartyChannel for SimChannel {
    fn party(&self) -> usize {
        self.me
    }

    fn parties(&self) -> usize {
        self.to.len()
    }

    fn send(&mut self, to: usize, message: Message) -> Result<(), SmpcError> {
        let tx = self
            .to
            .get(to)
            .and_then(Option::as_ref)
            .ok_or_else(|| SmpcError::Parties(format!("no channel to party {to}")))?;
        tx.send(message)
            .map_err(|_| SmpcError::ChannelClosed(format!("party {to}")))
    }

    fn recv(&mut self, from: usize) -> Result<Message, SmpcError> {
        let rx = self
            .from
            .get(from)
            .and_then(Option::as_ref)
            .ok_or_else(|| SmpcError::Parties(format!("no channel from party {from}")))?;
        rx.recv()
            .map_err(|_| SmpcError::ChannelClosed(format!("party {from}")))
    }
}
