//! The session as components see it. The server-rendered answer (`state`, refetched after the
//! actions that change the session) is the start; newer knowledge (this tab's own switches, other
//! tabs' messages, the leader's checks) is adopted on top of it, newest first, never older. A
//! platform switch shows at once as `pending` and becomes committed only when the server says so.
//!
//! Developers use [`use_session`] (see `docs/SESSION_API.md`); the pages use the same API.

use crate::api::{current_session, switch_platform, AddPlatform, Login, Logout, Register, RemovePlatform, RenamePlatform, SwitchPlatform};
use crate::components::toasts::Toasts;
use crate::error::ApiError;
use crate::models::{ClientSettings, PlatformView, SessionSnapshot, SessionState, UserView};
use crate::sync::leader::SyncStatus;
use crate::sync::protocol::{newest, Body, Known};
use leptos::prelude::*;

#[derive(Clone, Copy)]
pub struct SessionContext {
    /// The server's answer for this page load, refetched after login, logout and platform edits.
    pub state: Resource<Result<SessionSnapshot, ApiError>>,
    /// Newer knowledge adopted after the page loaded (browser only).
    live: RwSignal<Option<Known>>,
    /// The newest of the two.
    current: Memo<Option<Result<Known, ApiError>>>,
    /// The platform chosen in this tab and not yet confirmed by the server.
    pending: RwSignal<Option<i64>>,
    switch_chain: StoredValue<SwitchChain>,
    /// `navigator.onLine`, and whether the last request reached the server.
    pub online: RwSignal<bool>,
    pub reachable: RwSignal<bool>,
    pub sync: RwSignal<SyncStatus>,
    /// This browser's clock, ticking every second once hydrated (`None` while rendering on the
    /// server and hydrating, so both render the same countdown).
    pub now: RwSignal<Option<f64>>,
    /// The idle deadline (ms) whose warning was dismissed.
    pub dismissed_warning: RwSignal<Option<i64>>,
    pub toasts: Toasts,
    pub login: ServerAction<Login>,
    pub register: ServerAction<Register>,
    pub logout: ServerAction<Logout>,
    /// Only for plain-form (no JavaScript) switch errors; with JavaScript see [`Self::switch_to`].
    pub switch: ServerAction<SwitchPlatform>,
    pub add_platform: ServerAction<AddPlatform>,
    pub rename_platform: ServerAction<RenamePlatform>,
    pub remove_platform: ServerAction<RemovePlatform>,
}

/// The switch requests of one burst of choices: at most one in flight; a response to a choice
/// that was overtaken only moves the version on.
#[derive(Default)]
struct SwitchChain {
    in_flight: bool,
    /// The server's state after an overtaken switch: what the next request builds on, and what
    /// the UI returns to if the chain fails.
    overtaken: Option<SessionState>,
}

/// Local clock in ms (browser), for knowledge received now.
pub fn local_now() -> Option<f64> {
    #[cfg(feature = "hydrate")]
    {
        Some(js_sys::Date::now())
    }
    #[cfg(not(feature = "hydrate"))]
    {
        None
    }
}

impl SessionContext {
    pub fn provide() -> Self {
        let login = ServerAction::<Login>::new();
        let register = ServerAction::<Register>::new();
        let logout = ServerAction::<Logout>::new();
        let switch = ServerAction::<SwitchPlatform>::new();
        let add_platform = ServerAction::<AddPlatform>::new();
        let rename_platform = ServerAction::<RenamePlatform>::new();
        let remove_platform = ServerAction::<RemovePlatform>::new();
        let state = Resource::new(
            move || {
                (
                    login.version().get(),
                    register.version().get(),
                    logout.version().get(),
                    add_platform.version().get(),
                    rename_platform.version().get(),
                    remove_platform.version().get(),
                )
            },
            |_| current_session(),
        );
        let live = RwSignal::new(None::<Known>);
        let current = Memo::new(move |_| match live.get() {
            Some(known) => Some(Ok(known)),
            None => state.get().map(|r| {
                r.map(|snapshot| Known {
                    snapshot,
                    received_at: None,
                })
            }),
        });
        let ctx = Self {
            state,
            live,
            current,
            pending: RwSignal::new(None),
            switch_chain: StoredValue::new(SwitchChain::default()),
            online: RwSignal::new(true),
            reachable: RwSignal::new(true),
            sync: RwSignal::new(SyncStatus::Starting),
            now: RwSignal::new(None),
            dismissed_warning: RwSignal::new(None),
            toasts: Toasts::new(),
            login,
            register,
            logout,
            switch,
            add_platform,
            rename_platform,
            remove_platform,
        };
        provide_context(ctx);
        provide_context(ctx.toasts);

        // Every server answer this tab loads is adopted (if newer) with the time it arrived.
        Effect::new(move |_| {
            if let Some(Ok(snapshot)) = state.get() {
                ctx.adopt(Known {
                    snapshot,
                    received_at: local_now(),
                });
            }
        });
        // Sign-out answers carry the signed-out snapshot (with the token for the next login).
        Effect::new(move |_| {
            if let Some(Ok(snapshot)) = logout.value().get() {
                ctx.adopt(Known {
                    snapshot,
                    received_at: local_now(),
                });
            }
        });
        // Keep the page's CSRF token in step with the session (it changes at login and logout).
        Effect::new(move |_| {
            if let Some(Ok(known)) = current.get() {
                crate::client::set_page_csrf_token(&known.snapshot.csrf_token);
            }
        });
        crate::sync::start(ctx);
        ctx
    }

