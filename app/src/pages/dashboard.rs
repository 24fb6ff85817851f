//! The dashboard: the active platform and its drafts.

use crate::components::forms::{first_error, form_error, CsrfField, ErrorNote, TextArea};
use crate::components::guards::{not_available, RequireSession};
use crate::functions::{list_drafts, AddDraft, DeleteDraft, EditDraft};
use crate::models::{DraftView, SessionState};
use leptos::either::{Either, EitherOf3};
use leptos::prelude::*;
use leptos_meta::Title;
use server_fn::ServerFn;

#[component]
pub fn DashboardPage() -> impl IntoView {
    view! {
        <Title text="Dashboard · Switchboard"/>
        <RequireSession page=|state| view! { <Dashboard state/> }/>
    }
}

#[component]
fn Dashboard(state: SessionState) -> impl IntoView {
    let Some(platform) = state.platform.clone() else {
        return Either::Left(view! {
            <h1>"Dashboard"</h1>
            <p>"No platform is active. " <a href="/platforms">"Add a platform"</a> " to start writing drafts."</p>
        });
    };
    // Rendered on the server. The drafts forms are plain forms that a script posts when it can
    // (`data-enhance`, see `providers::page`): the page's content is then loaded again, and an
    // error shows as a notification; without JavaScript the form post comes back here.
    let drafts = Resource::new(|| (), |_| list_drafts());
    let add_error = form_error(AddDraft::PATH);
    let change_error = first_error(vec![form_error(EditDraft::PATH), form_error(DeleteDraft::PATH)]);
    Either::Right(view! {
        <h1>"Dashboard"</h1>
        <section class="card active-platform" aria-label="Platform details">
            <h2>{platform.label.clone()}</h2>
            <p class="meta">{platform.handle.clone()} " on " {platform.instance_url.clone()} " (" {platform.kind.as_str()} ")"</p>
        </section>
        <section class="card" aria-labelledby="drafts-heading">
            <h2 id="drafts-heading">"Drafts"</h2>
            <ErrorNote error=change_error/>
            <Suspense fallback=|| view! { <p>"Loading drafts…"</p> }>
                {move || Suspend::new(async move {
                    match drafts.await {
                        Ok(list) if list.is_empty() => EitherOf3::A(view! { <p class="empty">"No drafts for this platform yet."</p> }),
                        Ok(list) => EitherOf3::B(view! {
                            <ul class="drafts" aria-label="Drafts">
                                {list.into_iter().map(|d| view! { <DraftItem draft=d/> }).collect_view()}
                            </ul>
                        }),
                        Err(e) => EitherOf3::C(not_available(e)),
                    }
                })}
            </Suspense>
            <h3>"New draft"</h3>
            <form method="post" action=AddDraft::PATH class="draft-form" data-enhance>
                <CsrfField/>
                <label>"Title" <input type="text" name="title" required maxlength="200"/></label>
                <label>"Body" <textarea name="body" rows="4"></textarea></label>
                <button type="submit">"Save draft"</button>
            </form>
            <ErrorNote error=add_error/>
        </section>
    })
}

#[component]
fn DraftItem(draft: DraftView) -> impl IntoView {
    let (title, body) = (draft.title.clone(), draft.body.clone());
    let delete_label = format!("Delete {}", draft.title);
    view! {
        <li class="draft">
            <h3>{draft.title.clone()}</h3>
            <p class="body">{draft.body.clone()}</p>
            <details>
                <summary>"Edit"</summary>
                <form method="post" action=EditDraft::PATH data-enhance>
                    <CsrfField/>
                    <input type="hidden" name="draft_id" value=draft.id.to_string()/>
                    <label>"Title" <input type="text" name="title" value=title required maxlength="200"/></label>
                    <label>"Body" <TextArea name="body" rows=4 text=body/></label>
                    <button type="submit">"Save"</button>
                </form>
            </details>
            <form method="post" action=DeleteDraft::PATH class="inline" data-enhance>
                <CsrfField/>
                <input type="hidden" name="draft_id" value=draft.id.to_string()/>
                <button type="submit" aria-label=delete_label>"Delete"</button>
            </form>
        </li>
    }
}
