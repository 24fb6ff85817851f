//! The server-function client: the browser's `fetch`, plus the `X-CSRF-Token` header read from
//! the page's `<meta name="csrf-token">` at send time (the page updates it when the session
//! changes, e.g. after login). Every answer's status is handed to the observer the tab sync
//! registers ([`observe_responses`]), so a failed fetch or a 401 from any call is noticed.

use futures::{Sink, Stream};
use server_fn::client::{browser::BrowserClient, Client};
use server_fn::error::FromServerFnError;
use server_fn::request::browser::BrowserRequest;
use server_fn::response::browser::BrowserResponse;
use std::future::Future;

pub struct CsrfClient;

/// What is told about each answer: `None` when the request did not reach the server.
pub type ResponseObserver = fn(Option<u16>);

#[cfg(feature = "hydrate")]
thread_local! {
    static OBSERVER: std::cell::Cell<Option<ResponseObserver>> = const { std::cell::Cell::new(None) };
}

/// Registers who hears about every answer (browser only; the tab sync does, at start).
pub fn observe_responses(observer: ResponseObserver) {
    #[cfg(feature = "hydrate")]
    OBSERVER.with(|o| o.set(Some(observer)));
    #[cfg(not(feature = "hydrate"))]
    let _ = observer;
}

/// The CSRF token the page carries, if any (browser only).
pub fn page_csrf_token() -> Option<String> {
    #[cfg(feature = "hydrate")]
    {
        let doc = web_sys::window()?.document()?;
        doc.query_selector("meta[name=csrf-token]").ok()??.get_attribute("content")
    }
    #[cfg(not(feature = "hydrate"))]
    {
        None
    }
}

/// Replaces the page's CSRF token (browser only), e.g. after the session changed.
pub fn set_page_csrf_token(token: &str) {
    #[cfg(feature = "hydrate")]
    if let Some(meta) = web_sys::window()
        .and_then(|w| w.document())
        .and_then(|d| d.query_selector("meta[name=csrf-token]").ok().flatten())
    {
        let _ = meta.set_attribute("content", token);
    }
    #[cfg(not(feature = "hydrate"))]
    let _ = token;
}

impl<E, IS, OS> Client<E, IS, OS> for CsrfClient
where
    E: FromServerFnError,
    IS: FromServerFnError,
    OS: FromServerFnError,
{
    type Request = BrowserRequest;
    type Response = BrowserResponse;

    fn send(req: Self::Request) -> impl Future<Output = Result<Self::Response, E>> + Send {
        if let Some(token) = page_csrf_token() {
            req.headers().append("X-CSRF-Token", &token);
        }
        let sent = <BrowserClient as Client<E, IS, OS>>::send(req);
        async move {
            let res = sent.await;
            #[cfg(feature = "hydrate")]
            if let Some(observe) = OBSERVER.with(std::cell::Cell::get) {
                observe(
                    res.as_ref()
                        .ok()
                        .map(<BrowserResponse as server_fn::response::ClientRes<E>>::status),
                );
            }
            res
        }
    }

    fn open_websocket(
        path: &str,
    ) -> impl Future<
        Output = Result<
            (
                impl Stream<Item = Result<server_fn::Bytes, server_fn::Bytes>> + Send + 'static,
                impl Sink<server_fn::Bytes> + Send + 'static,
            ),
            E,
        >,
    > + Send {
        <BrowserClient as Client<E, IS, OS>>::open_websocket(path)
    }

    fn spawn(future: impl Future<Output = ()> + Send + 'static) {
        <BrowserClient as Client<E, IS, OS>>::spawn(future)
    }
}
