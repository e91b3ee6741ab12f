//! Open computation sessions: their key, their inbox and who opened them.
//!
//! A session is opened by the caller on every participant before any of them runs, so that a
//! message from a fast peer always finds its session. Sessions that were opened but never run
//! expire; a node holds a bounded number at once.

use super::deployments::Deployed;
use super::mailbox::Mailbox;
use crate::node::handler::Failure;
use crate::protocol::{ErrorCode, ErrorResponse, MpcSessionId, SessionKey};
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use subtle::ConstantTimeEq;

/// One open session at this node.
pub(crate) struct SessionSlot {
    pub(crate) model: Arc<Deployed>,
    key: SessionKey,
    pub(crate) inbox: Arc<Mailbox>,
    pub(crate) opener: String,
    opened: Instant,
    running: AtomicBool,
}

impl SessionSlot {
    pub(crate) fn new(model: Arc<Deployed>, key: SessionKey, inbox: Mailbox, opener: &str) -> Self {
        Self {
            model,
            key,
            inbox: Arc::new(inbox),
            opener: opener.to_string(),
            opened: Instant::now(),
            running: AtomicBool::new(false),
        }
    }

    /// Whether `key` is this session's key (constant time).
    pub(crate) fn key_matches(&self, key: &SessionKey) -> bool {
        bool::from(self.key.0.ct_eq(&key.0))
    }

    pub(crate) fn key(&self) -> &SessionKey {
        &self.key
    }

    /// Marks the session as running; false if it already was.
    pub(crate) fn start(&self) -> bool {
        !self.running.swap(true, Ordering::AcqRel)
    }
}

/// The open sessions of a node.
#[derive(Default)]
pub(crate) struct Sessions {
    map: Mutex<HashMap<MpcSessionId, Arc<SessionSlot>>>,
}

impl Sessions {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<MpcSessionId, Arc<SessionSlot>>> {
        self.map.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Registers a session; forgets sessions opened more than `ttl` ago that never ran.
    pub(crate) fn open(
        &self,
        id: MpcSessionId,
        slot: SessionSlot,
        max: usize,
        ttl: Duration,
    ) -> Result<(), Failure> {
        let mut map = self.lock();
        map.retain(|_, s| s.running.load(Ordering::Acquire) || s.opened.elapsed() < ttl);
        if map.contains_key(&id) {
            return Err(ErrorResponse::new(
                ErrorCode::Conflict,
                format!("session {id} is already open"),
            ));
        }
        if map.len() >= max {
            return Err(ErrorResponse::new(
                ErrorCode::Unavailable,
                format!("this node runs at most {max} encrypted sessions at once; try again"),
            ));
        }
        map.insert(id, Arc::new(slot));
        Ok(())
    }

    pub(crate) fn get(&self, id: MpcSessionId) -> Option<Arc<SessionSlot>> {
        self.lock().get(&id).cloned()
    }

    pub(crate) fn close(&self, id: MpcSessionId) {
        self.lock().remove(&id);
    }

    /// How many sessions are open.
    pub(crate) fn len(&self) -> usize {
        self.lock().len()
    }
}
