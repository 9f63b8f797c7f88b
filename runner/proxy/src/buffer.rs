//! Request and response buffering (kamal-proxy's `--buffer-requests`,
//! `--buffer-responses`, `--buffer-memory`, `--max-request-body`,
//! `--max-response-body`): a body is read whole before it is passed on, so
//! a slow client never holds an app worker (and a slow app never holds the
//! client's connection open mid-body); up to the memory budget it stays in
//! memory, the rest goes to an unlinked temporary file; over the limit the
//! request gets `413`.

use std::io::{self, SeekFrom};
use std::path::Path;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::{Bytes, BytesMut};
use http_body_util::BodyExt;
use hyper::body::{Body, Frame, SizeHint};
use tokio::io::{AsyncRead, AsyncSeekExt, AsyncWriteExt, ReadBuf};

/// Why a body could not be buffered.
#[derive(Debug)]
pub enum BufferError {
    /// More than the limit (bytes).
    TooLarge(u64),
    /// The peer's body failed.
    Body(String),
    /// The spill file failed.
    Io(io::Error),
}

/// A body read whole: memory first, then the spill file.
pub struct Buffered {
    memory: Bytes,
    file: Option<tokio::fs::File>,
    len: u64,
}

impl Buffered {
    /// Its length in bytes.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// True when part of it went to disk.
    pub fn spilled(&self) -> bool {
        self.file.is_some()
    }
}

/// Reads `body` whole, keeping up to `memory` bytes in memory and the rest
/// in an unlinked file under `dir`; fails past `max` bytes (0 = no limit).
pub async fn read<B>(
    mut body: B,
    memory: usize,
    max: u64,
    dir: &Path,
) -> Result<Buffered, BufferError>
where
    B: Body<Data = Bytes> + Unpin,
    B::Error: std::fmt::Display,
{
    let mut mem = BytesMut::new();
    let mut file: Option<tokio::fs::File> = None;
    let mut len: u64 = 0;
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| BufferError::Body(e.to_string()))?;
        let Ok(data) = frame.into_data() else {
            continue; // trailers are not passed on
        };
        len += data.len() as u64;
        if max > 0 && len > max {
            return Err(BufferError::TooLarge(max));
        }
        if file.is_none() && mem.len() + data.len() <= memory {
            mem.extend_from_slice(&data);
            continue;
        }
        if file.is_none() {
            file = Some(spill_file(dir).await.map_err(BufferError::Io)?);
        }
        if let Some(f) = file.as_mut() {
            f.write_all(&data).await.map_err(BufferError::Io)?;
        }
    }
    if let Some(f) = file.as_mut() {
        f.flush().await.map_err(BufferError::Io)?;
        f.seek(SeekFrom::Start(0)).await.map_err(BufferError::Io)?;
    }
    Ok(Buffered {
        memory: mem.freeze(),
        file,
        len,
    })
}

/// A new file under `dir`, already unlinked (it vanishes with its handle).
async fn spill_file(dir: &Path) -> io::Result<tokio::fs::File> {
    tokio::fs::create_dir_all(dir).await?;
    let path = dir.join(format!("buffer-{:016x}", fastrand::u64(..)));
    let f = tokio::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create_new(true)
        .open(&path)
        .await?;
    tokio::fs::remove_file(&path).await?;
    Ok(f)
}

/// A [`Buffered`] body sent on: its memory part, then its file.
pub struct BufferedBody {
    memory: Option<Bytes>,
    file: Option<tokio::fs::File>,
    left: u64,
    buf: Vec<u8>,
}

impl From<Buffered> for BufferedBody {
    fn from(b: Buffered) -> Self {
        BufferedBody {
            left: b.len,
            memory: (!b.memory.is_empty()).then_some(b.memory),
            file: b.file,
            buf: vec![0; 64 * 1024],
        }
    }
}

impl Body for BufferedBody {
    type Data = Bytes;
    type Error = io::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, io::Error>>> {
        let this = self.get_mut();
        if let Some(m) = this.memory.take() {
            this.left -= m.len() as u64;
            return Poll::Ready(Some(Ok(Frame::data(m))));
        }
        let Some(file) = this.file.as_mut() else {
            return Poll::Ready(None);
        };
        let mut rb = ReadBuf::new(&mut this.buf);
        match Pin::new(file).poll_read(cx, &mut rb) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(Err(e)) => Poll::Ready(Some(Err(e))),
            Poll::Ready(Ok(())) if rb.filled().is_empty() => {
                this.file = None;
                Poll::Ready(None)
            }
            Poll::Ready(Ok(())) => {
                let chunk = Bytes::copy_from_slice(rb.filled());
                this.left = this.left.saturating_sub(chunk.len() as u64);
                Poll::Ready(Some(Ok(Frame::data(chunk))))
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.left == 0
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::with_exact(self.left)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::Full;

    async fn collect(b: BufferedBody) -> Vec<u8> {
        b.collect().await.unwrap().to_bytes().to_vec()
    }

    #[tokio::test]
    async fn small_bodies_stay_in_memory_large_ones_spill_and_come_back_whole() {
        let dir = tempfile::tempdir().unwrap();
        let data: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
        let small = read(
            Full::new(Bytes::from(data[..1000].to_vec())),
            4096,
            0,
            dir.path(),
        )
        .await
        .unwrap();
        assert!(!small.spilled());
        assert_eq!(collect(small.into()).await, &data[..1000]);
        let big = read(Full::new(Bytes::from(data.clone())), 4096, 0, dir.path())
            .await
            .unwrap();
        assert!(big.spilled());
        assert_eq!(big.len(), 200_000);
        assert_eq!(collect(big.into()).await, data);
        // The spill file is unlinked: nothing is left in the directory.
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    }

    #[tokio::test]
    async fn over_the_limit_is_too_large() {
        let dir = tempfile::tempdir().unwrap();
        let r = read(
            Full::new(Bytes::from(vec![0u8; 5000])),
            1024,
            4096,
            dir.path(),
        )
        .await;
        assert!(matches!(r, Err(BufferError::TooLarge(4096))));
    }
}
