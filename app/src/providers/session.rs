//! The session provider: the server's answer for this page (a resource), and newer knowledge
//! adopted on top of it (this tab's switches and sign-out, other tabs' messages, the leader's
//! checks): newest first, never older.
//!
//! Components read it only through [`use_session`] (see `docs/SESSION_API.md`); the app's own
//! pages do the same.

use super::switch::{adopt_state, Switching};
use super::toasts::Toasts;
use crate::error::ApiError;
use crate::functions::client::call;
use crate::functions::{current_session, ExtendSession, Logout};
use crate::models::{ClientSettings, EndReason, PlatformId, PlatformView, SessionSnapshot, SessionState, SessionVersion, UserView};
use crate::sync::countdown::warning_due;
use crate::sync::leader::SyncStatus;
use crate::sync::messages::{Body, Known};
use crate::sync::TabSignals;
use leptos::prelude::*;

#[derive(Clone, Copy)]
struct SessionContext {
    /// The server's answer for this page, to await while rendering it (server only: in the
    /// browser the nav island brings the answer the page was rendered with).
    resource: Option<Resource<Result<SessionSnapshot, ApiError>>>,
    /// The newest of the server's answer and the knowledge adopted after the page loaded (browser
    /// only): `None` until the first answer, `Err` if it failed.
    current: Signal<Option<Result<Known, ApiError>>>,
    switching: Switching,
    tab: TabSignals,
    toasts: Toasts,
}

impl SessionContext {
    /// The session over `base`, the server's answer for this page (`None` until it is in).
    fn new(resource: Option<Resource<Result<SessionSnapshot, ApiError>>>, base: Signal<Option<Result<SessionSnapshot, ApiError>>>) -> Self {
        let live = RwSignal::new(None::<Known>);
        // A derived signal, not a memo: a memo's cached value is taken out while it recomputes,
        // and on the server a resource resolving on another thread can make a render read it in
        // that moment (reactive_graph 0.2's `ArcMemo` then panics on `None`: the SSR hang of
        // issue 9).
        let current = Signal::derive(move || match live.get() {
            Some(known) => Some(Ok(known)),
            None => base.get().map(|r| {
                r.map(|snapshot| Known {
                    snapshot,
                    received_at: None,
                })
            }),
        });
        let toasts = Toasts::new();
        let tab = TabSignals {
            live,
            current,
            notify: Callback::new(
                move |(text, error): (String, bool)| {
                    if error {
                        toasts.error(text)
                    } else {
                        toasts.info(text)
                    }
                },
            ),
            online: RwSignal::new(true),
            reachable: RwSignal::new(true),
            status: RwSignal::new(SyncStatus::Starting),
            now: RwSignal::new(None),
            dismissed_warning: RwSignal::new(None),
        };
        Self {
            resource,
            current,
            switching: Switching::new(),
            tab,
            toasts,
        }
    }
}

#[cfg(feature = "hydrate")]
thread_local! {
    /// The browser's session store: one per page, shared by every island (islands are hydrated
    /// one by one, without a common parent to provide a context).
    static BROWSER: std::cell::Cell<Option<SessionContext>> = const { std::cell::Cell::new(None) };
}

/// Provides the session to the page being rendered on the server, and returns the server's
/// answer for the page (the nav island takes it to the browser).
pub fn provide_session() -> Resource<Result<SessionSnapshot, ApiError>> {
    let resource = Resource::new(|| (), |_| current_session());
    provide_context(SessionContext::new(Some(resource), Signal::derive(move || resource.get())));
    resource
}

/// Starts the session store in the browser from the server's answer the page was rendered with,
/// and the tab sync. Once per page: returns whether it started now. On the server it does nothing
/// ([`provide_session`] serves there). See `providers::start_page`.
pub(super) fn start_in_browser(snapshot: Result<SessionSnapshot, ApiError>) -> bool {
    #[cfg(feature = "hydrate")]
    {
        if BROWSER.with(std::cell::Cell::get).is_some() {
            return false;
        }
        // The store lives as long as the page: its owner is never disposed.
        let owner = Owner::new();
        owner.with(|| {
            let initial = snapshot.clone();
            let ctx = SessionContext::new(None, Signal::derive(move || Some(initial.clone())));
            BROWSER.with(|b| b.set(Some(ctx)));
            let tab = ctx.tab;
            // The page's answer is adopted with the time it arrived (so the countdown can tick).
            if let Ok(snapshot) = snapshot {
                Effect::new(move |_| {
                    tab.adopt(Known {
                        snapshot: snapshot.clone(),
                        received_at: crate::sync::local_now(),
                    });
                });
            }
            // Keep the page's CSRF token in step with the session (it changes at login and logout).
            Effect::new(move |_| {
                if let Some(Ok(known)) = ctx.current.get() {
                    crate::functions::client::set_page_csrf_token(&known.snapshot.csrf_token);
                }
            });
            crate::sync::start(tab);
        });
        std::mem::forget(owner);
        true
    }
    #[cfg(not(feature = "hydrate"))]
    {
        let _ = snapshot;
        false
    }
}

