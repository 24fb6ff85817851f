pub mod dashboard;
pub mod login;
pub mod platforms;
pub mod register;
pub mod session;

use crate::error::ApiError;
use leptos::prelude::*;
use leptos_router::components::Redirect;

/// What a page shows when it cannot show its content: a redirect to login when the caller is
/// not signed in, else the error.
pub fn not_available(e: ApiError) -> impl IntoView {
    if e.is_auth_failure() {
        leptos::either::Either::Left(view! { <Redirect path="/login"/> })
    } else {
        leptos::either::Either::Right(view! { <p class="error" role="alert">{e.message().to_owned()}</p> })
    }
}
