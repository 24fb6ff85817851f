//! Who a request comes from.

use crate::AppState;
use axum::extract::{ConnectInfo, Request};
use std::net::SocketAddr;

/// The client's address: the connection's peer, or, behind a proxy in `http.trusted_proxies`,
/// the client it names in `X-Forwarded-For`. `None` without a connection (in-process calls).
pub fn client_ip(state: &AppState, req: &Request) -> Option<std::net::IpAddr> {
    let peer = req.extensions().get::<ConnectInfo<SocketAddr>>()?;
    let forwarded: Vec<&str> = req
        .headers()
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .collect();
    Some(state.settings.http.trusted_proxies.client(peer.0.ip(), &forwarded))
}
