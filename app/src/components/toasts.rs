//! Notifications: dismissible toasts in an `aria-live` region.

use crate::providers::use_session;
use leptos::prelude::*;

/// The toasts, in the order they came. A dismissed one is hidden in its place until all are (see
/// `providers::toasts`), so each toast keeps its element.
#[component]
pub fn Toaster() -> impl IntoView {
    let toasts = use_session().toasts();
    let list = move || {
        toasts
            .list()
            .get()
            .into_iter()
            .map(|toast| {
                view! {
                    <div class="toast" class:error=toast.error role=if toast.error { "alert" } else { "status" } hidden=toast.dismissed>
                        <span class="text">{toast.text}</span>
                        <button type="button" class="dismiss" aria-label="Dismiss notification" on:click=move |_| toasts.dismiss(toast.id)>
                            "×"
                        </button>
                    </div>
                }
            })
            .collect_view()
    };
    view! {
        <div class="toasts" aria-live="polite" aria-label="Notifications" role="region">
            {list}
        </div>
    }
}
