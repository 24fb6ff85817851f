//! The page follows the session (browser only). Pages are rendered on the server; each guarded
//! page says which visitors it is for (`data-guard` on its wrapper, see `components::guards`).
//! When the session changes here or in another tab:
//! - it ended, on a page for signed-in visitors: go to `/login` with the reason and this page;
//! - someone signed in, on a page for signed-out visitors: go on to its `next` page, else `/`;
//! - another user or session: reload;
//! - the active platform or the platforms changed: `refresh_main` loads the page's content
//!   again from the server and puts it in place, without a reload (the nav and its islands stay).
//!
//! Forms marked `data-enhance` (the dashboard's drafts) are posted by script: the answer's status
//! reaches the tab sync like any request's, a success refreshes the content, and an error shows
//! as a notification, keeping what was typed. Without JavaScript they are plain form posts.

use super::session::{Session, SessionStatus};
use crate::error::ApiError;
use crate::models::{EndReason, PlatformView, PublicSessionId, UserView};
use leptos::prelude::*;

/// What a page depends on. Version bumps and countdown changes are not in it, so a page (and
/// what is typed into it) stays put while the session ticks on.
#[derive(Debug, Clone, PartialEq)]
pub enum PageKey {
    SignedIn {
        session: PublicSessionId,
        user: UserView,
        platform: Option<PlatformView>,
        platforms: Vec<PlatformView>,
    },
    SignedOut(EndReason),
    Failed(ApiError),
}

/// What the page does when its key changes from `before` to `after`, on a page guarded as
/// `guard` (`session`, `signed-out`, or none).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Follow {
    Stay,
    /// Load the page's content again (same user and session).
    Refresh,
    Reload,
    /// Go to the login page, saying why.
    Login(EndReason),
    /// Go on to the page a sign-in was for.
    Next,
}

impl PageKey {
    /// The key of `session` now (tracked).
    pub fn of(session: &Session) -> Self {
        match (session.status().get(), session.state().get()) {
            (SessionStatus::SignedIn, Some(st)) => PageKey::SignedIn {
                session: st.session.id,
                user: st.user,
                platform: st.platform,
                platforms: st.platforms,
            },
            (SessionStatus::Failed(e), _) => PageKey::Failed(e),
            (SessionStatus::SignedOut(ended), _) => PageKey::SignedOut(ended),
            _ => PageKey::SignedOut(EndReason::Unauthenticated),
        }
    }

    pub fn follow(before: &PageKey, after: &PageKey, guard: Option<&str>) -> Follow {
        use PageKey::*;
        if before == after {
            return Follow::Stay;
        }
        match (before, after) {
            (_, SignedOut(reason)) if guard == Some("session") => Follow::Login(*reason),
            (_, SignedOut(_)) | (_, Failed(_)) => Follow::Stay,
            (_, SignedIn { .. }) if guard == Some("signed-out") => Follow::Next,
            (SignedIn { session: s0, user: u0, .. }, SignedIn { session, user, .. }) if s0 == session && u0.id == user.id => {
                Follow::Refresh
            }
            _ => Follow::Reload,
        }
    }
}

/// Follows the session on this page (browser only; the session store starts it once).
pub fn follow(session: Session) {
    #[cfg(feature = "hydrate")]
    browser::follow(session);
    #[cfg(not(feature = "hydrate"))]
    let _ = session;
}

#[cfg(feature = "hydrate")]
mod browser {
    use super::{Follow, PageKey};
    use crate::auth::{local_path, login_path};
    use crate::error::ApiError;
    use crate::functions::client::browser::{fetch, text};
    use crate::providers::session::{use_session, Session};
    use leptos::prelude::*;
    use std::cell::Cell;
    use wasm_bindgen::prelude::*;
    use wasm_bindgen::JsCast;

    thread_local! {
        /// The page is being left: nothing else navigates.
        static LEAVING: Cell<bool> = const { Cell::new(false) };
        /// Bumped by each refresh, so an older answer that arrives late is dropped.
        static GENERATION: Cell<u32> = const { Cell::new(0) };
        /// A refresh was due while a switch of this tab was pending.
        static OWED: Cell<bool> = const { Cell::new(false) };
    }

