use crate::components::forms::{CsrfField, ErrorNote};
use crate::session::use_session_context;
use leptos::either::Either;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::Redirect;

#[component]
pub fn LoginPage() -> impl IntoView {
    let s = use_session_context();
    let error = Signal::derive(move || s.login.value().get().and_then(Result::err));
    view! {
        <Title text="Sign in · Switchboard"/>
        <Transition fallback=|| ()>
            {move || Suspend::new(async move {
                if crate::session::signed_in(s.state.await).is_ok() {
                    Either::Left(view! { <Redirect path="/"/> })
                } else {
                    Either::Right(view! {
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
                    })
                }
            })}
        </Transition>
    }
}
