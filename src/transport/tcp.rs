//! The TCP transport: length-prefixed frames (see `frame`), many requests in flight on one
//! connection matched by correlation id, explicit limits and timeouts on the server side.
//! `tls://` addresses run the same frames inside TLS (see `tls`).

use super::frame::{self, Header};
use super::{Address, Handler, ServerHandle, Transport, TransportConfig, TransportError};
use bytes::Bytes;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex as StdMutex};
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, BufReader, BufWriter};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Mutex, OwnedSemaphorePermit, Semaphore, mpsc, oneshot};
use tokio::task::JoinHandle;
use tokio_rustls::TlsAcceptor;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// Read buffer per connection: small, so that idle connections stay cheap.
const READ_BUFFER: usize = 8 << 10;

/// The reading half of a connection, plain or inside TLS.
type ReadHalf = Box<dyn AsyncRead + Send + Unpin>;
/// The writing half of a connection, plain or inside TLS.
type WriteHalf = Box<dyn AsyncWrite + Send + Unpin>;

/// Splits a plain TCP stream into boxed halves.
fn plain_halves(stream: TcpStream) -> (ReadHalf, WriteHalf) {
    let (read, write) = stream.into_split();
    (Box::new(read), Box::new(write))
}

/// Splits any stream (a TLS session) into boxed halves.
fn split_halves<S: AsyncRead + AsyncWrite + Send + 'static>(stream: S) -> (ReadHalf, WriteHalf) {
    let (read, write) = tokio::io::split(stream);
    (Box::new(read), Box::new(write))
}

// ---------------------------------------------------------------------------------------------
// Server

pub(super) async fn serve(
    address: &Address,
    handler: Arc<dyn Handler>,
    config: &TransportConfig,
) -> Result<ServerHandle, TransportError> {
    let acceptor = match address {
        Address::Tls { .. } => Some(
            config
                .tls
                .as_ref()
                .ok_or_else(|| {
                    TransportError::Tls("serving tls:// needs TransportConfig::tls".into())
                })?
                .acceptor()?,
        ),
        _ => None,
    };
    let listener = TcpListener::bind(address.authority()).await?;
    let url = address.with_port(listener.local_addr()?.port());
    let cancel = CancellationToken::new();
    let config = config.clone();
    let task = tokio::spawn(accept_loop(
        listener,
        acceptor,
        handler,
        config,
        cancel.clone(),
    ));
    Ok(ServerHandle::new(url, cancel, task))
}

async fn accept_loop(
    listener: TcpListener,
    acceptor: Option<TlsAcceptor>,
    handler: Arc<dyn Handler>,
    config: TransportConfig,
    cancel: CancellationToken,
) {
    let connections = Arc::new(Semaphore::new(config.max_connections));
    let tracker = TaskTracker::new();
    loop {
        let accepted = tokio::select! {
            _ = cancel.cancelled() => break,
            accepted = listener.accept() => accepted,
        };
        match accepted {
            Ok((stream, peer)) => {
                let Ok(permit) = connections.clone().try_acquire_owned() else {
                    tracing::warn!(%peer, "connection limit reached; closing new connection");
                    continue;
                };
                let _ = stream.set_nodelay(true);
                tracker.spawn(serve_connection(
                    stream,
                    acceptor.clone(),
                    handler.clone(),
                    config.clone(),
                    cancel.child_token(),
                    permit,
                ));
            }
            Err(error) => {
                // Typically out of file descriptors: back off instead of spinning.
                tracing::warn!(%error, "accept failed");
                tokio::time::sleep(std::time::Duration::from_millis(20)).await;
            }
        }
    }
    tracker.close();
    tracker.wait().await;
}

