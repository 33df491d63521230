//! The accept loop: every TCP connection served over HTTP/1.1 by hyper, with a limit on how
//! long a client may take to send a request's headers, and a graceful shutdown.
//!
//! `axum::serve` offers no header timeout, so a client that opened connections and never
//! finished a request line held each of them until shutdown. Here hyper closes a connection
//! whose headers are not in within the header timeout (`--header-timeout-secs`, 30 s by
//! default; the same clock closes a keep-alive connection left idle that long). The body has
//! its own limit (`http::body::BODY_TIMEOUT`).
//!
//! At most `Limits::max` connections are open at once (the rest wait in the listen backlog
//! until one closes), and at most `Limits::per_ip` from one client (one more is closed at once):
//! see `connection_limits`.

use std::future::Future;
use std::pin::pin;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tower::ServiceExt;

use crate::connection_limits::PerIp;
use crate::metrics::Metrics;

/// What the accept loop allows.
#[derive(Debug, Clone)]
pub struct Limits {
    /// How long a client may take over a request's headers (and stay idle between requests).
    pub header_timeout: Duration,
    /// Connections open at once.
    pub max: usize,
    /// Connections open at once from one client IP (`None`: no such limit).
    pub per_ip: Option<Arc<PerIp>>,
}

/// Accepts connections on `listener` and serves `router` on each (the peer address reaches
/// handlers as `ConnectInfo<SocketAddr>`) until `shutdown` resolves; then stops accepting,
/// closes idle connections, and returns once every connection has finished its request.
/// A connection whose request headers take longer than the header timeout is closed.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    limits: Limits,
    metrics: Metrics,
    shutdown: impl Future<Output = ()>,
) {
    let graceful = GracefulShutdown::new();
    let mut shutdown = pin!(shutdown);
    let places = Arc::new(Semaphore::new(limits.max));
    let mut full = false;
    loop {
        // A place first: at the cap, new connections wait in the kernel's backlog rather than
        // take descriptors the process needs.
        let place = match Arc::clone(&places).try_acquire_owned() {
            Ok(place) => {
                full = false;
                place
            }
            Err(_) => {
                if !full {
                    full = true;
                    tracing::warn!(
                        max = limits.max,
                        "connection limit reached; new connections wait until one closes"
                    );
                }
                tokio::select! {
                    place = Arc::clone(&places).acquire_owned() => place.expect("the semaphore is never closed"),
                    () = &mut shutdown => break,
                }
            }
        };
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(connection) => connection,
                Err(e) => {
                    accept_failed(e).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let ip_slot = match &limits.per_ip {
            Some(table) => match table.admit(peer.ip()) {
                Some(slot) => Some(slot),
                None => {
                    // Closed unread: the client holds its share already. (No address is logged.)
                    metrics.connection_refused();
                    continue;
                }
            },
            None => None,
        };
        let service = router.clone().map_request(move |req: axum::http::Request<Incoming>| {
            let mut req = req.map(Body::new);
            req.extensions_mut().insert(ConnectInfo(peer));
            req
        });
        let connection = http1::Builder::new()
            .timer(TokioTimer::new())
            .header_read_timeout(limits.header_timeout)
            .serve_connection(TokioIo::new(stream), TowerToHyperService::new(service));
        let connection = graceful.watch(connection);
        let metrics = metrics.clone();
        metrics.connection_opened();
        tokio::spawn(async move {
            // A client that vanished or sent garbage ends its own connection; nothing to report.
            let _ = connection.await;
            metrics.connection_closed();
            drop((place, ip_slot));
        });
    }
    drop(listener);
    graceful.shutdown().await;
}

/// A failed accept: a connection reset before it was accepted is the client's business; running
/// out of file descriptors is ours, so it is logged and accepting pauses for a moment.
async fn accept_failed(e: std::io::Error) {
    use std::io::ErrorKind::{ConnectionAborted, ConnectionRefused, ConnectionReset};
    if matches!(e.kind(), ConnectionAborted | ConnectionRefused | ConnectionReset) {
        return;
    }
    tracing::error!(error = %e, "accepting a connection failed; pausing for a second");
    tokio::time::sleep(Duration::from_secs(1)).await;
}
