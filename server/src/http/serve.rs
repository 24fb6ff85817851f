//! The listener loop: HTTP/1.1 connections with a header read timeout, a cap on open
//! connections, the peer address for the request layer, and a graceful stop.

use crate::config::HttpConfig;
use axum::extract::ConnectInfo;
use axum::Router;
use hyper_util::rt::{TokioIo, TokioTimer};
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tower::ServiceExt as _;

/// The largest request head accepted.
pub const MAX_HEAD_BYTES: usize = 64 * 1024;

/// Serves `router` on `listener` until `stop` resolves; then accepts nothing more and gives the
/// requests in flight `grace` to finish before closing what is still open.
///
/// A connection that has not sent a whole request head within `limits.header_read_timeout` (a
/// slowloris client, or one idle between requests) is closed. At most `limits.max_connections`
/// are open at once; further clients wait in the listen backlog until one closes.
pub async fn serve(listener: TcpListener, router: Router, limits: &HttpConfig, stop: impl Future<Output = ()>, grace: Duration) {
    let mut http = hyper::server::conn::http1::Builder::new();
    // A request head (request line and headers) over 64 KiB is answered 431 and the connection
    // closed, rather than buffered (hyper's default allows ~400 KiB).
    http.timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout.0)
        .max_buf_size(MAX_HEAD_BYTES);
    let open = Arc::new(Semaphore::new(limits.max_connections));
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    tokio::pin!(stop);
    loop {
        let permit = tokio::select! {
            permit = Arc::clone(&open).acquire_owned() => permit.expect("the semaphore is never closed"),
            () = &mut stop => break,
        };
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    // Out of file descriptors and the like: wait a moment rather than spin.
                    tracing::warn!(error = %e, "accepting a connection failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut stop => break,
        };
        let _ = stream.set_nodelay(true);
        let router = router.clone();
        let service = hyper::service::service_fn(move |mut req: hyper::Request<hyper::body::Incoming>| {
            req.extensions_mut().insert(ConnectInfo(peer));
            router.clone().oneshot(req.map(axum::body::Body::new))
        });
        let connection = http.serve_connection(TokioIo::new(stream), service);
        let connection = graceful.watch(connection);
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                tracing::debug!(error = %e, %peer, "connection ended with an error");
            }
            drop(permit);
        });
    }
    drop(listener);
    tracing::info!(grace = ?grace, "shutting down: no new connections; finishing requests in flight");
    if tokio::time::timeout(grace, graceful.shutdown()).await.is_err() {
        tracing::warn!("the shutdown grace period is over; closing the connections still open");
    }
}
