use crate::components::forms::{action_error, CsrfField, ErrorNote};
use crate::components::guards::SignedOutOnly;
use crate::session::use_session_context;
use leptos::prelude::*;
use leptos_meta::Title;

#[component]
pub fn LoginPage() -> impl IntoView {
    let s = use_session_context();
    let error = action_error(s.login);
    view! {
        <Title text="Sign in · Switchboard"/>
        <SignedOutOnly>
            <section class="card narrow">
                <h1>"Sign in"</h1>
                <ActionForm action=s.login>
                    <CsrfField/>
                    <label>"Email" <input type="email" name="email" autocomplete="username" required/></label>
                    <label>"Password" <input type="password" name="password" autocomplete="current-password" required/></label>
                    <button type="submit">"Sign in"</button>
                </ActionForm>
                <ErrorNote error/>
                <p>"New here? " <a href="/register">"Create an account"</a></p>
            </section>
        </SignedOutOnly>
    }
}