    /// The newest knowledge: `None` until the first answer, `Err` if it failed.
    pub fn current(&self) -> Memo<Option<Result<Known, ApiError>>> {
        self.current
    }

    pub fn current_untracked(&self) -> Option<Known> {
        self.current.get_untracked().and_then(Result::ok)
    }

    /// Adopts `incoming` if it is newer than what this tab knows. Returns whether it did.
    pub fn adopt(&self, incoming: Known) -> bool {
        let current = self.current_untracked();
        // The first adoption also dates the server-rendered answer, so the countdown can tick.
        let first = self.live.with_untracked(Option::is_none);
        let received_at = incoming.received_at;
        let mut chosen = newest(current.clone(), incoming);
        let changed = current.as_ref().map(|c| &c.snapshot) != Some(&chosen.snapshot);
        if !changed && !first {
            return false;
        }
        chosen.received_at = chosen.received_at.or(received_at);
        if changed {
            crate::sync::share(&chosen);
        }
        self.live.set(Some(chosen));
        changed
    }

    pub fn settings(&self) -> ClientSettings {
        self.current_untracked().map(|k| k.snapshot.client).unwrap_or_default()
    }

    /// The platform chosen in this tab and not yet confirmed.
    pub fn pending(&self) -> ReadSignal<Option<i64>> {
        self.pending.read_only()
    }

    /// Whether switching is possible now (signed in, online, server reachable).
    pub fn can_switch(&self) -> Signal<bool> {
        let s = *self;
        Signal::derive(move || s.online.get() && s.reachable.get())
    }

    /// Makes `platform_id` active: shown at once as pending, confirmed by the server. Choices made
    /// while a request is in flight collapse into one follow-up request for the last choice.
    pub fn switch_to(&self, platform_id: i64) {
        if !self.can_switch().get_untracked() {
            return;
        }
        self.pending.set(Some(platform_id));
        if !self.switch_chain.with_value(|c| c.in_flight) {
            self.send_switch();
        }
    }

    fn send_switch(self) {
        let Some(target) = self.pending.get_untracked() else { return };
        let overtaken = self.switch_chain.with_value(|c| c.overtaken.clone());
        let Some(base) = overtaken
            .clone()
            .or_else(|| self.current_untracked().and_then(|k| k.snapshot.state))
        else {
            self.pending.set(None);
            return;
        };
        if overtaken.is_none() && base.platform.as_ref().map(|p| p.id) == Some(target) {
            self.pending.set(None); // already there
            return;
        }
        let expected = base.session.version;
        self.switch_chain.update_value(|c| c.in_flight = true);
        leptos::task::spawn_local(async move {
            let result = switch_platform(target, Some(expected)).await;
            self.switch_chain.update_value(|c| c.in_flight = false);
            let overtaken_by = self.pending.get_untracked().filter(|p| *p != target);
            match result {
                Ok(state) if overtaken_by.is_none() => {
                    self.switch_chain.update_value(|c| c.overtaken = None);
                    self.reachable.set(true);
                    self.adopt(known_from_state(state, self.settings()));
                    self.pending.set(None);
                }
                Ok(state) => {
                    self.switch_chain.update_value(|c| c.overtaken = Some(state));
                    self.send_switch();
                }
                Err(e) => {
                    let overtaken = self.switch_chain.try_update_value(|c| c.overtaken.take()).flatten();
                    if let Some(state) = overtaken {
                        self.adopt(known_from_state(state, self.settings()));
                    }
                    self.pending.set(None);
                    self.switch_failed(target, e);
                }
            }
        });
    }

    /// Back to the server's state, with a notification here and in every other tab.
    fn switch_failed(&self, target: i64, e: ApiError) {
        let label = self.platform_label(target).unwrap_or_else(|| format!("platform {target}"));
        let why = match e.code() {
            "version_conflict" => {
                if let Some(current) = e.error.current.clone() {
                    self.adopt(known_from_state(*current, self.settings()));
                }
                let now_on = self
                    .current_untracked()
                    .and_then(|k| k.snapshot.state)
                    .and_then(|s| s.platform.map(|p| p.label))
                    .map(|l| format!(" It is now on {l}."))
                    .unwrap_or_default();
                format!("the session changed in another tab or device.{now_on}")
            }
            "network_error" => {
                self.reachable.set(false);
                "the server could not be reached.".to_owned()
            }
            _ if e.is_auth_failure() => {
                crate::sync::check_now();
                "you are no longer signed in.".to_owned()
            }
            _ => format!("{}.", e.message().trim_end_matches('.')),
        };
        self.toasts.error(format!("Could not switch to {label}: {why}"));
        crate::sync::send(Body::Notice {
            text: format!("A switch to {label} in another tab failed: {why}"),
            error: true,
        });
    }