async fn serve_connection(
    stream: TcpStream,
    acceptor: Option<TlsAcceptor>,
    handler: Arc<dyn Handler>,
    config: TransportConfig,
    cancel: CancellationToken,
    _connection_permit: OwnedSemaphorePermit,
) {
    let (read_half, write_half) = match acceptor {
        None => plain_halves(stream),
        // The handshake is bounded like any other read: a silent peer cannot hold the slot.
        Some(acceptor) => {
            match tokio::time::timeout(config.read_timeout, acceptor.accept(stream)).await {
                Ok(Ok(tls)) => split_halves(tls),
                Ok(Err(error)) => {
                    tracing::debug!(%error, "TLS handshake failed");
                    return;
                }
                Err(_) => return,
            }
        }
    };
    let mut reader = BufReader::with_capacity(READ_BUFFER, read_half);
    let (responses, queue) = mpsc::channel(config.max_in_flight_per_connection.max(1));
    let writer = tokio::spawn(write_responses(write_half, queue));
    let in_flight = Arc::new(Semaphore::new(config.max_in_flight_per_connection.max(1)));
    loop {
        let header = tokio::select! {
            _ = cancel.cancelled() => break,
            header = tokio::time::timeout(config.idle_timeout, frame::read_header(&mut reader, config.max_frame_bytes)) => header,
        };
        let header = match header {
            Ok(Ok(Some(header))) => header,
            Ok(Ok(None)) => break,
            Ok(Err(error)) => {
                tracing::debug!(%error, "closing connection after a bad frame");
                break;
            }
            Err(_) => break, // idle
        };
        let payload = match tokio::time::timeout(
            config.read_timeout,
            frame::read_payload(&mut reader, header.len),
        )
        .await
        {
            Ok(Ok(payload)) => payload,
            _ => break,
        };
        let Ok(permit) = in_flight.clone().acquire_owned().await else {
            break;
        };
        let handler = handler.clone();
        let responses = responses.clone();
        tokio::spawn(async move {
            let response = handler.handle(Bytes::from(payload)).await;
            let _ = responses.send((header.id, response)).await;
            drop(permit);
        });
    }
    drop(responses);
    let _ = writer.await;
}

async fn write_responses(write_half: WriteHalf, mut queue: mpsc::Receiver<(u64, Vec<u8>)>) {
    let mut writer = BufWriter::with_capacity(READ_BUFFER, write_half);
    while let Some((id, response)) = queue.recv().await {
        if frame::write_frame_unflushed(&mut writer, id, &response)
            .await
            .is_err()
        {
            return;
        }
        if queue.is_empty() && writer.flush().await.is_err() {
            return;
        }
    }
    let _ = writer.shutdown().await;
}

// ---------------------------------------------------------------------------------------------
// Client

type Reply = oneshot::Sender<Result<Bytes, TransportError>>;

#[derive(Default)]
struct Pending {
    waiting: HashMap<u64, Reply>,
    closed: bool,
}

struct Connection {
    writer: Mutex<WriteHalf>,
    pending: Arc<StdMutex<Pending>>,
    next_id: AtomicU64,
    broken: AtomicBool,
    reader: JoinHandle<()>,
}

impl Connection {
    fn pending(&self) -> std::sync::MutexGuard<'_, Pending> {
        self.pending.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn is_usable(&self) -> bool {
        !self.broken.load(Ordering::Acquire) && !self.pending().closed
    }
}

impl Drop for Connection {
    fn drop(&mut self) {
        self.reader.abort();
    }
}

/// Marks the connection broken if a frame write is abandoned halfway (the caller's future was
/// dropped), since the stream would then be out of sync.
struct WriteGuard<'a> {
    connection: &'a Connection,
    done: bool,
}

impl Drop for WriteGuard<'_> {
    fn drop(&mut self) {
        if !self.done {
            self.connection.broken.store(true, Ordering::Release);
        }
    }
}

/// A client connection to a TCP endpoint, shared by concurrent calls and re-established on the
/// next call after it breaks.
pub struct TcpTransport {
    address: Address,
    config: TransportConfig,
    connection: Mutex<Option<Arc<Connection>>>,
}

impl TcpTransport {
    /// Connects to `tcp://host:port`, or `tls://host:port` (with [`TransportConfig::tls`]
    /// trusting the server's certificate).
    pub async fn connect(
        address: &Address,
        config: &TransportConfig,
    ) -> Result<Self, TransportError> {
        if !matches!(address, Address::Tcp { .. } | Address::Tls { .. }) {
            return Err(TransportError::InvalidAddress(address.to_string()));
        }
        let transport = Self {
            address: address.clone(),
            config: config.clone(),
            connection: Mutex::new(None),
        };
        transport.connection().await?;
        Ok(transport)
    }

