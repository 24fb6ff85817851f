//! The optimistic platform switch. A choice shows at once as `pending` (the same frame); the
//! server confirms it with a compare-and-set on the session version. At most one request is in
//! flight per tab: choices made meanwhile collapse into one follow-up request for the last one,
//! and answers to overtaken choices are not shown. On an error or a `409` the pending choice is
//! cleared (so the shown platform falls back to the committed one by itself), the server's state
//! is adopted, and every tab is told why.

use crate::error::{ApiError, ErrorCode};
use crate::functions::client::call;
use crate::functions::SwitchPlatform;
use crate::models::{PlatformId, SessionSnapshot, SessionState};
use crate::sync::messages::{Body, Known};
use crate::sync::TabSignals;
use leptos::prelude::*;

/// This tab's switching: the pending choice and the requests behind it.
#[derive(Clone, Copy)]
pub struct Switching {
    /// The platform chosen in this tab and not yet confirmed by the server.
    pending: RwSignal<Option<PlatformId>>,
    chain: StoredValue<Chain>,
}

/// The switch requests of one burst of choices: at most one in flight; a response to a choice
/// that was overtaken only moves the version on.
#[derive(Default)]
struct Chain {
    in_flight: bool,
    /// The server's state after an overtaken switch: what the next request builds on, and what
    /// the UI returns to if the chain fails.
    overtaken: Option<SessionState>,
}

impl Switching {
    pub fn new() -> Self {
        Self {
            pending: RwSignal::new(None),
            chain: StoredValue::new(Chain::default()),
        }
    }

    pub fn pending(&self) -> ReadSignal<Option<PlatformId>> {
        self.pending.read_only()
    }

    /// Whether switching is possible now (online and the server reachable).
    pub fn possible(tab: TabSignals) -> Signal<bool> {
        Signal::derive(move || tab.online.get() && tab.reachable.get())
    }

    /// Makes `target` active: shown at once as pending, confirmed by the server.
    pub fn switch_to(self, tab: TabSignals, target: PlatformId) {
        if !Self::possible(tab).get_untracked() {
            return;
        }
        self.pending.set(Some(target));
        if !self.chain.with_value(|c| c.in_flight) {
            self.send(tab);
        }
    }

    fn send(self, tab: TabSignals) {
        let Some(target) = self.pending.get_untracked() else { return };
        let overtaken = self.chain.with_value(|c| c.overtaken.clone());
        let committed = tab.known_untracked().and_then(|k| k.snapshot.state);
        let Some(base) = overtaken.clone().or(committed) else {
            self.pending.set(None);
            return;
        };
        if overtaken.is_none() && base.platform_id() == Some(target) {
            self.pending.set(None); // already there
            return;
        }
        let expected = base.session.version;
        self.chain.update_value(|c| c.in_flight = true);
        leptos::task::spawn_local(async move {
            let result = call::<SwitchPlatform>(&[("platform_id", target.to_string()), ("expected_version", expected.to_string())]).await;
            self.chain.update_value(|c| c.in_flight = false);
            let overtaken_by = self.pending.get_untracked().filter(|p| *p != target);
            match result {
                Ok(state) if overtaken_by.is_none() => {
                    self.chain.update_value(|c| c.overtaken = None);
                    tab.reachable.set(true);
                    adopt_state(tab, state);
                    self.pending.set(None);
                }
                Ok(state) => {
                    self.chain.update_value(|c| c.overtaken = Some(state));
                    self.send(tab);
                }
                Err(e) => {
                    if let Some(state) = self.chain.try_update_value(|c| c.overtaken.take()).flatten() {
                        adopt_state(tab, state);
                    }
                    self.pending.set(None);
                    failed(tab, target, e);
                }
            }
        });
    }
}

impl Default for Switching {
    fn default() -> Self {
        Self::new()
    }
}

/// Adopts a state a server function answered, as knowledge received now.
pub fn adopt_state(tab: TabSignals, state: SessionState) {
    let Some(client) = tab.known_untracked().map(|k| k.snapshot.client) else {
        return;
    };
    tab.adopt(Known {
        snapshot: SessionSnapshot::signed_in(state, client),
        received_at: crate::sync::local_now(),
    });
}

/// Back to the server's state, with a notification here and in every other tab.
fn failed(tab: TabSignals, target: PlatformId, e: ApiError) {
    let state = || tab.known_untracked().and_then(|k| k.snapshot.state);
    let label = state()
        .and_then(|s| s.platforms.into_iter().find(|p| p.id == target))
        .map(|p| p.label)
        .unwrap_or_else(|| format!("platform {target}"));
    let why = match e.code() {
        ErrorCode::VersionConflict => {
            if let Some(current) = e.error.current.clone() {
                adopt_state(tab, *current);
            }
            let now_on = state()
                .and_then(|s| s.platform.map(|p| p.label))
                .map(|l| format!(" It is now on {l}."))
                .unwrap_or_default();
            format!("the session changed in another tab or device.{now_on}")
        }
        ErrorCode::NetworkError => {
            tab.reachable.set(false);
            "the server could not be reached.".to_owned()
        }
        code if code.is_auth_failure() => {
            crate::sync::check_now();
            "you are no longer signed in.".to_owned()
        }
        _ => format!("{}.", e.message().trim_end_matches('.')),
    };
    tab.notify.run((format!("Could not switch to {label}: {why}"), true));
    crate::sync::send(Body::Notice {
        text: format!("A switch to {label} in another tab failed: {why}"),
        error: true,
    });
}
