//! Notifications: dismissible toasts in an `aria-live` region.

use crate::providers::use_session;
use leptos::prelude::*;

#[component]
pub fn Toaster() -> impl IntoView {
    let toasts = use_session().toasts();
    view! {
        <div class="toasts" aria-live="polite" aria-label="Notifications" role="region">
            <For each=move || toasts.list().get() key=|t| t.id let:toast>
                <div class="toast" class:error=toast.error role=if toast.error { "alert" } else { "status" }>
                    <span class="text">{toast.text.clone()}</span>
                    <button type="button" class="dismiss" aria-label="Dismiss notification" on:click=move |_| toasts.dismiss(toast.id)>
                        "×"
                    </button>
                </div>
            </For>
        </div>
    }
}
