//! Small pieces every form uses.

use crate::error::ApiError;
use leptos::prelude::*;

/// The hidden CSRF field that lets a form work without JavaScript. (With JavaScript the
/// client sends the `X-CSRF-Token` header instead.)
#[component]
pub fn CsrfField() -> impl IntoView {
    view! { <input type="hidden" name="csrf_token" value=crate::session::initial_csrf_token()/> }
}

/// Shows an action's error, if its last run failed.
#[component]
pub fn ErrorNote(#[prop(into)] error: Signal<Option<ApiError>>) -> impl IntoView {
    move || error.get().map(|e| view! { <p class="error" role="alert">{e.message().to_owned()}</p> })
}