/// Where the session stands, for components.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SessionStatus {
    /// The first answer has not arrived yet.
    Loading,
    SignedIn,
    /// Not signed in, and why.
    SignedOut(EndReason),
    /// The server could not answer.
    Failed(ApiError),
}

/// The session API for components: reactive, read-only views of the newest session knowledge,
/// the switch with its optimistic value, sign-out and "stay signed in". Cheap to copy; call
/// [`use_session`] in any component on the server, and in an `#[island]` in the browser.
#[derive(Clone, Copy)]
pub struct Session {
    ctx: SessionContext,
}

/// The session of this tab: on the server the page's (see [`provide_session`]), in the browser
/// the store the nav island started. Panics outside the app (there is no session).
pub fn use_session() -> Session {
    #[cfg(feature = "hydrate")]
    if let Some(ctx) = BROWSER.with(std::cell::Cell::get) {
        return Session { ctx };
    }
    Session {
        ctx: expect_context::<SessionContext>(),
    }
}

impl Session {
    pub fn status(&self) -> Signal<SessionStatus> {
        let c = self.ctx.current;
        Signal::derive(move || match c.get() {
            None => SessionStatus::Loading,
            Some(Err(e)) => SessionStatus::Failed(e),
            Some(Ok(k)) if k.snapshot.state.is_some() => SessionStatus::SignedIn,
            Some(Ok(k)) => SessionStatus::SignedOut(k.snapshot.ended.unwrap_or(EndReason::Unauthenticated)),
        })
    }

    /// Resolves when the server's first answer for this page is in. Await it inside a
    /// `<Suspense>` on the server (the guards do) so the page renders with the session; in the
    /// browser it is in from the start.
    pub async fn loaded(&self) {
        if let Some(resource) = self.ctx.resource {
            let _ = resource.await;
        }
    }

    /// The signed-in state (committed: never a pending switch).
    pub fn state(&self) -> Signal<Option<SessionState>> {
        let c = self.ctx.current;
        Signal::derive(move || c.get().and_then(Result::ok).and_then(|k| k.snapshot.state))
    }

    pub fn user(&self) -> Signal<Option<UserView>> {
        let s = self.state();
        Signal::derive(move || s.get().map(|s| s.user))
    }

    /// The session version: grows with every committed change.
    pub fn version(&self) -> Signal<Option<SessionVersion>> {
        let s = self.state();
        Signal::derive(move || s.get().map(|s| s.session.version))
    }

    /// The platforms the user has.
    pub fn platforms(&self) -> Signal<Vec<PlatformView>> {
        let s = self.state();
        Signal::derive(move || s.get().map(|s| s.platforms).unwrap_or_default())
    }

    /// The active platform the server confirmed.
    pub fn committed_platform(&self) -> Signal<Option<PlatformView>> {
        let s = self.state();
        Signal::derive(move || s.get().and_then(|s| s.platform))
    }

    /// The platform to show: the pending choice if there is one, else the committed one. A failed
    /// switch clears the pending choice, so this returns to the server's value by itself.
    pub fn platform(&self) -> Signal<Option<PlatformView>> {
        let (s, pending) = (self.state(), self.ctx.switching.pending());
        Signal::derive(move || {
            let state = s.get()?;
            match pending.get() {
                Some(id) => state.platforms.into_iter().find(|p| p.id == id),
                None => state.platform,
            }
        })
    }

    /// The platform being switched to, while the server has not confirmed it.
    pub fn pending_platform(&self) -> ReadSignal<Option<PlatformId>> {
        self.ctx.switching.pending()
    }