    async fn connection(&self) -> Result<Arc<Connection>, TransportError> {
        let mut slot = self.connection.lock().await;
        if let Some(connection) = slot.as_ref().filter(|c| c.is_usable()) {
            return Ok(connection.clone());
        }
        let limit = self.config.connect_timeout;
        let (read_half, write_half) = tokio::time::timeout(limit, self.open())
            .await
            .map_err(|_| TransportError::Timeout(limit))??;
        let pending = Arc::new(StdMutex::new(Pending::default()));
        let reader = tokio::spawn(read_responses(
            read_half,
            pending.clone(),
            self.config.max_frame_bytes,
        ));
        let connection = Arc::new(Connection {
            writer: Mutex::new(write_half),
            pending,
            next_id: AtomicU64::new(1),
            broken: AtomicBool::new(false),
            reader,
        });
        *slot = Some(connection.clone());
        Ok(connection)
    }
}

async fn read_responses(read_half: ReadHalf, pending: Arc<StdMutex<Pending>>, max: usize) {
    let mut reader = BufReader::with_capacity(READ_BUFFER, read_half);
    let failure = loop {
        let header: Header = match frame::read_header(&mut reader, max).await {
            Ok(Some(header)) => header,
            Ok(None) => break TransportError::ConnectionClosed,
            Err(TransportError::FrameTooLarge { size, max }) => {
                break TransportError::FrameTooLarge { size, max };
            }
            Err(_) => break TransportError::ConnectionClosed,
        };
        let payload = match frame::read_payload(&mut reader, header.len).await {
            Ok(payload) => payload,
            Err(_) => break TransportError::ConnectionClosed,
        };
        let reply = pending
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .waiting
            .remove(&header.id);
        if let Some(reply) = reply {
            let _ = reply.send(Ok(Bytes::from(payload)));
        }
    };
    let mut pending = pending.lock().unwrap_or_else(|p| p.into_inner());
    pending.closed = true;
    for (_, reply) in pending.waiting.drain() {
        let error = match &failure {
            TransportError::FrameTooLarge { size, max } => TransportError::FrameTooLarge {
                size: *size,
                max: *max,
            },
            _ => TransportError::ConnectionClosed,
        };
        let _ = reply.send(Err(error));
    }
}

impl TcpTransport {
    /// A new stream to the server, inside TLS for `tls://`.
    async fn open(&self) -> Result<(ReadHalf, WriteHalf), TransportError> {
        let stream = TcpStream::connect(self.address.authority()).await?;
        stream.set_nodelay(true)?;
        match &self.address {
            Address::Tls { host, .. } => {
                let tls = self.config.tls.as_ref().ok_or_else(|| {
                    TransportError::Tls("connecting to tls:// needs TransportConfig::tls".into())
                })?;
                let (connector, name) = tls.connector(host)?;
                let session = connector
                    .connect(name, stream)
                    .await
                    .map_err(|e| TransportError::Tls(format!("handshake with {host}: {e}")))?;
                Ok(split_halves(session))
            }
            _ => Ok(plain_halves(stream)),
        }
    }
}

#[async_trait::async_trait]
impl Transport for TcpTransport {
    async fn call(&self, request: Bytes) -> Result<Bytes, TransportError> {
        let max = self.config.check_size(request.len())?;
        let connection = self.connection().await?;
        let id = connection.next_id.fetch_add(1, Ordering::Relaxed);
        let (reply, response) = oneshot::channel();
        {
            let mut pending = connection.pending();
            if pending.closed {
                return Err(TransportError::ConnectionClosed);
            }
            pending.waiting.insert(id, reply);
        }
        let written = {
            let mut guard = WriteGuard {
                connection: &connection,
                done: false,
            };
            let mut writer = connection.writer.lock().await;
            let result = frame::write_frame(&mut *writer, id, &request, max).await;
            guard.done = result.is_ok();
            result
        };
        if let Err(error) = written {
            connection.pending().waiting.remove(&id);
            return Err(error);
        }
        match tokio::time::timeout(self.config.request_timeout, response).await {
            Ok(Ok(result)) => result,
            Ok(Err(_)) => Err(TransportError::ConnectionClosed),
            Err(_) => {
                connection.pending().waiting.remove(&id);
                Err(TransportError::Timeout(self.config.request_timeout))
            }
        }
    }

    fn address(&self) -> &Address {
        &self.address
    }
}
