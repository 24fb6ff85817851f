//! The browser side of tab sync: moves protocol messages over BroadcastChannel (or localStorage
//! `storage` events where BroadcastChannel is missing), elects the leader with Web Locks (or
//! heartbeats), and runs the leader's checks. The leader also holds the browser's one push
//! stream (`GET /api/session_events`, an `EventSource`): when the server says the session
//! changed, it checks at once, and the answer reaches the other tabs as any check's does.
//! Decisions are in `messages`, `record` and `leader`; this file only wires.

use super::figures::Figures;
use super::leader::{Election, Liveness, SyncStatus, HEARTBEAT_EVERY_MS, LEADER_LOCK, PING_EVERY_MS};
use super::messages::{Action, Body, Ending, Known, Peer, Stamp, CHANNEL, MIN_CHECK_GAP_MS, TAB_ID_KEY};
use super::record::{on_record, Record, StorageAction, RECORD_KEY};
use super::tab::TabSignals;
use crate::error::ErrorCode;
use crate::functions::client::call;
use crate::functions::CheckSession;
use crate::models::EndReason;
use crate::models::Timestamp;
use crate::models::{ClientSettings, SessionSnapshot};
use gloo_storage::{LocalStorage, SessionStorage, Storage};
use leptos::prelude::*;
use std::cell::RefCell;
use std::time::Duration;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

/// How often a tab that lost the server retries on its own.
const RETRY_UNREACHABLE_MS: f64 = 3_000.0;
/// How soon a push stream the browser gave up on (an error answer, say while the server
/// restarts) is opened again; a dropped connection the browser retries by itself. While it is
/// down the interval checks go on as without it.
const REOPEN_STREAM_MS: f64 = 30_000.0;

struct Bus {
    tab: TabSignals,
    peer: Peer,
    channel: Option<web_sys::BroadcastChannel>,
    /// No BroadcastChannel: follow other tabs through the localStorage record.
    storage_mode: bool,
    sync_on: bool,
    /// The server pushes changes (`ClientSettings::push`).
    push_on: bool,
    leading: bool,
    /// Leader election by heartbeats, where Web Locks are missing.
    election: Option<Election>,
    liveness: Liveness,
    checking: bool,
    /// A check was asked for while one was under way: check again when it answers.
    recheck: bool,
    last_check: f64,
    /// The leader's push stream, and when it was last opened.
    events: Option<web_sys::EventSource>,
    events_opened: f64,
    /// The knowledge last sent or received, so a received state is not echoed back.
    last_shared: Option<Stamp>,
    last_snapshot: Option<SessionSnapshot>,
    /// A sign-out under way in some tab of this browser.
    ending: Option<Ending>,
    /// Sync figures for the server, sent with a check now and then (`figures`).
    figures: Figures,
    report_every_ms: u64,
}

thread_local! {
    static BUS: RefCell<Option<Bus>> = const { RefCell::new(None) };
}

fn with_bus<R>(f: impl FnOnce(&mut Bus) -> R) -> Option<R> {
    BUS.with(|b| b.borrow_mut().as_mut().map(f))
}

fn now() -> f64 {
    js_sys::Date::now()
}

/// This tab's id: kept in sessionStorage (so a reload keeps it) when syncing, else not stored.
fn tab_id(sync_on: bool) -> String {
    if !sync_on {
        return random_id();
    }
    if let Ok(id) = SessionStorage::get::<String>(TAB_ID_KEY) {
        return id;
    }
    let id = random_id();
    let _ = SessionStorage::set(TAB_ID_KEY, &id);
    id
}

fn random_id() -> String {
    format!("{:012x}", (js_sys::Math::random() * 2f64.powi(48)) as u64)
}

fn js_has(target: &JsValue, name: &str) -> bool {
    js_sys::Reflect::get(target, &JsValue::from_str(name)).is_ok_and(|v| !v.is_undefined() && !v.is_null())
}

