//! HTTP/1.1 upgrades (WebSockets and any other `Upgrade` protocol): the
//! `Upgrade`/`Connection` pair is passed to the target, and once the target
//! answers `101 Switching Protocols` the two connections are joined byte for
//! byte. The tunnel counts as one request in flight on its target, so a
//! switch leaves it open until the old target's drain ends, then closes it.

use std::future::Future;
use std::pin::Pin;

use http::header::{self, HeaderMap, HeaderValue};
use http::{Request, Response, Version};
use hyper::upgrade::OnUpgrade;
use hyper_util::rt::TokioIo;

use crate::target::CounterGuard;

/// The client's `Upgrade` header when the request asks for an upgrade
/// (`Connection: upgrade` on HTTP/1.1), else `None`.
pub fn requested<B>(req: &Request<B>) -> Option<HeaderValue> {
    if req.version() != Version::HTTP_11 {
        return None;
    }
    let conn = req.headers().get(header::CONNECTION)?.to_str().ok()?;
    if !conn
        .split(',')
        .any(|t| t.trim().eq_ignore_ascii_case("upgrade"))
    {
        return None;
    }
    req.headers().get(header::UPGRADE).cloned()
}

/// Puts the upgrade pair back after the hop-by-hop headers were removed.
pub fn restore(headers: &mut HeaderMap, protocol: HeaderValue) {
    headers.insert(header::UPGRADE, protocol);
    headers.insert(header::CONNECTION, HeaderValue::from_static("upgrade"));
}

/// Takes the upgraded connection of `resp` (a `101 Switching Protocols`)
/// and joins it to the client's (`client`) in a task that holds `guard`
/// until either side closes or `cancel` fires (the old target's drain timed
/// out). The response's `Upgrade`/`Connection` headers are kept for the
/// client.
pub fn join<B>(
    resp: &mut Response<B>,
    protocol: Option<HeaderValue>,
    client: OnUpgrade,
    guard: CounterGuard,
    cancel: Pin<Box<dyn Future<Output = ()> + Send>>,
) {
    let upstream = hyper::upgrade::on(&mut *resp);
    let answered = resp.headers().get(header::UPGRADE).cloned().or(protocol);
    crate::headers::strip_hop_by_hop(resp.headers_mut());
    if let Some(p) = answered {
        restore(resp.headers_mut(), p);
    }
    tokio::spawn(async move {
        let _guard = guard;
        let Ok((c, u)) = tokio::try_join!(client, upstream) else {
            return;
        };
        let (mut c, mut u) = (TokioIo::new(c), TokioIo::new(u));
        tokio::select! {
            _ = cancel => {}
            _ = tokio::io::copy_bidirectional(&mut c, &mut u) => {}
        }
    });
}