    pub fn follow(session: Session) {
        // A server function that answers with a redirect (signing out) leaves the page.
        let _ = server_fn::redirect::set_redirect_hook(|to: &str| leave(to));
        let key = Memo::new(move |_| PageKey::of(&session));
        Effect::new(move |before: Option<PageKey>| {
            let after = key.get();
            if let Some(before) = before {
                untrack(|| act(session, PageKey::follow(&before, &after, guard().as_deref())));
            }
            after
        });
        // A refresh held back while this tab's switch was pending is made when it settles.
        let pending = session.pending_platform();
        Effect::new(move |_| {
            if pending.get().is_none() && OWED.replace(false) {
                refresh_main();
            }
        });
        enhance_forms();
    }

    fn act(session: Session, follow: Follow) {
        match follow {
            Follow::Stay => {}
            Follow::Refresh if session.pending_platform().get_untracked().is_some() => OWED.set(true),
            Follow::Refresh => refresh_main(),
            Follow::Reload => {
                if !LEAVING.get() {
                    let _ = window().location().reload();
                }
            }
            Follow::Login(reason) => leave(&login_path(reason, &here())),
            Follow::Next => {
                let next = page_guard().and_then(|g| g.get_attribute("data-next"));
                leave(local_path(next.as_deref()).unwrap_or("/"));
            }
        }
    }

    fn page_guard() -> Option<web_sys::Element> {
        document().query_selector("[data-guard]").ok().flatten()
    }

    fn guard() -> Option<String> {
        page_guard()?.get_attribute("data-guard")
    }

    fn here() -> String {
        let location = window().location();
        let path = location.pathname().unwrap_or_default();
        let search = location.search().unwrap_or_default();
        format!("{path}{search}")
    }

    /// Goes to `to`, once: the first navigation wins.
    fn leave(to: &str) {
        if LEAVING.replace(true) {
            return;
        }
        let _ = window().location().assign(to);
    }

    /// Loads this page again from the server and puts its `<main>` in place of this one's.
    /// Islands whose props are unchanged are kept as they are (islands are never disposed, so a
    /// new copy would run beside the old one); new ones are hydrated.
    fn refresh_main() {
        let generation = GENERATION.with(|g| {
            g.set(g.get() + 1);
            g.get()
        });
        leptos::task::spawn_local(async move {
            let Ok(res) = fetch("GET", &window().location().href().unwrap_or_default(), "text/html", None).await else {
                return;
            };
            if GENERATION.get() != generation || LEAVING.get() {
                return;
            }
            if res.redirected() {
                return leave(&res.url());
            }
            let Some(html) = text(&res).await else { return };
            if GENERATION.get() != generation {
                return;
            }
            replace_main(&html);
        });
    }

    fn replace_main(html: &str) {
        let doc = document();
        let Some(parsed) = web_sys::DomParser::new()
            .ok()
            .and_then(|p| p.parse_from_string(html, web_sys::SupportedType::TextHtml).ok())
        else {
            return;
        };
        let (Some(main), Some(fresh)) = (
            doc.query_selector("main").ok().flatten(),
            parsed.query_selector("main").ok().flatten(),
        ) else {
            return;
        };
        let mut kept = islands(&main);
        main.set_text_content(None);
        while let Some(child) = fresh.first_child() {
            let _ = main.append_child(&child);
        }
        doc.set_title(&parsed.title());
        for island in islands(&main) {
            let same = |old: &web_sys::Element| {
                old.get_attribute("data-component") == island.get_attribute("data-component")
                    && old.get_attribute("data-props") == island.get_attribute("data-props")
            };
            match kept.iter().position(same) {
                Some(i) => {
                    let _ = island.replace_with_with_node_1(&kept.swap_remove(i));
                }
                None => hydrate_island(&island),
            }
        }
    }

    fn islands(root: &web_sys::Element) -> Vec<web_sys::Element> {
        let Ok(list) = root.query_selector_all("leptos-island") else {
            return Vec::new();
        };
        (0..list.length())
            .filter_map(|i| list.item(i)?.dyn_into::<web_sys::Element>().ok())
            .collect()
    }

