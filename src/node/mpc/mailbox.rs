//! A session's inbox: one ordered queue per sender (each party and the crypto provider), filled
//! by the async request handler as messages arrive and drained by the blocking computation.
//!
//! Senders number their messages to each receiver from 0 and may deliver them concurrently;
//! the mailbox puts them back in order. It bounds what it holds (bytes, and how far ahead of
//! the next expected message a sender may run), and an `Abort` from anyone, or a local
//! failure, wakes every waiting receiver at once.

use crate::protocol::{MpcPayload, MpcSender};
use crate::smpc::SmpcError;
use std::collections::BTreeMap;
use std::sync::{Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// How many messages a sender may run ahead of the next one the receiver expects.
const MAX_AHEAD: u64 = 1 << 16;

/// Why a delivery was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Refused {
    /// The sender is not a participant of this session.
    UnknownSender,
    /// The sequence number was already delivered, or is implausibly far ahead.
    BadSequence(u64),
    /// Holding the message would exceed the session's buffer limit.
    Full {
        /// Bytes the session may hold.
        max: usize,
    },
}

#[derive(Default)]
struct Queue {
    next: u64,
    pending: BTreeMap<u64, MpcPayload>,
}

struct State {
    queues: Vec<Queue>,
    aborted: Option<String>,
    bytes: usize,
}

/// The inbox of one session at one participant.
pub(crate) struct Mailbox {
    parties: usize,
    max_bytes: usize,
    state: Mutex<State>,
    arrived: Condvar,
}

/// The bytes a payload occupies while it waits.
fn footprint(payload: &MpcPayload) -> usize {
    let words = match payload {
        MpcPayload::Words { words, .. } | MpcPayload::Correction(words) => words.len(),
        MpcPayload::Material(dealt) | MpcPayload::MaterialStreamed(dealt) => {
            dealt.corrections.iter().map(Vec::len).sum()
        }
        _ => 0,
    };
    words.saturating_mul(8).saturating_add(64)
}

fn name(from: MpcSender) -> String {
    match from {
        MpcSender::Party(i) => format!("party {i}"),
        MpcSender::Provider => "the crypto provider".into(),
    }
}

