//! Sending a session's messages to the other participants, from the blocking thread that runs
//! the computation.
//!
//! [`Outbox::post`] numbers the message for its receiver and hands it to a task on the node's
//! async runtime, which encodes it and calls the peer; it never blocks the computation. Messages
//! to one receiver may therefore be in flight concurrently (the receiver's mailbox puts them
//! back in order). A refused or failed delivery aborts the session here, so the computation
//! stops at its next receive instead of waiting for an answer that will never come.

use super::mailbox::Mailbox;
use crate::protocol::{
    MpcMessage, MpcPayload, MpcRequest, MpcSender, MpcSessionId, Request, RequestEnvelope,
    Response, SessionKey, WireLimits, decode_response, encode_request,
};
use crate::transport::Transport;
use bytes::Bytes;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use tokio::runtime::Handle;

/// One participant's link to another: its name (for messages) and transport.
pub(crate) struct PeerLink {
    pub(crate) name: String,
    pub(crate) transport: Arc<dyn Transport>,
}

/// Where this participant's messages go: one link per other participant (parties in order,
/// then the provider; `None` for this participant itself).
pub(crate) struct Outbox {
    handle: Handle,
    me: MpcSender,
    session: MpcSessionId,
    key: SessionKey,
    links: Vec<Option<PeerLink>>,
    seqs: Vec<AtomicU64>,
    inbox: Arc<Mailbox>,
    max_part_words: usize,
}

impl Outbox {
    /// An outbox sending as `me`; `links[i]` reaches party `i`, `links[parties]` the provider.
    pub(crate) fn new(
        handle: Handle,
        me: MpcSender,
        session: MpcSessionId,
        key: SessionKey,
        links: Vec<Option<PeerLink>>,
        inbox: Arc<Mailbox>,
        max_frame_bytes: usize,
    ) -> Self {
        let seqs = links.iter().map(|_| AtomicU64::new(0)).collect();
        Self {
            handle,
            me,
            session,
            key,
            links,
            seqs,
            inbox,
            // Room for the envelope around the words.
            max_part_words: (max_frame_bytes.saturating_sub(4096) / 8).max(1),
        }
    }

    fn index(&self, to: MpcSender) -> usize {
        match to {
            MpcSender::Party(i) => i as usize,
            MpcSender::Provider => self.links.len().saturating_sub(1),
        }
    }

    /// Sends `payload` to `to` without waiting; a failure aborts the session at this end.
    pub(crate) fn post(&self, to: MpcSender, payload: MpcPayload) {
        let index = self.index(to);
        let (Some(Some(link)), Some(seq)) = (self.links.get(index), self.seqs.get(index)) else {
            self.inbox
                .abort(format!("no link from {:?} to {to:?}", self.me));
            return;
        };
        let seq = seq.fetch_add(1, Ordering::Relaxed);
        let message = MpcMessage {
            session: self.session,
            key: self.key.clone(),
            from: self.me,
            seq,
            payload,
        };
        let transport = link.transport.clone();
        let peer = link.name.clone();
        let inbox = self.inbox.clone();
        self.handle.spawn(async move {
            let bytes = encode_request(&RequestEnvelope {
                id: seq,
                token: None,
                body: Request::Mpc(MpcRequest::Message(Box::new(message))),
            });
            let outcome = match transport.call(Bytes::from(bytes)).await {
                Ok(answer) => match decode_response(&answer, &WireLimits::default()) {
                    Ok(envelope) => match envelope.body {
                        Response::Done => None,
                        Response::Error(e) => {
                            Some(format!("{peer} refused a message: {}", e.message))
                        }
                        _ => Some(format!("{peer} answered a message unexpectedly")),
                    },
                    Err(e) => Some(format!("{peer} sent an unreadable answer: {e}")),
                },
                Err(e) => Some(format!("could not reach {peer}: {e}")),
            };
            if let Some(reason) = outcome {
                tracing::debug!(%reason, "mpc message not delivered");
                inbox.abort(reason);
            }
        });
    }

    /// Sends a protocol message to party `to`, split into frame-sized parts if it is large.
    pub(crate) fn send_words(&self, to: usize, words: Arc<Vec<u64>>) {
        let to = MpcSender::Party(to as u32);
        if words.len() <= self.max_part_words {
            self.post(to, MpcPayload::Words { words, more: false });
            return;
        }
        let mut parts = words.chunks(self.max_part_words).peekable();
        while let Some(part) = parts.next() {
            self.post(
                to,
                MpcPayload::Words {
                    words: Arc::new(part.to_vec()),
                    more: parts.peek().is_some(),
                },
            );
        }
    }

    /// Fails the session here and tells every other participant why.
    pub(crate) fn abort_all(&self, reason: &str) {
        self.inbox.abort(reason.to_string());
        for i in 0..self.links.len() {
            if matches!(self.links.get(i), Some(Some(_))) {
                let to = if i + 1 == self.links.len() {
                    MpcSender::Provider
                } else {
                    MpcSender::Party(i as u32)
                };
                self.post(to, MpcPayload::Abort(reason.chars().take(500).collect()));
            }
        }
    }
}

impl std::fmt::Debug for Outbox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Outbox")
            .field("me", &self.me)
            .field("session", &self.session)
            .finish()
    }
}
