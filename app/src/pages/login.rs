//! `/login`: the sign-in form, saying why the visitor is here when a session ended.

use crate::auth::local_path;
use crate::components::forms::{form_error, CsrfField, ErrorNote};
use crate::components::guards::SignedOutOnly;
use crate::functions::Login;
use crate::models::EndReason;
use crate::providers::use_session;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;
use server_fn::ServerFn;

#[component]
pub fn LoginPage() -> impl IntoView {
    let session = use_session();
    let error = form_error(Login::PATH);
    let query = use_query_map();
    // Why the visitor is here (a session that ended) and where to go after signing in.
    let notice = move || {
        query
            .with(|q| q.get("reason"))
            .and_then(|r| EndReason::parse(&r))
            .and_then(EndReason::message)
    };
    let next = move || query.with(|q| q.get("next")).filter(|n| local_path(Some(n)).is_some());
    view! {
        <Title text="Sign in · Switchboard"/>
        <SignedOutOnly>
            <section class="card narrow">
                <h1>"Sign in"</h1>
                {move || notice().map(|text| view! { <p class="notice" role="status">{text}</p> })}
                // A plain form, with JavaScript too: signing in loads the next page.
                <form method="post" action=Login::PATH>
                    <CsrfField/>
                    {move || next().map(|next| view! { <input type="hidden" name="next" value=next/> })}
                    <label>"Email" <input type="email" name="email" autocomplete="username" required/></label>
                    <label>"Password" <input type="password" name="password" autocomplete="current-password" required/></label>
                    <button type="submit">"Sign in"</button>
                </form>
                <ErrorNote error/>
                {session.registration_open().then(|| view! { <p>"New here? " <a href="/register">"Create an account"</a></p> })}
            </section>
        </SignedOutOnly>
    }
}