pub fn start(tab: TabSignals, settings: ClientSettings) {
    if BUS.with(|b| b.borrow().is_some()) {
        return;
    }
    crate::functions::client::observe_responses(observe_response);
    let win = window();
    let sync_on = settings.sync;
    let channel = if sync_on && js_has(&win, "BroadcastChannel") {
        web_sys::BroadcastChannel::new(CHANNEL).ok()
    } else {
        None
    };
    let storage_mode = sync_on && channel.is_none() && LocalStorage::raw().length().is_ok();
    BUS.with(|b| {
        *b.borrow_mut() = Some(Bus {
            tab,
            peer: Peer::new(tab_id(sync_on), now() as u64 * 1000),
            channel: channel.clone(),
            storage_mode,
            sync_on,
            push_on: settings.push,
            leading: false,
            election: None,
            liveness: Liveness::default(),
            checking: false,
            recheck: false,
            last_check: 0.0,
            events: None,
            events_opened: f64::NEG_INFINITY,
            last_shared: None,
            last_snapshot: None,
            ending: None,
            figures: Figures::new(now()),
            report_every_ms: settings.report_every_ms,
        })
    });

    if let Some(channel) = &channel {
        let on_message = Closure::<dyn FnMut(web_sys::MessageEvent)>::new(|e: web_sys::MessageEvent| {
            if let Some(raw) = e.data().as_string() {
                receive(&raw);
            }
        });
        channel.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
        on_message.forget();
    }

    window_event_listener(leptos::ev::storage, |e: web_sys::StorageEvent| {
        if e.key().as_deref() == Some(RECORD_KEY) {
            on_storage(e.new_value());
        }
    });

    // Who checks: the Web Lock holder; else the heartbeat election; else every tab for itself.
    let navigator = win.navigator();
    if !sync_on || (channel.is_none() && !storage_mode) {
        become_leader();
    } else if !request_leader_lock(&navigator) {
        if channel.is_some() {
            with_bus(|b| b.election = Some(Election::new(b.peer.tab.clone(), now())));
        } else {
            // Storage fallback without Web Locks: nobody can coordinate, so every tab checks.
            become_leader();
        }
    }

    tab.online.set(navigator.on_line());
    tab.now.set(Some(now()));
    update_status();

    // Share every committed change this tab makes (or learns from the server).
    Effect::new(move |_| {
        if let Some(known) = tab.known() {
            share(known);
        }
    });

    let _ = set_interval_with_handle(tick, Duration::from_millis(HEARTBEAT_EVERY_MS as u64));
    let _ = set_interval_with_handle(
        || {
            if should_check_for_itself() {
                check_now();
            }
        },
        Duration::from_millis(settings.check_interval_ms.max(1000)),
    );

    for event in ["focus", "online"] {
        window_event_listener_untyped(event, move |_| {
            if let Some(tab) = with_bus(|b| b.tab) {
                tab.online.set(window().navigator().on_line());
            }
            request_check();
        });
    }
    window_event_listener_untyped("offline", |_| {
        if let Some(tab) = with_bus(|b| b.tab) {
            tab.online.set(false);
        }
    });
    window_event_listener_untyped("pageshow", |e| {
        if js_sys::Reflect::get(&e, &JsValue::from_str("persisted")).is_ok_and(|p| p.is_truthy()) {
            request_check();
        }
    });
    let _ = document().add_event_listener_with_callback(
        "visibilitychange",
        Closure::<dyn FnMut()>::new(|| {
            if document().visibility_state() == web_sys::VisibilityState::Visible {
                request_check();
            }
        })
        .into_js_value()
        .unchecked_ref(),
    );

    send(Body::Hello);
}

/// Asks for the leader lock; `true` if Web Locks exist. The callback runs when this tab gets the
/// lock and holds it (a promise that never settles) until the tab goes away.
fn request_leader_lock(navigator: &web_sys::Navigator) -> bool {
    let Ok(locks) = js_sys::Reflect::get(navigator, &JsValue::from_str("locks")) else {
        return false;
    };
    let Some(request) = js_sys::Reflect::get(&locks, &JsValue::from_str("request"))
        .ok()
        .and_then(|f| f.dyn_into::<js_sys::Function>().ok())
    else {
        return false;
    };
    let on_granted = Closure::<dyn FnMut(JsValue) -> js_sys::Promise>::new(|_lock: JsValue| {
        become_leader();
        js_sys::Promise::new(&mut |_, _| {})
    });
    let asked = request.call2(&locks, &JsValue::from_str(LEADER_LOCK), on_granted.as_ref().unchecked_ref());
    on_granted.forget();
    asked.is_ok()
}

