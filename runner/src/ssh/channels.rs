//! A hyper connector whose connections are SSH `direct-streamlocal` channels
//! to a socket on the server, over the host's one SSH connection. The Docker
//! API client uses it with keep-alive, so a deploy's requests to a host share
//! a few channels instead of opening one per request, and no local socket
//! sits between the client and the channel.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use hyper::Uri;
use hyper_util::client::legacy::connect::{Connected, Connection};
use hyper_util::rt::TokioIo;
use russh::ChannelStream;
use russh::client::Msg;

use super::Session;

/// Opens a channel to `remote` (a unix socket path on the server) per new
/// connection.
#[derive(Clone)]
pub struct StreamLocal {
    session: Arc<Session>,
    remote: Arc<str>,
}

impl StreamLocal {
    /// Connections to `remote` over `session`.
    pub fn new(session: Arc<Session>, remote: &str) -> StreamLocal {
        StreamLocal {
            session,
            remote: remote.into(),
        }
    }
}

/// One channel, as a hyper connection.
pub struct ChannelIo(TokioIo<ChannelStream<Msg>>);

impl Connection for ChannelIo {
    fn connected(&self) -> Connected {
        Connected::new()
    }
}

impl hyper::rt::Read for ChannelIo {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: hyper::rt::ReadBufCursor<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_read(cx, buf)
    }
}

impl hyper::rt::Write for ChannelIo {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.0).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_shutdown(cx)
    }
}

impl tower_service::Service<Uri> for StreamLocal {
    type Response = ChannelIo;
    type Error = io::Error;
    type Future = Pin<Box<dyn Future<Output = io::Result<ChannelIo>> + Send>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, _: Uri) -> Self::Future {
        let this = self.clone();
        Box::pin(async move {
            let channel = this
                .session
                .handle
                .channel_open_direct_streamlocal(&*this.remote)
                .await
                .map_err(|e| {
                    io::Error::other(format!(
                        "cannot open a channel to {} on `{}`: {e}",
                        this.remote, this.session.host
                    ))
                })?;
            Ok(ChannelIo(TokioIo::new(channel.into_stream())))
        })
    }
}