impl Mailbox {
    /// An inbox for a session of `parties` parties plus the provider, holding at most
    /// `max_bytes` of undelivered messages.
    pub(crate) fn new(parties: usize, max_bytes: usize) -> Self {
        Self {
            parties,
            max_bytes,
            state: Mutex::new(State {
                queues: (0..=parties).map(|_| Queue::default()).collect(),
                aborted: None,
                bytes: 0,
            }),
            arrived: Condvar::new(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn slot(&self, from: MpcSender) -> Option<usize> {
        match from {
            MpcSender::Party(i) => usize::try_from(i).ok().filter(|&i| i < self.parties),
            MpcSender::Provider => Some(self.parties),
        }
    }

    /// Accepts message `seq` from `from`. An `Abort` takes effect at once, whatever its place.
    pub(crate) fn deliver(
        &self,
        from: MpcSender,
        seq: u64,
        payload: MpcPayload,
    ) -> Result<(), Refused> {
        let slot = self.slot(from).ok_or(Refused::UnknownSender)?;
        let mut state = self.lock();
        if let MpcPayload::Abort(reason) = &payload {
            state
                .aborted
                .get_or_insert_with(|| format!("{} gave up: {reason:.500}", name(from)));
            drop(state);
            self.arrived.notify_all();
            return Ok(());
        }
        let size = footprint(&payload);
        let queue = &state.queues[slot];
        if seq < queue.next || seq - queue.next >= MAX_AHEAD || queue.pending.contains_key(&seq) {
            return Err(Refused::BadSequence(seq));
        }
        if state.bytes.saturating_add(size) > self.max_bytes {
            return Err(Refused::Full {
                max: self.max_bytes,
            });
        }
        state.bytes += size;
        state.queues[slot].pending.insert(seq, payload);
        drop(state);
        self.arrived.notify_all();
        Ok(())
    }

    /// The next message from `from`, waiting at most `timeout` for it.
    pub(crate) fn take(&self, from: MpcSender, timeout: Duration) -> Result<MpcPayload, SmpcError> {
        let slot = self
            .slot(from)
            .ok_or_else(|| SmpcError::Parties(format!("no {} in this session", name(from))))?;
        let deadline = Instant::now() + timeout;
        let mut state = self.lock();
        loop {
            if let Some(reason) = &state.aborted {
                return Err(SmpcError::Aborted(reason.clone()));
            }
            let queue = &mut state.queues[slot];
            let next = queue.next;
            if let Some(payload) = queue.pending.remove(&next) {
                queue.next += 1;
                state.bytes = state.bytes.saturating_sub(footprint(&payload));
                return Ok(payload);
            }
            let now = Instant::now();
            if now >= deadline {
                return Err(SmpcError::Timeout {
                    from: name(from),
                    seconds: timeout.as_secs(),
                });
            }
            state = self
                .arrived
                .wait_timeout(state, deadline - now)
                .unwrap_or_else(|p| p.into_inner())
                .0;
        }
    }

    /// Fails the session here: every waiting and later `take` returns `Aborted(reason)`.
    pub(crate) fn abort(&self, reason: String) {
        self.lock().aborted.get_or_insert(reason);
        self.arrived.notify_all();
    }

    /// Why the session failed, if it did.
    pub(crate) fn aborted(&self) -> Option<String> {
        self.lock().aborted.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    fn words(v: &[u64]) -> MpcPayload {
        MpcPayload::Words {
            words: Arc::new(v.to_vec()),
            more: false,
        }
    }

    const SHORT: Duration = Duration::from_millis(50);

    #[test]
    fn messages_delivered_out_of_order_come_out_in_order() {
        let inbox = Mailbox::new(2, 1 << 20);
        inbox.deliver(MpcSender::Party(1), 1, words(&[2])).unwrap();
        inbox.deliver(MpcSender::Party(1), 0, words(&[1])).unwrap();
        assert_eq!(inbox.take(MpcSender::Party(1), SHORT).unwrap(), words(&[1]));
        assert_eq!(inbox.take(MpcSender::Party(1), SHORT).unwrap(), words(&[2]));
        assert!(matches!(
            inbox.take(MpcSender::Party(1), SHORT),
            Err(SmpcError::Timeout { .. })
        ));
    }

    #[test]
    fn duplicates_strangers_runaways_and_floods_are_refused() {
        let inbox = Mailbox::new(2, 1000);
        inbox.deliver(MpcSender::Party(0), 0, words(&[1])).unwrap();
        assert_eq!(
            inbox.deliver(MpcSender::Party(0), 0, words(&[1])),
            Err(Refused::BadSequence(0))
        );
        assert_eq!(
            inbox.deliver(MpcSender::Party(2), 0, words(&[1])),
            Err(Refused::UnknownSender)
        );
        assert_eq!(
            inbox.deliver(MpcSender::Party(0), MAX_AHEAD + 5, words(&[1])),
            Err(Refused::BadSequence(MAX_AHEAD + 5))
        );
        assert_eq!(
            inbox.deliver(MpcSender::Provider, 0, words(&[0; 200])),
            Err(Refused::Full { max: 1000 })
        );
        // Taking frees the space again.
        inbox.take(MpcSender::Party(0), SHORT).unwrap();
        inbox
            .deliver(MpcSender::Provider, 0, words(&[0; 100]))
            .unwrap();
        inbox.take(MpcSender::Provider, SHORT).unwrap();
        assert_eq!(
            inbox.deliver(MpcSender::Party(0), 0, words(&[1])),
            Err(Refused::BadSequence(0)),
            "an old sequence number stays refused after it was taken"
        );
    }

    #[test]
    fn an_abort_wakes_a_waiting_receiver() {
        let inbox = Arc::new(Mailbox::new(2, 1 << 20));
        let waiter = {
            let inbox = inbox.clone();
            std::thread::spawn(move || inbox.take(MpcSender::Party(0), Duration::from_secs(30)))
        };
        std::thread::sleep(Duration::from_millis(20));
        inbox
            .deliver(
                MpcSender::Party(1),
                7,
                MpcPayload::Abort("bad input".into()),
            )
            .unwrap();
        let result = waiter.join().unwrap();
        assert!(
            matches!(&result, Err(SmpcError::Aborted(r)) if r.contains("party 1") && r.contains("bad input")),
            "{result:?}"
        );
    }
}
