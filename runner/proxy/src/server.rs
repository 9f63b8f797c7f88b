//! The server: HTTP and HTTPS listeners, the control socket, graceful
//! shutdown. Embeddable: [`Server::start`] returns a [`ServerHandle`].

use std::convert::Infallible;
use std::io;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto::Builder;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio_rustls::TlsAcceptor;

use crate::acme::Acme;
use crate::acme::challenge::ACME_TLS_ALPN;
use crate::control;
use crate::limits::{self, Limits, Slots};
use crate::log::RequestLog;
use crate::manager::Manager;
use crate::proxy::Proxy;
use crate::router::Router;
use crate::state;
use crate::target::Counter;
use crate::tls;

/// How to run the server.
#[derive(Debug, Clone)]
pub struct Options {
    /// HTTP listen address.
    pub http_addr: SocketAddr,
    /// HTTPS listen address (`None` disables HTTPS).
    pub https_addr: Option<SocketAddr>,
    /// State directory (created 0700).
    pub state_dir: PathBuf,
    /// Control socket path.
    pub socket: PathBuf,
    /// Log one line per request to stdout.
    pub request_log: bool,
    /// How long shutdown waits for in-flight requests.
    pub shutdown_timeout: Duration,
    /// Header timeout, header size, connection cap.
    pub limits: Limits,
}

impl Options {
    /// Options for tests and embedding: HTTP and HTTPS on ephemeral
    /// 127.0.0.1 ports, socket `<state_dir>/control.sock`, no request log.
    pub fn local(state_dir: impl Into<PathBuf>) -> Self {
        let state_dir = state_dir.into();
        Options {
            http_addr: "127.0.0.1:0".parse().expect("addr"),
            https_addr: Some("127.0.0.1:0".parse().expect("addr")),
            socket: state_dir.join("control.sock"),
            state_dir,
            request_log: false,
            shutdown_timeout: Duration::from_secs(10),
            limits: Limits::default(),
        }
    }
}

/// The server entry point.
pub struct Server;

/// A running server.
pub struct ServerHandle {
    /// Bound HTTP address.
    pub http_addr: SocketAddr,
    /// Bound HTTPS address.
    pub https_addr: Option<SocketAddr>,
    /// Control socket path.
    pub socket: PathBuf,
    manager: Arc<Manager>,
    shutdown: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
    conns: Arc<Counter>,
    shutdown_timeout: Duration,
}

fn with_context(e: io::Error, what: String) -> io::Error {
    io::Error::new(e.kind(), format!("{what}: {e}"))
}

impl Server {
    /// Creates the state dir, restores the state, binds the listeners and
    /// the control socket, and starts serving.
    pub async fn start(opts: Options) -> io::Result<ServerHandle> {
        state::create_dir(&opts.state_dir).map_err(|e| {
            with_context(
                e,
                format!("cannot create state directory {}", opts.state_dir.display()),
            )
        })?;
        let router = Arc::new(Router::new());
        let acme = Acme::new(opts.state_dir.clone());
        let manager = Manager::new(router.clone(), opts.state_dir.clone(), acme.clone());
        manager.restore(state::load(&opts.state_dir)).await;

        let http = TcpListener::bind(opts.http_addr)
            .await
            .map_err(|e| with_context(e, format!("cannot listen on {}", opts.http_addr)))?;
        let https = match opts.https_addr {
            Some(a) => Some(
                TcpListener::bind(a)
                    .await
                    .map_err(|e| with_context(e, format!("cannot listen on {a}")))?,
            ),
            None => None,
        };
        let control = control::bind(&opts.socket).await.map_err(|e| {
            with_context(
                e,
                format!("cannot bind control socket {}", opts.socket.display()),
            )
        })?;
        let http_addr = http.local_addr()?;
        let https_addr = https.as_ref().map(|l| l.local_addr()).transpose()?;

        let log = opts.request_log.then(RequestLog::start);
        let proxy = Arc::new(Proxy::new(
            router.clone(),
            log,
            https_addr.map(|a| a.port()),
            acme.challenges.clone(),
            opts.state_dir.join("buffers"),
        ));
        let (tx, rx) = watch::channel(false);
        let conns = Counter::new();
        let builder = opts.limits.builder();
        let slots = opts.limits.slots();
        let mut tasks = vec![tokio::spawn(accept_loop(
            http,
            None,
            proxy.clone(),
            (builder.clone(), slots.clone()),
            rx.clone(),
            conns.clone(),
        ))];
        if let Some(l) = https {
            let cfg = tls::server_config(router.clone(), acme.clone()).map_err(io::Error::other)?;
            let acceptor = TlsAcceptor::from(cfg);
            tasks.push(tokio::spawn(accept_loop(
                l,
                Some(acceptor),
                proxy.clone(),
                (builder, slots),
                rx.clone(),
                conns.clone(),
            )));
        }
        tasks.push(tokio::spawn(acme.renew_loop(rx.clone())));
        tasks.push(tokio::spawn(control::serve(control, manager.clone(), rx)));
        eprintln!(
            "hoist-proxy {}: http on {http_addr}, https on {}, control socket {}",
            env!("CARGO_PKG_VERSION"),
            https_addr
                .map(|a| a.to_string())
                .unwrap_or_else(|| "(disabled)".into()),
            opts.socket.display()
        );
        Ok(ServerHandle {
            http_addr,
            https_addr,
            socket: opts.socket,
            manager,
            shutdown: tx,
            tasks,
            conns,
            shutdown_timeout: opts.shutdown_timeout,
        })
    }
}

