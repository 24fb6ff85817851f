//! `/register`: create an account, when the server accepts new ones (`features.registration`).

use crate::components::forms::{form_error, CsrfField, ErrorNote};
use crate::components::guards::SignedOutOnly;
use crate::functions::Register;
use crate::providers::use_session;
use leptos::either::Either;
use leptos::prelude::*;
use leptos_meta::Title;
use server_fn::ServerFn;

#[component]
pub fn RegisterPage() -> impl IntoView {
    let session = use_session();
    let error = form_error(Register::PATH);
    view! {
        <Title text="Create an account · Switchboard"/>
        <SignedOutOnly>
            <section class="card narrow">
                <h1>"Create an account"</h1>
                {if session.registration_open() {
                    Either::Left(view! {
                        // A plain form, with JavaScript too: a new account loads the dashboard.
                        <form method="post" action=Register::PATH>
                            <CsrfField/>
                            <label>"Name" <input type="text" name="display_name" autocomplete="name" required maxlength="64"/></label>
                            <label>"Email" <input type="email" name="email" autocomplete="username" required/></label>
                            <label>"Password" <input type="password" name="password" autocomplete="new-password" required minlength="10"/></label>
                            <button type="submit">"Create account"</button>
                        </form>
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
