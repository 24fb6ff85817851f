//! `/register`: create an account, when the server accepts new ones (`features.registration`).

use crate::components::forms::{action_error, CsrfField, ErrorNote};
use crate::components::guards::SignedOutOnly;
use crate::providers::use_session;
use leptos::either::Either;
use leptos::prelude::*;
use leptos_meta::Title;

#[component]
pub fn RegisterPage() -> impl IntoView {
    let session = use_session();
    let register = session.actions().register;
    let error = action_error(register);
    view! {
        <Title text="Create an account · Switchboard"/>
        <SignedOutOnly>
            <section class="card narrow">
                <h1>"Create an account"</h1>
                {if session.registration_open() {
                    Either::Left(view! {
                        <ActionForm action=register>
                            <CsrfField/>
                            <label>"Name" <input type="text" name="display_name" autocomplete="name" required maxlength="64"/></label>
                            <label>"Email" <input type="email" name="email" autocomplete="username" required/></label>
                            <label>"Password" <input type="password" name="password" autocomplete="new-password" required minlength="10"/></label>
                            <button type="submit">"Create account"</button>
                        </ActionForm>
                        <ErrorNote error/>
                    })
                } else {
                    Either::Right(view! { <p class="notice" role="status">"This server does not accept new accounts. Ask an administrator for one."</p> })
                }}
                <p>"Have an account? " <a href="/login">"Sign in"</a></p>
            </section>
        </SignedOutOnly>
    }
}