    fn platform_label(&self, id: i64) -> Option<String> {
        let state = self.current_untracked()?.snapshot.state?;
        state.platforms.into_iter().find(|p| p.id == id).map(|p| p.label)
    }

    /// "Stay signed in": extends the session on the server; every tab follows.
    pub fn extend(&self) {
        let s = *self;
        leptos::task::spawn_local(async move {
            match crate::api::extend_session().await {
                Ok(state) => {
                    s.adopt(known_from_state(state, s.settings()));
                }
                Err(e) if e.is_auth_failure() => crate::sync::check_now(),
                Err(e) => s.toasts.error(format!("Could not extend the session: {}", e.message())),
            }
        });
    }

    /// Hides the idle warning for the current deadline, in every tab.
    pub fn dismiss_warning(&self, idle_expires_ms: i64) {
        self.dismissed_warning.set(Some(idle_expires_ms));
        crate::sync::send(Body::WarningDismissed { idle_expires_ms });
    }
}

/// A state answered by a server function, as knowledge received now.
pub fn known_from_state(state: SessionState, client: ClientSettings) -> Known {
    Known {
        snapshot: SessionSnapshot {
            csrf_token: state.csrf_token.clone(),
            server_time: state.server_time.clone(),
            ended: None,
            state: Some(state),
            client,
        },
        received_at: local_now(),
    }
}

pub fn use_session_context() -> SessionContext {
    expect_context::<SessionContext>()
}

/// The CSRF token the page was rendered with: from the request on the server, from the page's
/// meta tag in the browser.
pub fn initial_csrf_token() -> String {
    #[cfg(feature = "ssr")]
    {
        crate::ssr::request_auth().map(|a| a.csrf_token).unwrap_or_default()
    }
    #[cfg(not(feature = "ssr"))]
    {
        crate::client::page_csrf_token().unwrap_or_default()
    }
}

/// Where the session stands, for components.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SessionStatus {
    /// The first answer has not arrived yet.
    Loading,
    SignedIn,
    /// Not signed in; the `ended` code says why (`unauthenticated`, `logged_out`,
    /// `session_expired`, `session_revoked`).
    SignedOut(String),
    /// The server could not answer.
    Failed(String),
}

/// The session API for components: reactive, read-only views of the newest session knowledge,
/// plus the switch with its optimistic value. Cheap to copy; call `use_session()` anywhere
/// below the app's `Frame`.
#[derive(Clone, Copy)]
pub struct Session {
    ctx: SessionContext,
}

/// The session of this tab. Panics outside the app (there is no session context).
pub fn use_session() -> Session {
    Session {
        ctx: use_session_context(),
    }
}

impl Session {
    pub fn status(&self) -> Signal<SessionStatus> {
        let c = self.ctx.current;
        Signal::derive(move || match c.get() {
            None => SessionStatus::Loading,
            Some(Err(e)) => SessionStatus::Failed(e.message().to_owned()),
            Some(Ok(k)) if k.snapshot.state.is_some() => SessionStatus::SignedIn,
            Some(Ok(k)) => SessionStatus::SignedOut(k.snapshot.ended.unwrap_or_else(|| "unauthenticated".into())),
        })
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
    pub fn version(&self) -> Signal<Option<i64>> {
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
        let (s, pending) = (self.state(), self.ctx.pending);
        Signal::derive(move || {
            let state = s.get()?;
            match pending.get() {
                Some(id) => state.platforms.into_iter().find(|p| p.id == id),
                None => state.platform,
            }
        })
    }

    /// The platform id being switched to, while the server has not confirmed it.
    pub fn pending_platform(&self) -> ReadSignal<Option<i64>> {
        self.ctx.pending()
    }

    /// Switches the active platform (optimistic; see [`SessionContext::switch_to`]).
    pub fn switch_platform(&self, platform_id: i64) {
        self.ctx.switch_to(platform_id)
    }

    /// Whether a switch can be made now (online and the server reachable).
    pub fn can_switch(&self) -> Signal<bool> {
        self.ctx.can_switch()
    }

    /// How this tab keeps in step with the others.
    pub fn sync_status(&self) -> ReadSignal<SyncStatus> {
        self.ctx.sync.read_only()
    }

    /// Milliseconds left before the idle timeout, counting down every second.
    pub fn idle_left_ms(&self) -> Signal<Option<i64>> {
        let (c, now) = (self.ctx.current, self.ctx.now);
        Signal::derive(move || c.get().and_then(Result::ok)?.idle_left_ms(now.get()))
    }

    /// The underlying context, for the actions (login, logout, platform edits).
    pub fn context(&self) -> SessionContext {
        self.ctx
    }
}