fn become_leader() {
    with_bus(|b| b.leading = true);
    update_status();
    check_now();
    keep_stream();
}

/// Opens the push stream while this tab leads a signed-in browser, and closes it otherwise,
/// also while a sign-out is under way (a stream opened then would be refused, `401`). The
/// browser reconnects a dropped stream by itself (with `Last-Event-ID`); one it gave up on is
/// opened again after [`REOPEN_STREAM_MS`].
fn keep_stream() {
    let t = now();
    let Some(open) = with_bus(|b| {
        let signed_in = b.tab.known_untracked().is_some_and(|k| k.snapshot.state.is_some());
        let ending = b.ending.is_some_and(|e| e.under_way(t));
        let wanted = b.push_on && b.leading && signed_in && !ending;
        let closed = b.events.as_ref().is_none_or(|e| e.ready_state() == web_sys::EventSource::CLOSED);
        if !wanted {
            if let Some(events) = b.events.take() {
                events.close();
            }
            return false;
        }
        closed && t - b.events_opened >= REOPEN_STREAM_MS
    }) else {
        return;
    };
    if !open {
        return;
    }
    let Ok(events) = web_sys::EventSource::new(crate::functions::SESSION_EVENTS) else {
        return;
    };
    // Something changed on the server; after a (re)connection, something may have.
    let on_change = Closure::<dyn FnMut()>::new(check_fresh).into_js_value();
    let _ = events.add_event_listener_with_callback("changed", on_change.unchecked_ref());
    events.set_onopen(Some(on_change.unchecked_ref()));
    with_bus(|b| {
        if let Some(old) = b.events.replace(events) {
            old.close();
        }
        b.events_opened = t;
    });
}

/// Checks now, even if a check just ran or is under way (its answer may predate what the
/// server just said).
fn check_fresh() {
    let under_way = with_bus(|b| {
        b.last_check = f64::NEG_INFINITY;
        b.recheck |= b.checking;
        b.checking
    });
    if under_way == Some(false) {
        check_now();
    }
}

fn update_status() {
    let Some((tab, status)) = with_bus(|b| {
        let status = if !b.sync_on {
            SyncStatus::Off
        } else if b.storage_mode {
            SyncStatus::Storage
        } else if b.channel.is_none() {
            SyncStatus::Alone
        } else if b.leading {
            SyncStatus::Leader
        } else if !b.liveness.answering(now()) {
            SyncStatus::LeaderLost
        } else {
            SyncStatus::Follower
        };
        (b.tab, status)
    }) else {
        return;
    };
    if tab.status.get_untracked() != status {
        tab.status.set(status);
    }
}

/// Whether this tab runs the interval check: the leader does, and so does any tab that cannot
/// rely on one (sync off, no channel to the others, or the leader stopped answering).
fn should_check_for_itself() -> bool {
    with_bus(|b| b.leading || !b.sync_on || (b.channel.is_none() && !b.storage_mode) || !b.liveness.answering(now())).unwrap_or(false)
}

/// Every second: the clock for countdowns, heartbeats and pings, and checks that are due.
fn tick() {
    let t = now();
    let Some(tab) = with_bus(|b| b.tab) else { return };
    tab.now.set(Some(t));

    // Without Web Locks: the heartbeat election.
    let heartbeat = with_bus(|b| match b.election.as_mut() {
        Some(e) => {
            let leading = e.tick(t);
            let changed = leading != b.leading;
            b.leading = leading;
            (leading, changed)
        }
        None => (false, false),
    });
    if let Some((leading, changed)) = heartbeat {
        if leading {
            send(Body::Heartbeat);
        }
        if changed && leading {
            check_now();
        }
    }

    // Followers ask whether the leader is there.
    let ping = with_bus(|b| {
        let due = b.channel.is_some() && !b.leading && b.liveness.last_ping.is_none_or(|p| t - p >= PING_EVERY_MS);
        if due {
            b.liveness.last_ping = Some(t);
        }
        due
    });
    if ping == Some(true) {
        send(Body::Ping);
    }
    update_status();

    keep_stream();

    // At the idle deadline, or while the server is unreachable, check (the leader, or a tab on
    // its own).
    let known = tab.known_untracked();
    let at_deadline = known.as_ref().and_then(|k| k.idle_left_ms(Some(t))) == Some(0);
    let unreachable = !tab.reachable.get_untracked() && tab.online.get_untracked();
    let last = with_bus(|b| b.last_check).unwrap_or(0.0);
    if (at_deadline && should_check_for_itself() && t - last >= RETRY_UNREACHABLE_MS) || (unreachable && t - last >= RETRY_UNREACHABLE_MS) {
        check_now();
    }
}

