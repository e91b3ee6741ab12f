//! The SMPC layer's two abstractions, implemented over the network: [`NetChannel`] is a
//! [`PartyChannel`] to the other party nodes, [`NetMaterial`] a [`MaterialSource`] that asks
//! the crypto provider node for each step's correlated randomness.
//!
//! Both send through the session's [`Outbox`] and receive from its [`Mailbox`], so the protocol
//! code in [`crate::smpc`] runs unchanged: the same functions the in-process simulator runs.

use super::mailbox::Mailbox;
use super::outbox::Outbox;
use crate::protocol::{MpcPayload, MpcSender};
use crate::smpc::dealer::{Dealt, Material, Request, Streamed};
use crate::smpc::{MaterialSource, Message, PartyChannel, SmpcError};
use std::sync::Arc;
use std::time::Duration;

/// What a participant needs to talk in one session.
#[derive(Clone)]
pub(crate) struct SessionLink {
    pub(crate) me: usize,
    pub(crate) parties: usize,
    pub(crate) outbox: Arc<Outbox>,
    pub(crate) inbox: Arc<Mailbox>,
    /// How long to wait for any one message.
    pub(crate) timeout: Duration,
}

/// A party's channel to the other parties.
pub(crate) struct NetChannel(pub(crate) SessionLink);

impl PartyChannel for NetChannel {
    fn party(&self) -> usize {
        self.0.me
    }

    fn parties(&self) -> usize {
        self.0.parties
    }

    fn send(&mut self, to: usize, message: Message) -> Result<(), SmpcError> {
        if to >= self.0.parties || to == self.0.me {
            return Err(SmpcError::Parties(format!("no channel to party {to}")));
        }
        self.0.outbox.send_words(to, message);
        Ok(())
    }

    fn recv(&mut self, from: usize) -> Result<Message, SmpcError> {
        if from >= self.0.parties || from == self.0.me {
            return Err(SmpcError::Parties(format!("no channel from party {from}")));
        }
        let mut assembled: Option<Vec<u64>> = None;
        loop {
            match self
                .0
                .inbox
                .take(MpcSender::Party(from as u32), self.0.timeout)?
            {
                MpcPayload::Words { words, more } => {
                    if !more && assembled.is_none() {
                        return Ok(words);
                    }
                    assembled
                        .get_or_insert_with(Vec::new)
                        .extend_from_slice(&words);
                    if !more {
                        return Ok(Arc::new(assembled.unwrap_or_default()));
                    }
                }
                other => {
                    return Err(SmpcError::MaterialMismatch {
                        needed: format!("protocol words from party {from}"),
                        got: kind(&other).into(),
                    });
                }
            }
        }
    }
}

fn kind(payload: &MpcPayload) -> &'static str {
    match payload {
        MpcPayload::Words { .. } => "words",
        MpcPayload::Need(_) => "a dealer request",
        MpcPayload::Material(_) | MpcPayload::MaterialStreamed(_) => "dealer material",
        MpcPayload::Correction(_) => "a correction piece",
        MpcPayload::Finished => "a finish notice",
        MpcPayload::Abort(_) => "an abort",
    }
}

/// A party's source of correlated randomness: the crypto provider node.
pub(crate) struct NetMaterial(pub(crate) SessionLink);

/// What the provider sent for one request.
enum Fetched {
    /// Seed and corrections at once.
    Whole(Dealt),
    /// The seed; the correction (of this many words) follows in pieces.
    Streaming(Dealt, usize),
}

/// The words of the single correction that the provider streams for `request`.
fn streamed_words(request: &Request) -> usize {
    match *request {
        Request::Mul { len } => len,
        Request::Matmul { m, n, .. } => m.saturating_mul(n),
        _ => 0,
    }
}

/// Takes the next correction piece from the provider, or `None` (the stream then reports a
/// closed channel; the session's abort reason, if any, is what the party reports).
fn next_piece(link: &SessionLink) -> Option<Vec<u64>> {
    match link.inbox.take(MpcSender::Provider, link.timeout) {
        Ok(MpcPayload::Correction(words)) => {
            Some(Arc::try_unwrap(words).unwrap_or_else(|shared| shared.as_ref().clone()))
        }
        Ok(other) => {
            link.inbox.abort(format!(
                "expected a correction piece from the provider, got {}",
                kind(&other)
            ));
            None
        }
        Err(_) => None,
    }
}

impl NetMaterial {
    /// Asks the provider for `request` and checks that what comes back is this party's piece.
    fn fetch(&mut self, request: &Request) -> Result<Fetched, SmpcError> {
        let link = &self.0;
        link.outbox
            .post(MpcSender::Provider, MpcPayload::Need(request.clone()));
        let (dealt, streaming) = match link.inbox.take(MpcSender::Provider, link.timeout)? {
            MpcPayload::Material(dealt) => (dealt, false),
            MpcPayload::MaterialStreamed(dealt) if link.me + 1 == link.parties => (dealt, true),
            other => {
                return Err(SmpcError::MaterialMismatch {
                    needed: request.describe(),
                    got: kind(&other).into(),
                });
            }
        };
        if dealt.request != *request || dealt.party != link.me || dealt.parties != link.parties {
            return Err(SmpcError::MaterialMismatch {
                needed: format!("{} for party {}", request.describe(), link.me),
                got: format!("{} for party {}", dealt.request.describe(), dealt.party),
            });
        }
        Ok(if streaming {
            Fetched::Streaming(*dealt, streamed_words(request))
        } else {
            Fetched::Whole(*dealt)
        })
    }
}

impl MaterialSource for NetMaterial {
    fn next(&mut self, request: &Request) -> Result<Material, SmpcError> {
        match self.fetch(request)? {
            Fetched::Whole(dealt) => dealt.expand(),
            Fetched::Streaming(dealt, words) => {
                let link = self.0.clone();
                dealt.expand_then(move || {
                    let mut correction = Vec::with_capacity(words);
                    while correction.len() < words {
                        let piece = next_piece(&link).ok_or_else(|| {
                            SmpcError::ChannelClosed("the crypto provider".into())
                        })?;
                        correction.extend_from_slice(&piece);
                    }
                    Ok(vec![correction])
                })
            }
        }
    }

    fn next_streamed(&mut self, request: &Request) -> Result<Streamed, SmpcError> {
        match self.fetch(request)? {
            Fetched::Whole(dealt) => dealt.into_streamed(),
            Fetched::Streaming(dealt, _) => {
                let link = self.0.clone();
                dealt.into_streamed_with(Some(Box::new(move || next_piece(&link))))
            }
        }
    }
}
