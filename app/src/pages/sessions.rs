//! `/sessions`: every session of the account (device, address, when, platform), ending one or
//! all others, changing the password, and the account's recent security events.

use crate::components::devices::SignedInDevices;
use crate::components::forms::{action_error, first_error, CsrfField, ErrorNote};
use crate::components::guards::{not_available, RequireSession};
use crate::components::reauth::ConfirmPassword;
use crate::functions::{list_sessions, security_events, RevokeOtherSessions, RevokeSession};
use crate::models::{AuditEventView, SessionInfo};
use crate::providers::use_session;
use leptos::either::Either;
use leptos::prelude::*;
use leptos_meta::Title;

#[component]
pub fn SessionsPage() -> impl IntoView {
    view! {
        <Title text="Sessions · Switchboard"/>
        <RequireSession page=|_| view! { <Sessions/> }/>
    }
}

/// `2026-11-28 13:44:17 UTC` for a wire time.
pub fn when(t: crate::models::Timestamp) -> String {
    let text = t.to_string();
    let (date, rest) = text.split_once('T').unwrap_or((&text, ""));
    format!("{date} {} UTC", rest.get(..8).unwrap_or(rest))
}

#[component]
fn Sessions() -> impl IntoView {
    let change_password = use_session().actions().change_password;
    let revoke = ServerAction::<RevokeSession>::new();
    let revoke_others = ServerAction::<RevokeOtherSessions>::new();
    let sessions = Resource::new(
        move || {
            (
                revoke.version().get(),
                revoke_others.version().get(),
                change_password.version().get(),
            )
        },
        |_| list_sessions(),
    );
    let events = Resource::new(
        move || {
            (
                revoke.version().get(),
                revoke_others.version().get(),
                change_password.version().get(),
            )
        },
        |_| security_events(),
    );
    let list_error = first_error(vec![action_error(revoke), action_error(revoke_others)]);
    view! {
        <h1>"Sessions"</h1>
        <SignedInDevices/>
        <section class="card" aria-labelledby="sessions-heading">
            <h2 id="sessions-heading">"Where you are signed in"</h2>
            <ErrorNote error=list_error/>
            <Transition fallback=|| view! { <p>"Loading sessions…"</p> }>
                {move || Suspend::new(async move {
                    match sessions.await {
                        Ok(list) => Either::Left(view! {
                            <ul class="sessions" aria-label="Sessions">
                                {list.into_iter().map(|s| view! { <SessionItem session=s revoke/> }).collect_view()}
                            </ul>
                        }),
                        Err(e) => Either::Right(not_available(e)),
                    }
                })}
            </Transition>
            <ActionForm action=revoke_others attr:class="inline">
                <CsrfField/>
                <button type="submit">"End all other sessions"</button>
            </ActionForm>
        </section>
        <ChangePassword/>
        <section class="card" aria-labelledby="events-heading">
            <h2 id="events-heading">"Recent security events"</h2>
            <Transition fallback=|| view! { <p>"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match events.await {
                        Ok(list) => Either::Left(view! {
                            <ul class="events" aria-label="Security events">
                                {list.into_iter().map(|e| view! { <EventItem event=e/> }).collect_view()}
                            </ul>
                        }),
                        Err(e) => Either::Right(not_available(e)),
                    }
                })}
            </Transition>
        </section>
    }
}

#[component]
fn SessionItem(session: SessionInfo, revoke: ServerAction<RevokeSession>) -> impl IntoView {
    let device = format!("{} on {}", session.device.browser, session.device.os);
    let label = format!("End the session on {device}");
    let (public_id, marker) = (session.public_id.0.clone(), session.public_id.0.clone());
    view! {
        <li class="session" class:current=session.current data-public-id=marker>
            <strong>{device}</strong>
            {session.current.then(|| view! { <span class="badge">"this device"</span> })}
            <span class="meta">
                {session.ip.clone().unwrap_or_else(|| "unknown address".into())}
                " · signed in " {when(session.created_at)}
                " · last active " {when(session.last_seen_at)}
                " · " {session.active_platform.clone().unwrap_or_else(|| "no platform".into())}
            </span>
            <ActionForm action=revoke attr:class="inline">
                <CsrfField/>
                <input type="hidden" name="public_id" value=public_id/>
                <button type="submit" aria-label=label>"End"</button>
            </ActionForm>
        </li>
    }
}

#[component]
fn EventItem(event: AuditEventView) -> impl IntoView {
    let what = event.kind.replace('_', " ");
    view! {
        <li class="event" class:refused=event.outcome == "refused">
            <strong>{what}</strong>
            " " {(event.outcome == "refused").then_some("(refused)")}
            <span class="meta">{when(event.at)} " · " {event.ip.unwrap_or_default()}</span>
        </li>
    }
}

/// The password change: the current password, the new one, and whether to end the other
/// sessions (on by default). Asks for the password first when the last one is not recent.
#[component]
fn ChangePassword() -> impl IntoView {
    let change = use_session().actions().change_password;
    let error = action_error(change);
    view! {
        <section class="card" aria-labelledby="password-heading">
            <h2 id="password-heading">"Change password"</h2>
            <ConfirmPassword error/>
            <ActionForm action=change attr:class="password-form">
                <CsrfField/>
                <label>"Current password" <input type="password" name="current_password" autocomplete="current-password" required/></label>
                <label>"New password" <input type="password" name="new_password" autocomplete="new-password" required minlength="10"/></label>
                <label class="check">
                    <input type="checkbox" name="end_other_sessions" value="true" checked/>
                    " Sign out of every other session"
                </label>
                <button type="submit">"Change password"</button>
            </ActionForm>
            <ErrorNote error/>
        </section>
    }
}
