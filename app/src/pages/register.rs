use crate::components::forms::{action_error, CsrfField, ErrorNote};
use crate::components::guards::SignedOutOnly;
use crate::session::use_session_context;
use leptos::prelude::*;
use leptos_meta::Title;

#[component]
pub fn RegisterPage() -> impl IntoView {
    let s = use_session_context();
    let error = action_error(s.register);
    view! {
        <Title text="Create an account · Switchboard"/>
        <SignedOutOnly>
            <section class="card narrow">
                <h1>"Create an account"</h1>
                <ActionForm action=s.register>
                    <CsrfField/>
                    <label>"Name" <input type="text" name="display_name" autocomplete="name" required maxlength="64"/></label>
                    <label>"Email" <input type="email" name="email" autocomplete="username" required/></label>
                    <label>"Password" <input type="password" name="password" autocomplete="new-password" required minlength="10"/></label>
                    <button type="submit">"Create account"</button>
                </ActionForm>
                <ErrorNote error/>
                <p>"Have an account? " <a href="/login">"Sign in"</a></p>
            </section>
        </SignedOutOnly>
    }
}