/// Focus, visibility, `pageshow` or `online` in this tab: the leader checks (asked over the
/// channel if it is another tab).
fn request_check() {
    let ask_leader = with_bus(|b| b.channel.is_some() && !b.leading && b.liveness.answering(now())).unwrap_or(false);
    if ask_leader {
        send(Body::CheckRequest);
    } else {
        check_now();
    }
}

/// Checks the session with the server from this tab (one at a time, at most one per second).
pub fn check_now() {
    let t = now();
    let Some(Some((tab, report))) = with_bus(|b| {
        if b.checking || t - b.last_check < MIN_CHECK_GAP_MS {
            return None;
        }
        b.checking = true;
        b.last_check = t;
        let report = b.figures.on_check(t, b.report_every_ms);
        Some((b.tab, report))
    }) else {
        return;
    };
    leptos::task::spawn_local(async move {
        let result = call::<CheckSession>(&report).await;
        let again = with_bus(|b| {
            b.checking = false;
            std::mem::take(&mut b.recheck)
        });
        match result {
            Ok(snapshot) => {
                tab.reachable.set(true);
                tab.adopt(Known {
                    snapshot,
                    received_at: Some(now()),
                });
            }
            Err(e) if e.code() == ErrorCode::NetworkError => tab.reachable.set(false),
            Err(_) => {}
        }
        if again == Some(true) {
            check_fresh();
        }
        keep_stream();
    });
}

/// What an API answer says about the connection: `None` when the request failed to reach the
/// server, else its status.
pub fn observe_response(status: Option<u16>) {
    let Some(tab) = with_bus(|b| b.tab) else { return };
    match status {
        None => {
            if tab.reachable.get_untracked() {
                tab.reachable.set(false);
            }
            tab.online.set(window().navigator().on_line());
        }
        // Not signed in (any more), or a CSRF token from a session that changed: find out.
        Some(401 | 403) => check_now(),
        Some(_) => {
            if !tab.reachable.get_untracked() {
                tab.reachable.set(true);
            }
        }
    }
}

/// This tab is about to end the session for `reason`: every tab (this one too) reads a signed-out
/// answer that cannot say why as this end for a while (see [`Ending`]).
pub fn announce_end(reason: EndReason) {
    expect_end(reason);
    send(Body::Ending { reason });
}

/// From now on, and for a while, a signed-out answer that cannot say why is this end.
fn expect_end(reason: EndReason) {
    with_bus(|b| b.ending = Some(Ending::starting(reason, now())));
    keep_stream();
}

/// `incoming`, explained by a sign-out under way, if any.
pub fn explain(incoming: Known) -> Known {
    match with_bus(|b| b.ending).flatten() {
        Some(ending) => ending.explain(incoming, now()),
        None => incoming,
    }
}

/// Posts a message to the other tabs (over the channel; nothing without one).
pub fn send(body: Body) {
    let Some(Some((channel, raw))) = with_bus(|b| {
        let v = b.tab.current.with_untracked(|k| {
            k.as_ref()
                .and_then(|k| k.as_ref().ok())
                .and_then(|k| k.snapshot.state.as_ref())
                .map_or(0, |s| s.session.version.0)
        });
        let channel = b.channel.clone()?;
        Some((channel, b.peer.envelope(v, body)))
    }) else {
        return;
    };
    if channel.post_message(&JsValue::from_str(&raw)).is_err() {
        // A closed or broken channel: say so instead of drifting silently.
        with_bus(|b| b.channel = None);
        update_status();
    }
}

