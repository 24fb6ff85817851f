//! The dashboard: the active platform and its drafts.

use crate::components::forms::{action_error, first_error, CsrfField, ErrorNote, TextArea};
use crate::components::guards::{not_available, RequireSession};
use crate::functions::{list_drafts, AddDraft, DeleteDraft, EditDraft};
use crate::models::{DraftView, SessionState};
use leptos::either::{Either, EitherOf3};
use leptos::prelude::*;
use leptos_meta::Title;

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
    // This view is rebuilt whenever the active platform changes (here or in another tab), so
    // the drafts only refetch after their own edits.
    let add = ServerAction::<AddDraft>::new();
    let edit = ServerAction::<EditDraft>::new();
    let delete = ServerAction::<DeleteDraft>::new();
    let drafts = Resource::new(
        move || (add.version().get(), edit.version().get(), delete.version().get()),
        |_| list_drafts(),
    );
    let add_error = action_error(add);
    let change_error = first_error(vec![action_error(edit), action_error(delete)]);
    Either::Right(view! {
        <h1>"Dashboard"</h1>
        <section class="card active-platform" aria-label="Platform details">
            <h2>{platform.label.clone()}</h2>
            <p class="meta">{platform.handle.clone()} " on " {platform.instance_url.clone()} " (" {platform.kind.as_str()} ")"</p>
        </section>
        <section class="card" aria-labelledby="drafts-heading">
            <h2 id="drafts-heading">"Drafts"</h2>
            <ErrorNote error=change_error/>
            <Transition fallback=|| view! { <p>"Loading drafts…"</p> }>
                {move || Suspend::new(async move {
                    match drafts.await {
                        Ok(list) if list.is_empty() => EitherOf3::A(view! { <p class="empty">"No drafts for this platform yet."</p> }),
                        Ok(list) => EitherOf3::B(view! {
                            <ul class="drafts" aria-label="Drafts">
                                {list.into_iter().map(|d| view! { <DraftItem draft=d edit delete/> }).collect_view()}
                            </ul>
                        }),
                        Err(e) => EitherOf3::C(not_available(e)),
                    }
                })}
            </Transition>
            <h3>"New draft"</h3>
            <ActionForm action=add attr:class="draft-form">
                <CsrfField/>
                <label>"Title" <input type="text" name="title" required maxlength="200"/></label>
                <label>"Body" <textarea name="body" rows="4"></textarea></label>
                <button type="submit">"Save draft"</button>
            </ActionForm>
            <ErrorNote error=add_error/>
        </section>
    })
}

#[component]
fn DraftItem(draft: DraftView, edit: ServerAction<EditDraft>, delete: ServerAction<DeleteDraft>) -> impl IntoView {
    let (title, body) = (draft.title.clone(), draft.body.clone());
    let delete_label = format!("Delete {}", draft.title);
    view! {
        <li class="draft">
            <h3>{draft.title.clone()}</h3>
            <p class="body">{draft.body.clone()}</p>
            <details>
                <summary>"Edit"</summary>
                <ActionForm action=edit>
                    <CsrfField/>
                    <input type="hidden" name="draft_id" value=draft.id.to_string()/>
                    <label>"Title" <input type="text" name="title" value=title required maxlength="200"/></label>
                    <label>"Body" <TextArea name="body" rows=4 text=body/></label>
                    <button type="submit">"Save"</button>
                </ActionForm>
            </details>
            <ActionForm action=delete attr:class="inline">
                <CsrfField/>
                <input type="hidden" name="draft_id" value=draft.id.to_string()/>
                <button type="submit" aria-label=delete_label>"Delete"</button>
            </ActionForm>
        </li>
    }
}
