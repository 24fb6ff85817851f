//! The user's platform connections: add, rename, remove.

use crate::components::forms::{action_error, first_error, CsrfField, ErrorNote};
use crate::components::guards::RequireSession;
use crate::models::{PlatformView, SessionState};
use crate::providers::use_session;
use leptos::prelude::*;
use leptos_meta::Title;

#[component]
pub fn PlatformsPage() -> impl IntoView {
    view! {
        <Title text="Platforms · Switchboard"/>
        <RequireSession page=|state| view! { <Platforms state/> }/>
    }
}

#[component]
fn Platforms(state: SessionState) -> impl IntoView {
    let actions = use_session().actions();
    let active = state.platform_id();
    let add_error = action_error(actions.add_platform);
    let change_error = first_error(vec![action_error(actions.rename_platform), action_error(actions.remove_platform)]);
    view! {
        <h1>"Platforms"</h1>
        <ErrorNote error=change_error/>
        <ul class="platforms" aria-label="Platforms">
            {state.platforms.into_iter().map(|p| view! { <PlatformItem is_active=Some(p.id) == active platform=p/> }).collect_view()}
        </ul>
        <section class="card">
            <h2>"Add a platform"</h2>
            <ActionForm action=actions.add_platform attr:class="platform-form">
                <CsrfField/>
                <label>"Kind"
                    <select name="kind">
                        <option value="mastodon">"Mastodon"</option>
                        <option value="pixelfed">"Pixelfed"</option>
                        <option value="other">"Other"</option>
                    </select>
                </label>
                <label>"Label" <input type="text" name="label" required maxlength="64"/></label>
                <label>"Instance URL" <input type="url" name="instance_url" required placeholder="https://mastodon.social"/></label>
                <label>"Handle" <input type="text" name="handle" required placeholder="@you"/></label>
                <button type="submit">"Add platform"</button>
            </ActionForm>
            <ErrorNote error=add_error/>
        </section>
    }
}

#[component]
fn PlatformItem(platform: PlatformView, is_active: bool) -> impl IntoView {
    let actions = use_session().actions();
    let label = platform.label.clone();
    let remove_label = format!("Remove {}", platform.label);
    view! {
        <li class="platform" class:active=is_active>
            <strong>{platform.label.clone()}</strong>
            {is_active.then(|| view! { <span class="badge">"active"</span> })}
            <span class="meta">{platform.handle.clone()} " · " {platform.instance_url.clone()} " · " {platform.kind.as_str()}</span>
            <ActionForm action=actions.rename_platform attr:class="inline">
                <CsrfField/>
                <input type="hidden" name="platform_id" value=platform.id.to_string()/>
                <label>"New label" <input type="text" name="label" value=label required maxlength="64"/></label>
                <button type="submit">"Rename"</button>
            </ActionForm>
            <ActionForm action=actions.remove_platform attr:class="inline">
                <CsrfField/>
                <input type="hidden" name="platform_id" value=platform.id.to_string()/>
                <button type="submit" aria-label=remove_label>"Remove"</button>
            </ActionForm>
        </li>
    }
}
