//! `/sessions`: every session of the account (device, address, when, platform), ending one or
//! all others, changing the password, and the account's recent security events.
//!
//! The lists are rendered on the server ([`fragment`], through `pages::page_fragment`) and shown
//! as they come: nothing
//! on this page needs the browser to compute, and each reactive view costs the WASM build tens
//! of kilobytes. Its forms are plain forms posting to the JSON API, which sends a form post back
//! to this page (with the error in the address when there is one).

use crate::components::devices::SignedInDevices;
use crate::components::fragment::{Fragment, UrlError};
use crate::components::guards::RequireSession;
#[cfg(feature = "ssr")]
use crate::error::ApiError;
use leptos::prelude::*;
use leptos_meta::Title;

#[cfg(feature = "ssr")]
use crate::components::forms::CsrfField;

#[component]
pub fn SessionsPage() -> impl IntoView {
    view! {
        <Title text="Sessions · Switchboard"/>
        <RequireSession page=|_| view! {
            <h1>"Sessions"</h1>
            <SignedInDevices/>
            <UrlError/>
            <Fragment page="sessions"/>
        }/>
    }
}

/// The Sessions page's content, as HTML for the caller.
#[cfg(feature = "ssr")]
pub(crate) async fn fragment(cx: &crate::auth::ssr::RequestContext) -> Result<String, ApiError> {
    let session = cx.session()?.clone();
    let engine = cx.engine();
    let sessions = engine.sessions_of(session.user_id).await.map_err(|e| cx.fail(e))?;
    let platforms = engine.platforms_of(session.user_id).await.map_err(|e| cx.fail(e))?;
    let filter = switchboard::audit::AuditFilter {
        user: Some(session.user_id),
        ..Default::default()
    };
    let events = engine
        .audit_events(&filter, crate::functions::account::SECURITY_EVENTS_SHOWN)
        .await
        .map_err(|e| cx.fail(e))?;
    let sessions: Vec<_> = sessions
        .iter()
        .map(|s| crate::auth::ssr::session_info(s, &platforms, Some(&session.public_id)))
        .collect();
    let events: Vec<_> = events.iter().map(crate::auth::ssr::audit_event_view).collect();
    Ok(render::sessions(sessions, events))
}

#[cfg(feature = "ssr")]
pub(crate) mod render {
    use super::*;
    use crate::models::{AuditEventView, SessionInfo, Timestamp};

    /// `2026-11-28 13:44:17 UTC`.
    pub fn when(t: Timestamp) -> String {
        let text = t.to_string();
        let (date, rest) = text.split_once('T').unwrap_or((&text, ""));
        format!("{date} {} UTC", rest.get(..8).unwrap_or(rest))
    }

    /// One session, with a plain form that ends it (posting to `action`).
    pub fn session_item(s: SessionInfo, action: &'static str) -> impl IntoView {
        let device = format!("{} on {}", s.device.browser, s.device.os);
        let label = format!("End the session on {device}");
        let (public_id, marker) = (s.public_id.0.clone(), s.public_id.0);
        // On the owner's own page, another session can be disowned: "This wasn't me".
        let disown = (action == "/api/revoke_session" && !s.current).then(|| {
            let label = format!("This wasn't me: end every session (one was on {device})");
            let public_id = public_id.clone();
            view! {
                <form method="post" action="/api/disown_session" class="inline">
                    <CsrfField/>
                    <input type="hidden" name="public_id" value=public_id/>
                    <button type="submit" class="danger" aria-label=label>"This wasn't me"</button>
                </form>
            }
        });
        let flagged = s.flagged_at.map(|at| {
            let title = format!("flagged at {}: another session of the account was ended as suspicious", when(at));
            view! { <span class="badge warn" title=title>"flagged"</span> }
        });
        view! {
            <li class="session" class:current=s.current class:flagged=s.flagged_at.is_some() data-public-id=marker>
                <strong>{device}</strong>
                {s.current.then(|| view! { <span class="badge">"this device"</span> })}
                {flagged}
                <span class="meta">
                    {s.ip.unwrap_or_else(|| "unknown address".into())}
                    " · signed in " {when(s.created_at)}
                    " · last active " {when(s.last_seen_at)}
                    " · " {s.active_platform.unwrap_or_else(|| "no platform".into())}
                </span>
                <form method="post" action=action class="inline">
                    <CsrfField/>
                    <input type="hidden" name="public_id" value=public_id/>
                    <button type="submit" aria-label=label>"End"</button>
                </form>
                {disown}
            </li>
        }
    }

    pub fn event_item(e: AuditEventView) -> impl IntoView {
        let refused = e.outcome == "refused";
        view! {
            <li class="event" class:refused=refused>
                <strong>{e.kind.replace('_', " ")}</strong>
                {refused.then_some(" (refused)")}
                <span class="meta">{when(e.at)} " · " {e.ip.unwrap_or_default()}</span>
            </li>
        }
    }

    pub fn sessions(sessions: Vec<SessionInfo>, events: Vec<AuditEventView>) -> String {
        let flag = sessions.iter().find(|s| s.current).and_then(|s| s.flagged_at).map(|at| {
            view! {
                <p class="flag" role="alert">
                    "Another session of your account was ended at " {when(at)}
                    " because it was used from a different browser on a different network. "
                    "If that was not you, change your password below (you will be asked for it first)."
                </p>
            }
        });
        view! {
            <section class="card" aria-labelledby="sessions-heading">
                <h2 id="sessions-heading">"Where you are signed in"</h2>
                {flag}
                <ul class="sessions" aria-label="Sessions">
                    {sessions.into_iter().map(|s| session_item(s, "/api/revoke_session")).collect_view()}
                </ul>
                <form method="post" action="/api/revoke_other_sessions" class="inline">
                    <CsrfField/>
                    <button type="submit">"End all other sessions"</button>
                </form>
            </section>
            <section class="card" aria-labelledby="password-heading">
                <h2 id="password-heading">"Change password"</h2>
                <form method="post" action="/api/change_password" class="password-form">
                    <CsrfField/>
                    <label>"Current password" <input type="password" name="current_password" autocomplete="current-password" required/></label>
                    <label>"New password" <input type="password" name="new_password" autocomplete="new-password" required minlength="10"/></label>
                    <label class="check">
                        <input type="checkbox" name="end_other_sessions" value="true" checked/>
                        " Sign out of every other session"
                    </label>
                    <button type="submit">"Change password"</button>
                </form>
            </section>
            <section class="card" aria-labelledby="events-heading">
                <h2 id="events-heading">"Recent security events"</h2>
                <ul class="events" aria-label="Security events">{events.into_iter().map(event_item).collect_view()}</ul>
            </section>
        }
        .to_html()
    }
}
