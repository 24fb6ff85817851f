//! What the session is doing, where the user can see it: the indicator in the nav, the idle
//! warning with "Stay signed in", and the offline banner.

use crate::providers::use_session;
use crate::sync::countdown::countdown;
use crate::sync::leader::SyncStatus;
use leptos::prelude::*;

/// User, active platform (the pending choice, marked), time left before the idle timeout (the
/// same in every tab: counted from the server's deadline), and sync status. The `data-*`
/// attributes are for tests and tools.
#[component]
pub fn SessionIndicator() -> impl IntoView {
    let session = use_session();
    let user = session.user();
    let platform = session.platform();
    let committed = session.committed_platform();
    let pending = session.pending_platform();
    let status = session.sync_status();
    let left = session.idle_left_ms();
    let state = session.state();
    view! {
        <div
            class="session-indicator"
            aria-label="Session"
            data-platform-id=move || platform.get().map(|p| p.id.to_string()).unwrap_or_default()
            data-committed-id=move || committed.get().map(|p| p.id.to_string()).unwrap_or_default()
            data-pending=move || pending.get().is_some().to_string()
            data-version=move || state.with(|s| s.as_ref().map_or(0, |s| s.session.version.0)).to_string()
            data-sync=move || sync_code(status.get())
        >
            <span class="indicator-user">{move || user.get().map(|u| u.display_name).unwrap_or_default()}</span>
            " · "
            <span class="indicator-platform" class:pending=move || pending.get().is_some()>
                {move || platform.get().map(|p| p.label).unwrap_or_else(|| "no platform".into())}
                {move || pending.get().map(|_| " (switching…)")}
            </span>
            " · "
            <span class="indicator-idle" title="Time left before the session ends from inactivity">
                "Idle timeout in " {move || left.get().map(countdown).unwrap_or_default()}
            </span>
            " · "
            <span class="indicator-sync" class:degraded=move || !status.get().healthy()>{move || status.get().label()}</span>
        </div>
    }
}

fn sync_code(s: SyncStatus) -> &'static str {
    match s {
        SyncStatus::Starting => "starting",
        SyncStatus::Leader => "leader",
        SyncStatus::Follower => "follower",
        SyncStatus::Storage => "storage",
        SyncStatus::LeaderLost => "leader_lost",
        SyncStatus::Alone => "alone",
        SyncStatus::Off => "off",
    }
}

/// A few minutes before the idle timeout: a warning with "Stay signed in". Extending or
/// dismissing in one tab does it in all. Fixed markup, hidden until it is due (see the nav).
#[component]
pub fn IdleWarning() -> impl IntoView {
    let session = use_session();
    let left = session.idle_left_ms();
    let warning = session.idle_warning();
    let due = Memo::new(move |_| warning.get().is_some());
    view! {
        <div class="idle-warning" role="alertdialog" aria-labelledby="idle-warning-text" hidden=move || !due.get()>
            <p id="idle-warning-text">
                "Your session will end in " {move || left.get().map(countdown).unwrap_or_default()} " because of inactivity."
            </p>
            <button type="button" on:click=move |_| session.extend()>"Stay signed in"</button>
            <button
                type="button"
                class="secondary"
                on:click=move |_| {
                    if let Some(deadline) = warning.get_untracked() {
                        session.dismiss_warning(deadline);
                    }
                }
            >
                "Dismiss"
            </button>
        </div>
    }
}

/// Offline (the browser says so) or the server unreachable (requests fail): switching pauses.
/// The banner is a live region that is always there and empty (so hidden, see the style sheet)
/// while all is well: what it says is announced when it changes.
#[component]
pub fn OfflineBanner() -> impl IntoView {
    let session = use_session();
    let (online, reachable) = (session.online(), session.reachable());
    let text = move || {
        if !online.get() {
            "You are offline. Switching platforms is paused until the connection returns."
        } else if !reachable.get() {
            "The server cannot be reached. Retrying…"
        } else {
            ""
        }
    };
    view! { <div class="offline-banner" role="status">{text}</div> }
}