fn receive(raw: &str) {
    let Some(Ok(actions)) = with_bus(|b| {
        let known = b.tab.known_untracked();
        b.peer.receive(raw, known.as_ref(), b.leading)
    }) else {
        return;
    };
    let Some(tab) = with_bus(|b| b.tab) else { return };
    for action in actions {
        match action {
            Action::Adopt(known) => {
                with_bus(|b| {
                    b.last_shared = Some(known.stamp());
                    if let Some(received_at) = known.received_at {
                        b.figures.propagated(received_at, now());
                    }
                });
                tab.adopt(*known);
            }
            Action::ExpectEnd(reason) => expect_end(reason),
            Action::Send(body) => send(body),
            Action::CheckNow => check_now(),
            Action::Toast { text, error } => tab.notify.run((text, error)),
            Action::DismissWarning(deadline) => tab.dismissed_warning.set(Some(deadline)),
            Action::LeaderAnswered => {
                with_bus(|b| b.liveness.last_pong = Some(now()));
                update_status();
            }
            Action::HeardHeartbeat(from) => {
                with_bus(|b| {
                    let t = now();
                    if let Some(e) = b.election.as_mut() {
                        e.heard(&from, t);
                        b.leading = e.leading();
                    }
                    b.liveness.last_pong = Some(t);
                });
            }
        }
    }
}

/// A committed change in this tab: tell the others (unless it came from them) and keep the
/// localStorage record in step.
pub fn share(mut known: Known) {
    // The server-rendered answer has no arrival time until the page dates it; it is fresh now.
    known.received_at.get_or_insert_with(now);
    let stamp = known.stamp();
    let Some(Some((fresh, before))) = with_bus(|b| {
        if !b.sync_on {
            return None; // sync off: nothing is sent and nothing is stored
        }
        let fresh = b.last_shared.as_ref() != Some(&stamp);
        b.last_shared = Some(stamp);
        Some((fresh, b.last_snapshot.replace(known.snapshot.clone())))
    }) else {
        return;
    };
    if fresh {
        send(Body::State {
            known: Box::new(known.clone()),
        });
    }
    write_record(before.as_ref(), &known.snapshot);
}

fn write_record(before: Option<&SessionSnapshot>, now: &SessionSnapshot) {
    let record = Record::of(before, now);
    let stored = LocalStorage::raw().get_item(RECORD_KEY).ok().flatten();
    let unchanged = stored
        .as_deref()
        .and_then(Record::parse)
        .is_some_and(|r| (r.v, r.uid, r.pid) == (record.v, record.uid, record.pid) && (now.state.is_some() || r.ev == record.ev));
    if now.state.is_some() {
        if !unchanged {
            let _ = LocalStorage::raw().set_item(RECORD_KEY, &record.to_json());
        }
    } else if stored.is_some() || before.is_some_and(|b| b.state.is_some()) {
        // The end event reaches storage-fallback tabs, then nothing stays behind.
        let _ = LocalStorage::raw().set_item(RECORD_KEY, &record.to_json());
        LocalStorage::delete(RECORD_KEY);
    }
}

fn on_storage(new_value: Option<String>) {
    let Some((tab, storage_mode)) = with_bus(|b| (b.tab, b.storage_mode)) else {
        return;
    };
    if !storage_mode {
        return;
    }
    let record = new_value.as_deref().and_then(Record::parse);
    let known = tab.known_untracked();
    match on_record(record, known.as_ref()) {
        StorageAction::Ignore => {}
        StorageAction::Check => {
            with_bus(|b| b.last_check = 0.0);
            check_now();
        }
        StorageAction::Ended(reason) => {
            if let (Some(known), Some(record)) = (known, record) {
                let mut ended = known.snapshot.clone();
                ended.state = None;
                ended.ended = Some(reason);
                ended.server_time = Timestamp(record.at);
                tab.adopt(Known {
                    snapshot: ended,
                    received_at: Some(now()),
                });
            }
            // The server's answer brings the token the next login needs.
            with_bus(|b| b.last_check = 0.0);
            check_now();
        }
    }
}
