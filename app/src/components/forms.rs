//! Small pieces every form uses.

use crate::error::ApiError;
use leptos::prelude::*;

/// The CSRF token the page was rendered with: from the request on the server, from the page's
/// `<meta name="csrf-token">` in the browser.
pub fn page_csrf_token() -> String {
    #[cfg(feature = "ssr")]
    {
        crate::auth::ssr::page_csrf_token()
    }
    #[cfg(not(feature = "ssr"))]
    {
        crate::functions::client::page_csrf_token().unwrap_or_default()
    }
}

/// `text` with `&`, `<` and `>` written as entities, for content the renderer does not escape
/// (a `<textarea>`'s: Leptos writes its children into the server-rendered HTML as they are, so
/// a body containing `</textarea><script>` would break out).
pub fn escape_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            c => out.push(c),
        }
    }
    out
}

/// A `<textarea>` showing `text` as text, in the server-rendered HTML and after hydration.
#[component]
pub fn TextArea(name: &'static str, rows: u32, #[prop(into)] text: String) -> impl IntoView {
    view! { <textarea name=name rows=rows inner_html=escape_html(&text)></textarea> }
}

/// The hidden CSRF field that lets a form work without JavaScript. (With JavaScript the
/// client sends the `X-CSRF-Token` header instead.)
#[component]
pub fn CsrfField() -> impl IntoView {
    view! { <input type="hidden" name="csrf_token" value=page_csrf_token()/> }
}

/// Shows an action's error, if its last run failed.
#[component]
pub fn ErrorNote(#[prop(into)] error: Signal<Option<ApiError>>) -> impl IntoView {
    move || {
        error
            .get()
            .map(|e| view! { <p class="error" role="alert">{e.message().to_owned()}</p> })
    }
}

/// The error a plain form post to the server function at `path` (e.g. `Login::PATH`) was sent
/// back with: the server redirects a failed form post to the page it came from with
/// `?__path=…&__err=…`, with and without JavaScript.
pub fn form_error(path: &'static str) -> Signal<Option<ApiError>> {
    let query = leptos_router::hooks::use_query_map();
    Signal::derive(move || {
        query.with(|q| {
            if q.get_str("__path") != Some(path) {
                return None;
            }
            q.get_str("__err").map(server_fn::error::ServerFnUrlError::<ApiError>::decode_err)
        })
    })
}

/// The first of several errors that is present.
pub fn first_error(errors: Vec<Signal<Option<ApiError>>>) -> Signal<Option<ApiError>> {
    Signal::derive(move || errors.iter().find_map(|e| e.get()))
}

#[cfg(test)]
mod tests {
    use super::escape_html;

    #[test]
    fn markup_becomes_text() {
        assert_eq!(
            escape_html("</textarea><script>a && b</script>"),
            "&lt;/textarea&gt;&lt;script&gt;a &amp;&amp; b&lt;/script&gt;"
        );
        assert_eq!(escape_html("plain \"quoted\" text"), "plain \"quoted\" text");
    }
}