impl ServerHandle {
    /// The service manager (deploy, pause, list without the socket).
    pub fn manager(&self) -> &Arc<Manager> {
        &self.manager
    }

    /// Stops accepting, lets in-flight requests finish (up to the shutdown
    /// timeout), removes the control socket.
    pub async fn shutdown(self) {
        eprintln!("hoist-proxy: shutting down");
        self.shutdown.send_replace(true);
        for t in self.tasks {
            let _ = t.await;
        }
        if !self.conns.wait_zero(self.shutdown_timeout).await {
            eprintln!(
                "hoist-proxy: {} connections still open after {:?}; closing them",
                self.conns.get(),
                self.shutdown_timeout
            );
        }
        let _ = std::fs::remove_file(&self.socket);
        eprintln!("hoist-proxy: stopped");
    }
}

async fn accept_loop(
    listener: TcpListener,
    tls: Option<TlsAcceptor>,
    proxy: Arc<Proxy>,
    (builder, slots): (Builder<TokioExecutor>, Slots),
    mut shutdown: watch::Receiver<bool>,
    conns: Arc<Counter>,
) {
    loop {
        let (stream, peer) = tokio::select! {
            _ = crate::target::until_true(&mut shutdown) => return,
            r = listener.accept() => match r {
                Ok(x) => x,
                Err(e) => {
                    eprintln!("hoist-proxy: accept: {e}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let _ = stream.set_nodelay(true);
        let Some(slot) = slots.take() else {
            limits::refuse(stream, tls.is_some());
            continue;
        };
        let guard = conns.enter();
        let (proxy, builder, shutdown, tls) = (
            proxy.clone(),
            builder.clone(),
            shutdown.clone(),
            tls.clone(),
        );
        tokio::spawn(async move {
            let _guard = (guard, slot);
            match tls {
                None => serve(TokioIo::new(stream), proxy, builder, peer, false, shutdown).await,
                Some(acceptor) => {
                    let hs = tokio::time::timeout(Duration::from_secs(10), acceptor.accept(stream))
                        .await;
                    // A TLS-ALPN-01 validation ends with the handshake.
                    if let Ok(Ok(s)) = hs
                        && s.get_ref().1.alpn_protocol() != Some(ACME_TLS_ALPN)
                    {
                        serve(TokioIo::new(s), proxy, builder, peer, true, shutdown).await;
                    }
                }
            }
        });
    }
}

async fn serve<I>(
    io: TokioIo<I>,
    proxy: Arc<Proxy>,
    builder: Builder<TokioExecutor>,
    peer: SocketAddr,
    is_tls: bool,
    mut shutdown: watch::Receiver<bool>,
) where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let svc = service_fn(move |req| {
        let proxy = proxy.clone();
        async move { Ok::<_, Infallible>(proxy.handle(req, peer, is_tls).await) }
    });
    let conn = builder.serve_connection_with_upgrades(io, svc);
    tokio::pin!(conn);
    tokio::select! {
        _ = conn.as_mut() => {}
        _ = crate::target::until_true(&mut shutdown) => {
            conn.as_mut().graceful_shutdown();
            let _ = conn.await;
        }
    }
}
