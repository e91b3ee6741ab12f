//! TCP framing: a 12-byte header (payload length as u32 LE, then a correlation id as u64 LE)
//! followed by the payload.
//!
//! The correlation id lets many requests share one connection, answered in any order. The
//! length is checked against the configured maximum before anything is allocated.

use super::TransportError;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// Bytes in a frame header.
pub const HEADER_LEN: usize = 12;

/// Payloads up to this size are copied behind the header and written with one call.
const COALESCE_LIMIT: usize = 64 << 10;

/// A decoded frame header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    /// Payload length in bytes.
    pub len: usize,
    /// Correlation id matching a response to its request.
    pub id: u64,
}

impl Header {
    /// Parses a header, refusing lengths above `max`.
    pub fn parse(bytes: &[u8; HEADER_LEN], max: usize) -> Result<Self, TransportError> {
        let len = u32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]) as usize;
        let mut id = [0u8; 8];
        id.copy_from_slice(&bytes[4..]);
        if len > max {
            return Err(TransportError::FrameTooLarge { size: len, max });
        }
        Ok(Self {
            len,
            id: u64::from_le_bytes(id),
        })
    }

    fn encode(self) -> [u8; HEADER_LEN] {
        let mut out = [0u8; HEADER_LEN];
        out[..4].copy_from_slice(&(self.len as u32).to_le_bytes());
        out[4..].copy_from_slice(&self.id.to_le_bytes());
        out
    }
}

/// Reads a header; `Ok(None)` on a clean end of stream before the first byte.
pub async fn read_header<R: AsyncRead + Unpin>(
    reader: &mut R,
    max: usize,
) -> Result<Option<Header>, TransportError> {
    let mut buf = [0u8; HEADER_LEN];
    let first = reader.read(&mut buf).await?;
    if first == 0 {
        return Ok(None);
    }
    reader.read_exact(&mut buf[first..]).await?;
    Header::parse(&buf, max).map(Some)
}

/// Reads a payload of `len` bytes without zero-filling the buffer first.
pub async fn read_payload<R: AsyncRead + Unpin>(
    reader: &mut R,
    len: usize,
) -> Result<Vec<u8>, TransportError> {
    let mut payload = Vec::with_capacity(len);
    let read = reader.take(len as u64).read_to_end(&mut payload).await?;
    if read != len {
        return Err(TransportError::ConnectionClosed);
    }
    Ok(payload)
}

/// Writes one frame and flushes it, refusing payloads over `max`.
pub async fn write_frame<W: AsyncWrite + Unpin>(
    writer: &mut W,
    id: u64,
    payload: &[u8],
    max: usize,
) -> Result<(), TransportError> {
    if payload.len() > max {
        return Err(TransportError::FrameTooLarge {
            size: payload.len(),
            max,
        });
    }
    write_frame_unflushed(writer, id, payload).await?;
    writer.flush().await?;
    Ok(())
}

/// Writes one frame without flushing (for a buffered writer that flushes when idle).
pub async fn write_frame_unflushed<W: AsyncWrite + Unpin>(
    writer: &mut W,
    id: u64,
    payload: &[u8],
) -> Result<(), TransportError> {
    if payload.len() > u32::MAX as usize {
        return Err(TransportError::FrameTooLarge {
            size: payload.len(),
            max: u32::MAX as usize,
        });
    }
    let header = Header {
        len: payload.len(),
        id,
    }
    .encode();
    if payload.len() <= COALESCE_LIMIT {
        let mut buf = Vec::with_capacity(HEADER_LEN + payload.len());
        buf.extend_from_slice(&header);
        buf.extend_from_slice(payload);
        writer.write_all(&buf).await?;
    } else {
        writer.write_all(&header).await?;
        writer.write_all(payload).await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn frames_round_trip_and_oversized_lengths_are_refused() {
        let mut buf = Vec::new();
        write_frame(&mut buf, 42, b"abc", 10).await.unwrap();
        let mut r = &buf[..];
        let h = read_header(&mut r, 10).await.unwrap().unwrap();
        assert_eq!(h, Header { len: 3, id: 42 });
        assert_eq!(read_payload(&mut r, h.len).await.unwrap(), b"abc");
        assert!(read_header(&mut r, 10).await.unwrap().is_none());

        let mut r = &buf[..];
        assert!(matches!(
            read_header(&mut r, 2).await,
            Err(TransportError::FrameTooLarge { size: 3, max: 2 })
        ));
        assert!(write_frame(&mut Vec::new(), 1, &[0; 11], 10).await.is_err());
    }

    #[tokio::test]
    async fn truncated_payload_is_an_error() {
        let mut buf = Vec::new();
        write_frame(&mut buf, 1, b"abcdef", 10).await.unwrap();
        let mut r = &buf[..buf.len() - 2];
        let h = read_header(&mut r, 10).await.unwrap().unwrap();
        assert!(read_payload(&mut r, h.len).await.is_err());
    }
}