    /// Switches the active platform: optimistic, one request at a time, reverted on refusal (see
    /// `providers::switch`).
    pub fn switch_platform(&self, platform_id: PlatformId) {
        self.ctx.switching.switch_to(self.ctx.tab, platform_id)
    }

    /// Whether a switch can be made now (online and the server reachable).
    pub fn can_switch(&self) -> Signal<bool> {
        Switching::possible(self.ctx.tab)
    }

    /// The browser says it is online.
    pub fn online(&self) -> Signal<bool> {
        self.ctx.tab.online.into()
    }

    /// The last request reached the server.
    pub fn reachable(&self) -> Signal<bool> {
        self.ctx.tab.reachable.into()
    }

    /// How this tab keeps in step with the others.
    pub fn sync_status(&self) -> ReadSignal<SyncStatus> {
        self.ctx.tab.status.read_only()
    }

    /// True once the page is hydrated and its clock ticks (false while rendering on the server).
    pub fn hydrated(&self) -> Signal<bool> {
        let now = self.ctx.tab.now;
        Signal::derive(move || now.get().is_some())
    }

    /// Milliseconds left before the idle timeout, counting down every second.
    pub fn idle_left_ms(&self) -> Signal<Option<i64>> {
        let (c, now) = (self.ctx.current, self.ctx.tab.now);
        Signal::derive(move || c.get().and_then(Result::ok)?.idle_left_ms(now.get()))
    }

    /// The idle deadline (ms) while its warning should show: close to it, not dismissed.
    pub fn idle_warning(&self) -> Signal<Option<i64>> {
        let (c, left, dismissed) = (self.ctx.current, self.idle_left_ms(), self.ctx.tab.dismissed_warning);
        Signal::derive(move || {
            let known = c.get().and_then(Result::ok)?;
            let deadline = known.snapshot.state.as_ref()?.session.idle_expires_at.millis();
            warning_due(left.get(), known.snapshot.client.idle_warning_ms, deadline, dismissed.get()).then_some(deadline)
        })
    }

    /// "Stay signed in": extends the session on the server; every tab follows.
    pub fn extend(&self) {
        let (tab, toasts) = (self.ctx.tab, self.ctx.toasts);
        leptos::task::spawn_local(async move {
            match call::<ExtendSession>(&[]).await {
                Ok(state) => adopt_state(tab, state),
                Err(e) if e.code().is_auth_failure() => crate::sync::check_now(),
                Err(e) => toasts.error(format!("Could not extend the session: {}", e.message())),
            }
        });
    }

    /// Hides the idle warning for this deadline, in every tab.
    pub fn dismiss_warning(&self, idle_expires_ms: i64) {
        self.ctx.tab.dismissed_warning.set(Some(idle_expires_ms));
        crate::sync::send(Body::WarningDismissed { idle_expires_ms });
    }

    /// The server settings the browser follows (`None` before the first answer). They are the
    /// server's configuration, so they do not change while a page is open: read them once.
    pub fn client_settings(&self) -> Option<ClientSettings> {
        self.ctx
            .current
            .with_untracked(|c| c.as_ref().and_then(|k| k.as_ref().ok()).map(|k| k.snapshot.client))
    }

    /// Whether the server accepts new accounts (`features.registration`): link to `/register`.
    pub fn registration_open(&self) -> bool {
        self.client_settings().is_some_and(|c| c.registration)
    }

    /// Signs out (this session only). Every tab hears of it before the request is sent (see
    /// `sync::messages::Ending`), and every tab goes to the login page; the server sends this
    /// one to `/login?reason=logged_out`. Without JavaScript the same button posts the form
    /// `<form method="post" action="/api/logout">` to the server.
    pub fn sign_out(&self) {
        let (tab, toasts) = (self.ctx.tab, self.ctx.toasts);
        crate::sync::announce_end(EndReason::LoggedOut);
        leptos::task::spawn_local(async move {
            match call::<Logout>(&[]).await {
                // The signed-out answer carries the CSRF token the next sign-in needs.
                Ok(snapshot) => {
                    tab.adopt(Known {
                        snapshot,
                        received_at: crate::sync::local_now(),
                    });
                }
                Err(e) => toasts.error(format!("Could not sign out: {}", e.message())),
            }
        });
    }

    /// Notifications (see `providers::toasts`).
    pub fn toasts(&self) -> Toasts {
        self.ctx.toasts
    }
}
