//! The in-memory transport: a process-wide hub of handlers keyed by name.
//!
//! It still passes encoded bytes and applies the same size limit as the network transports, so
//! tests that run over `mem://` exercise the real codec and limits.

use super::{Address, Handler, ServerHandle, Transport, TransportConfig, TransportError};
use bytes::Bytes;
use std::collections::HashMap;
use std::sync::{Arc, LazyLock, Mutex, Weak};
use tokio_util::sync::CancellationToken;

type Hub = Mutex<HashMap<String, Weak<dyn Handler>>>;

static HUB: LazyLock<Hub> = LazyLock::new(|| Mutex::new(HashMap::new()));

fn hub() -> std::sync::MutexGuard<'static, HashMap<String, Weak<dyn Handler>>> {
    HUB.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// A client of an in-process endpoint.
pub struct MemTransport {
    address: Address,
    name: String,
    config: TransportConfig,
}

impl MemTransport {
    /// A client for `mem://name`; the endpoint must be serving.
    pub fn connect(address: &Address, config: &TransportConfig) -> Result<Self, TransportError> {
        let Address::Mem(name) = address else {
            return Err(TransportError::InvalidAddress(address.to_string()));
        };
        if hub().get(name).and_then(Weak::upgrade).is_none() {
            return Err(TransportError::NoEndpoint(address.to_string()));
        }
        Ok(Self {
            address: address.clone(),
            name: name.clone(),
            config: config.clone(),
        })
    }
}

#[async_trait::async_trait]
impl Transport for MemTransport {
    async fn call(&self, request: Bytes) -> Result<Bytes, TransportError> {
        self.config.check_size(request.len())?;
        let handler = hub()
            .get(&self.name)
            .and_then(Weak::upgrade)
            .ok_or(TransportError::ConnectionClosed)?;
        let response = tokio::time::timeout(self.config.request_timeout, handler.handle(request))
            .await
            .map_err(|_| TransportError::Timeout(self.config.request_timeout))?;
        self.config.check_size(response.len())?;
        Ok(Bytes::from(response))
    }

    fn address(&self) -> &Address {
        &self.address
    }
}

/// Registers `handler` under the address's name until the returned handle stops.
pub(super) fn serve(
    address: &Address,
    handler: Arc<dyn Handler>,
    _config: &TransportConfig,
) -> Result<ServerHandle, TransportError> {
    let Address::Mem(name) = address else {
        return Err(TransportError::InvalidAddress(address.to_string()));
    };
    {
        let mut hub = hub();
        if hub.get(name).and_then(Weak::upgrade).is_some() {
            return Err(TransportError::AddressInUse(address.to_string()));
        }
        hub.insert(name.clone(), Arc::downgrade(&handler));
    }
    let cancel = CancellationToken::new();
    let name = name.clone();
    let task = tokio::spawn({
        let cancel = cancel.clone();
        async move {
            cancel.cancelled().await;
            let mut hub = hub();
            if hub
                .get(&name)
                .is_some_and(|w| w.ptr_eq(&Arc::downgrade(&handler)))
            {
                hub.remove(&name);
            }
        }
    });
    Ok(ServerHandle::new(address.clone(), cancel, task))
}
