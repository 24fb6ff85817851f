//! The user's platform connections: add, rename, remove. The page renders from the session
//! state every tab already has; its forms are plain forms (they post and come back here, with
//! the error in the address when there is one), which keeps the browser build small.

use crate::components::forms::CsrfField;
use crate::components::fragment::UrlError;
use crate::components::guards::RequireSession;
use crate::models::{PlatformView, SessionState};
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
    let active = state.platform_id();
    view! {
        <h1>"Platforms"</h1>
        <UrlError/>
        <ul class="platforms" aria-label="Platforms">
            {state.platforms.into_iter().map(|p| view! { <PlatformItem is_active=Some(p.id) == active platform=p/> }).collect_view()}
        </ul>
        <section class="card">
            <h2>"Add a platform"</h2>
            <form method="post" action="/api/add_platform" class="platform-form">
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
            </form>
        </section>
    }
}

#[component]
fn PlatformItem(platform: PlatformView, is_active: bool) -> impl IntoView {
    let label = platform.label.clone();
    let remove_label = format!("Remove {}", platform.label);
    let id = platform.id.to_string();
    view! {
        <li class="platform" class:active=is_active>
            <div class="platform-head">
                <strong>{platform.label.clone()}</strong>
                {is_active.then(|| view! { <span class="badge">"active"</span> })}
                <span class="meta">{platform.kind.as_str()} " · " {platform.handle.clone()} " · " {platform.instance_url.clone()}</span>
            </div>
            <div class="platform-actions">
                <form method="post" action="/api/rename_platform" class="rename">
                    <CsrfField/>
                    <input type="hidden" name="platform_id" value=id.clone()/>
                    <label>"New label" <input type="text" name="label" value=label required maxlength="64"/></label>
                    <button type="submit" class="secondary">"Rename"</button>
                </form>
                // The confirmation is a disclosure: it opens without JavaScript, and nothing is
                // removed until its own button is pressed.
                <details class="remove">
                    <summary>"Remove…"</summary>
                    <form method="post" action="/api/remove_platform" class="confirm">
                        <CsrfField/>
                        <input type="hidden" name="platform_id" value=id/>
                        <p>
                            {format!("Remove “{}”? ", platform.label)}
                            "Its drafts are deleted, and sessions using it move to another platform. This cannot be undone."
                        </p>
                        <button type="submit" class="danger">{remove_label}</button>
                    </form>
                </details>
            </div>
        </li>
    }
}
