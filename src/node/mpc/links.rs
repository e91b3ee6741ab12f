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
        MpcPayload::Material(_) => "dealer material",
        MpcPayload::Finished => "a finish notice",
        MpcPayload::Abort(_) => "an abort",
    }
}

/// A party's source of correlated randomness: the crypto provider node.
pub(crate) struct NetMaterial(pub(crate) SessionLink);

impl NetMaterial {
    /// Asks the provider for `request` and checks that what comes back is this party's piece.
    fn fetch(&mut self, request: &Request) -> Result<Dealt, SmpcError> {
        let link = &self.0;
        link.outbox
            .post(MpcSender::Provider, MpcPayload::Need(request.clone()));
        match link.inbox.take(MpcSender::Provider, link.timeout)? {
            MpcPayload::Material(dealt)
                if dealt.request == *request
                    && dealt.party == link.me
                    && dealt.parties == link.parties =>
            {
                Ok(*dealt)
            }
            MpcPayload::Material(dealt) => Err(SmpcError::MaterialMismatch {
                needed: format!("{} for party {}", request.describe(), link.me),
                got: format!("{} for party {}", dealt.request.describe(), dealt.party),
            }),
            other => Err(SmpcError::MaterialMismatch {
                needed: request.describe(),
                got: kind(&other).into(),
            }),
        }
    }
}

impl MaterialSource for NetMaterial {
    fn next(&mut self, request: &Request) -> Result<Material, SmpcError> {
        self.fetch(request)?.expand()
    }

    fn next_streamed(&mut self, request: &Request) -> Result<Streamed, SmpcError> {
        self.fetch(request)?.into_streamed()
    }
}
