//! Calling the server from the browser. Every request carries the `X-CSRF-Token` header read from
//! the page's `<meta name="csrf-token">` at send time (the page updates it when the session
//! changes, e.g. after login), and every answer's status is handed to the observer the tab sync
//! registers ([`observe_responses`]), so a failed fetch or a 401 from any call is noticed.
//!
//! Two ways, with the same wire format and the same result:
//! - [`call`]: a server function by its type, with its fields as text, on the browser's `fetch`
//!   and the one JSON reader the browser build has. The session's own islands use it: it keeps
//!   server_fn's client stack out of the browser build (about 40 KB of it).
//! - calling the server function itself (`session_count().await`), through [`CsrfClient`]: typed
//!   arguments, at the price of that client stack in the build the first time any island does it.

use crate::error::{ApiError, ErrorCode};
use futures::{Sink, Stream};
use serde::de::DeserializeOwned;
use server_fn::client::{browser::BrowserClient, Client};
use server_fn::error::FromServerFnError;
use server_fn::request::browser::BrowserRequest;
use server_fn::response::browser::BrowserResponse;
use server_fn::{Protocol, ServerFn};
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

/// Calls the server function `F` with `fields` (its arguments by name, as text: what a form would
/// send) and reads its JSON answer, or its [`ApiError`]. A request that does not reach the server
/// is `network_error`, an answer that cannot be read `bad_response`, as with [`CsrfClient`].
/// Browser only: on the server it answers `internal` without sending anything.
///
/// For example (docs/SESSION_API.md has more):
/// `call::<SwitchPlatform>(&[("platform_id", id.to_string())]).await?` is the new state.
pub async fn call<F>(fields: &[(&str, String)]) -> Result<F::Output, ApiError>
where
    F: ServerFn<Error = ApiError>,
    F::Output: DeserializeOwned,
{
    let get = <F::Protocol as Protocol<F, F::Output, F::Client, F::Server, F::Error, F::InputStreamError, F::OutputStreamError>>::METHOD
        == http::Method::GET;
    let form = form_encode(fields);
    #[cfg(feature = "hydrate")]
    {
        let url = if get && !form.is_empty() {
            format!("{}?{form}", F::PATH)
        } else {
            F::PATH.to_owned()
        };
        let body = (!get).then_some(form.as_str());
        let res = browser::fetch(if get { "GET" } else { "POST" }, &url, "application/json", body).await;
        if let Some(observe) = OBSERVER.with(std::cell::Cell::get) {
            observe(res.as_ref().ok().map(web_sys::Response::status));
        }
        let res = res.map_err(|_| ApiError::new(ErrorCode::NetworkError, "the server could not be reached"))?;
        let text = browser::text(&res).await.unwrap_or_default();
        read_answer(res.ok(), text.as_bytes())
    }
    #[cfg(not(feature = "hydrate"))]
    {
        let _ = (get, form);
        Err(ApiError::new(ErrorCode::Internal, "functions::client::call is for the browser"))
    }
}

/// A server function's answer: its output when the status is a success, else its error.
#[cfg(any(feature = "hydrate", test))]
fn read_answer<T: DeserializeOwned>(ok: bool, body: &[u8]) -> Result<T, ApiError> {
    let unreadable = |e: serde_json::Error| ApiError::new(ErrorCode::BadResponse, format!("the server's answer was not understood: {e}"));
    if ok {
        serde_json::from_slice(body).map_err(unreadable)
    } else {
        Err(serde_json::from_slice(body).unwrap_or_else(unreadable))
    }
}

/// `application/x-www-form-urlencoded`, as a form sends it.
fn form_encode(fields: &[(&str, String)]) -> String {
    form_urlencoded::Serializer::new(String::new()).extend_pairs(fields).finish()
}

/// The browser's `fetch`, for [`call`] and for the page's own requests (`providers::page`).
#[cfg(feature = "hydrate")]
pub(crate) mod browser {
    use wasm_bindgen::{JsCast, JsValue};
    use wasm_bindgen_futures::JsFuture;

    /// `fetch`, with the page's CSRF token and, given `form`, a form-encoded body; `Err` when
    /// the request did not reach the server.
    pub async fn fetch(method: &str, url: &str, accept: &str, form: Option<&str>) -> Result<web_sys::Response, JsValue> {
        let headers = web_sys::Headers::new()?;
        headers.set("Accept", accept)?;
        if let Some(token) = super::page_csrf_token() {
            headers.set("X-CSRF-Token", &token)?;
        }
        let init = web_sys::RequestInit::new();
        init.set_method(method);
        if let Some(form) = form {
            headers.set("Content-Type", "application/x-www-form-urlencoded")?;
            init.set_body(&JsValue::from_str(form));
        }
        init.set_headers(&headers);
        let window = web_sys::window().ok_or(JsValue::NULL)?;
        let res = JsFuture::from(window.fetch_with_str_and_init(url, &init)).await?;
        res.dyn_into()
    }

    /// The answer's body as text.
    pub async fn text(res: &web_sys::Response) -> Option<String> {
        JsFuture::from(res.text().ok()?).await.ok()?.as_string()
    }
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

#[cfg(test)]
mod tests {
    use super::{form_encode, read_answer};
    use crate::error::{ApiError, ErrorCode};
    use crate::functions::SwitchPlatform;
    use crate::models::{PlatformId, SessionVersion};

    #[test]
    fn fields_are_form_encoded_as_the_server_function_reads_them() {
        let fields = [("platform_id", "7".to_owned()), ("expected_version", "12".to_owned())];
        let read: SwitchPlatform = serde_qs::from_str(&form_encode(&fields)).expect("the server reads it");
        assert_eq!(read.platform_id, PlatformId::parse("7").unwrap());
        assert_eq!(read.expected_version, Some(SessionVersion(12)));
        assert_eq!(
            form_encode(&[("a b", "x&y=z/é".to_owned()), ("c", String::new())]),
            "a+b=x%26y%3Dz%2F%C3%A9&c="
        );
        assert_eq!(form_encode(&[]), "");
    }

    #[test]
    fn an_answer_is_the_output_on_success_and_the_error_otherwise() {
        assert_eq!(read_answer::<u64>(true, b"3"), Ok(3));
        let conflict = ApiError::new(ErrorCode::VersionConflict, "the session changed");
        let body = serde_json::to_vec(&conflict).unwrap();
        assert_eq!(read_answer::<u64>(false, &body), Err(conflict));
        assert_eq!(read_answer::<u64>(true, b"{").map_err(|e| e.code()), Err(ErrorCode::BadResponse));
        assert_eq!(
            read_answer::<u64>(false, b"<html>").map_err(|e| e.code()),
            Err(ErrorCode::BadResponse)
        );
    }
}