    /// Hydrates an island put into the page after load, through the page's island script.
    fn hydrate_island(island: &web_sys::Element) {
        let hydrate = js_sys::Reflect::get(&window(), &JsValue::from_str("__hydrateIsland"));
        if let (Ok(f), Some(id)) = (hydrate, island.get_attribute("data-component")) {
            if let Some(f) = f.dyn_ref::<js_sys::Function>() {
                let _ = f.call2(&JsValue::NULL, island, &JsValue::from_str(&id));
            }
        }
    }

    /// Posts `form[data-enhance]` by script (see the module's comment).
    fn enhance_forms() {
        let on_submit = Closure::<dyn Fn(web_sys::Event)>::new(|ev: web_sys::Event| {
            let Some(form) = ev.target().and_then(|t| t.dyn_into::<web_sys::HtmlFormElement>().ok()) else {
                return;
            };
            if ev.default_prevented() || !form.has_attribute("data-enhance") {
                return;
            }
            ev.prevent_default();
            let Some(body) = web_sys::FormData::new_with_form(&form)
                .ok()
                .and_then(|data| web_sys::UrlSearchParams::new_with_str_sequence_sequence(&data).ok())
                .map(|params| String::from(params.to_string()))
            else {
                return;
            };
            let action = form.action();
            leptos::task::spawn_local(async move {
                let res = fetch("POST", &action, "application/json", Some(&body)).await;
                crate::sync::observe_response(res.as_ref().ok().map(web_sys::Response::status));
                let toasts = use_session().toasts();
                match res {
                    Ok(res) if res.ok() => refresh_main(),
                    Ok(res) => {
                        let text = text(&res).await.unwrap_or_default();
                        let message = serde_json::from_slice::<ApiError>(text.as_bytes())
                            .map(|e| e.message().to_owned())
                            .unwrap_or_else(|_| format!("the server answered {}", res.status()));
                        toasts.error(message);
                    }
                    Err(_) => toasts.error("The server could not be reached."),
                }
            });
        });
        let _ = document().add_event_listener_with_callback("submit", on_submit.as_ref().unchecked_ref());
        on_submit.forget();
    }
}

#[cfg(test)]
mod tests {
    use super::{Follow, PageKey};
    use crate::models::EndReason;
    use crate::sync::fixtures;

    fn signed_in(session: &str, platform: i64) -> PageKey {
        let known = fixtures::signed_in(session, 1, platform, fixtures::EXP, fixtures::T0);
        let state = known.snapshot.state.expect("signed in");
        PageKey::SignedIn {
            session: state.session.id,
            user: state.user,
            platform: state.platform,
            platforms: state.platforms,
        }
    }

    #[test]
    fn a_platform_change_refreshes_and_an_end_leaves_a_signed_in_page() {
        let (a, b) = (signed_in("s1", 1), signed_in("s1", 2));
        assert_eq!(PageKey::follow(&a, &a, Some("session")), Follow::Stay);
        assert_eq!(PageKey::follow(&a, &b, Some("session")), Follow::Refresh);
        let ended = PageKey::SignedOut(EndReason::SessionRevoked);
        assert_eq!(
            PageKey::follow(&a, &ended, Some("session")),
            Follow::Login(EndReason::SessionRevoked)
        );
        // Another session (a sign-in elsewhere in this browser) reloads the page.
        assert_eq!(PageKey::follow(&a, &signed_in("s2", 1), Some("session")), Follow::Reload);
    }

    #[test]
    fn a_sign_in_moves_a_signed_out_page_on_and_nothing_else_does() {
        let out = PageKey::SignedOut(EndReason::LoggedOut);
        let a = signed_in("s1", 1);
        assert_eq!(PageKey::follow(&out, &a, Some("signed-out")), Follow::Next);
        assert_eq!(
            PageKey::follow(&out, &PageKey::SignedOut(EndReason::SessionExpired), Some("signed-out")),
            Follow::Stay
        );
        // A page without a guard (not found) reloads to show the page for the new visitor.
        assert_eq!(PageKey::follow(&out, &a, None), Follow::Reload);
        assert_eq!(PageKey::follow(&a, &out, None), Follow::Stay);
    }
}
