//! "Enter your password again": shown where an action answered `reauthentication_required`
//! (admin actions and the password change need a recent password, ASVS 7.5).

use crate::components::forms::{action_error, CsrfField, ErrorNote};
use crate::error::{ApiError, ErrorCode};
use crate::functions::Reauthenticate;
use leptos::prelude::*;

/// The password prompt, while `error` asks for it (and until it is answered).
#[component]
pub fn ConfirmPassword(#[prop(into)] error: Signal<Option<ApiError>>) -> impl IntoView {
    let confirm = ServerAction::<Reauthenticate>::new();
    let confirm_error = action_error(confirm);
    let asked = Memo::new(move |_| error.get().is_some_and(|e| e.code() == ErrorCode::ReauthenticationRequired));
    let confirmed = Memo::new(move |_| matches!(confirm.value().get(), Some(Ok(_))));
    move || {
        (asked.get() || confirm_error.get().is_some()).then(|| {
            view! {
                <div class="reauth" role="group" aria-label="Confirm your password">
                    {move || if confirmed.get() {
                        view! { <p class="notice" role="status">"Password confirmed. Try again."</p> }.into_any()
                    } else {
                        view! {
                            <ActionForm action=confirm attr:class="inline">
                                <CsrfField/>
                                <label>"Confirm your password to continue"
                                    <input type="password" name="password" autocomplete="current-password" required/>
                                </label>
                                <button type="submit">"Confirm"</button>
                            </ActionForm>
                        }.into_any()
                    }}
                    <ErrorNote error=confirm_error/>
                </div>
            }
        })
    }
}
