//! `/admin` (administrators): every account with its live sessions; one account's sessions
//! (`/admin?user=ID`) with "End" for each; disabling and enabling accounts. `/admin/audit`: the
//! audit log, filtered and paged, and its export.
//!
//! Like `/sessions`, the content is rendered on the server (`admin_fragment`, `audit_fragment`,
//! through `pages::page_fragment`) and its forms are plain forms posting to `/api/admin/*`.
//! Non-admins get `403 forbidden` from those, and the page says so.

use crate::components::fragment::{Fragment, UrlError};
use crate::components::guards::RequireSession;
use leptos::prelude::*;
use leptos_meta::Title;

#[cfg(feature = "ssr")]
use crate::auth::ssr::{admin_user_view, audit_event_view, session_info, RequestContext};
#[cfg(feature = "ssr")]
use crate::components::forms::CsrfField;
#[cfg(feature = "ssr")]
use crate::error::ApiError;
#[cfg(feature = "ssr")]
use crate::models::{Timestamp, UserId};
#[cfg(feature = "ssr")]
use std::collections::HashMap;

/// The administration pages' shell: a heading, their links, the error of the last form post,
/// and the server-rendered `page`.
pub(crate) fn admin_shell(heading: &'static str, title: &'static str, page: &'static str) -> impl IntoView {
    view! {
        <Title text=title/>
        <RequireSession page=move |_| view! {
            <h1>{heading}</h1>
            <p><a href="/admin">"Accounts"</a> " · " <a href="/admin/audit">"Audit log"</a> " · " <a href="/admin/alerts">"Alerts"</a> " · " <a href="/admin/dashboard">"Dashboard"</a></p>
            <UrlError/>
            <Fragment page/>
        }/>
    }
}

#[component]
pub fn AdminPage() -> impl IntoView {
    admin_shell("Administration", "Administration · Switchboard", "admin")
}

#[component]
pub fn AuditPage() -> impl IntoView {
    admin_shell("Audit log", "Audit log · Switchboard", "audit")
}

#[component]
pub fn AlertsPage() -> impl IntoView {
    admin_shell("Alerts", "Alerts · Switchboard", "alerts")
}

/// The newest alerts (administrators only), older ones by `before_id`.
#[cfg(feature = "ssr")]
pub(crate) async fn alerts_fragment(cx: &RequestContext, params: &HashMap<String, String>) -> Result<String, ApiError> {
    const PAGE: u32 = 100;
    cx.require_admin("alerts page").await?;
    let alerts = cx
        .engine()
        .alerts(PAGE, number(cx, params, "before_id")?)
        .await
        .map_err(|e| cx.fail(e))?;
    let next = (alerts.len() == PAGE as usize).then(|| alerts.last().map(|a| a.id)).flatten();
    Ok(render::alerts(alerts, next))
}

/// The accounts table, and the sessions of `?user=ID` when one is chosen, as HTML
/// (administrators only).
#[cfg(feature = "ssr")]
pub(crate) async fn admin_fragment(cx: &RequestContext, params: &HashMap<String, String>) -> Result<String, ApiError> {
    let admin = cx.session()?;
    let user = number(cx, params, "user")?.map(UserId);
    let engine = cx.engine();
    let users = engine.users_overview(admin, cx.caller.meta()).await.map_err(|e| cx.fail(e))?;
    let users: Vec<_> = users.iter().map(admin_user_view).collect();
    let detail = match user {
        None => None,
        Some(id) => {
            let id = switchboard::UserId::parse(id.0).map_err(|e| cx.fail(e.into()))?;
            let (user, sessions) = engine
                .user_sessions_for_admin(admin, cx.caller.meta(), id)
                .await
                .map_err(|e| cx.fail(e))?;
            let platforms = engine.platforms_of(id).await.map_err(|e| cx.fail(e))?;
            let sessions = sessions
                .iter()
                .map(|s| session_info(s, &platforms, Some(&admin.public_id)))
                .collect();
            Some((admin_user_view(&user), sessions))
        }
    };
    Ok(render::admin(users, detail))
}

/// A number parameter of the page's address.
#[cfg(feature = "ssr")]
fn number(cx: &RequestContext, params: &HashMap<String, String>, field: &'static str) -> Result<Option<i64>, ApiError> {
    params
        .get(field)
        .map(|v| {
            v.parse::<i64>()
                .map_err(|_| cx.fail(switchboard::Error::invalid(field, "must be a number")))
        })
        .transpose()
}

/// One page of the audit log as HTML (administrators only), filtered by the page's address:
/// `user_id`, `kind`, `from`, `to` (RFC 3339) and `before_id`.
#[cfg(feature = "ssr")]
pub(crate) async fn audit_fragment(cx: &RequestContext, params: &HashMap<String, String>) -> Result<String, ApiError> {
    cx.require_admin("audit page").await?;
    let engine = cx.engine();
    let time = |field: &'static str| {
        params
            .get(field)
            .map(|v| {
                Timestamp::parse_rfc3339(v).ok_or_else(|| {
                    cx.fail(switchboard::Error::invalid(
                        field,
                        "must be an RFC 3339 time, like 2026-11-28T00:00:00Z",
                    ))
                })
            })
            .transpose()
    };
    let filter = crate::functions::admin::audit_filter(
        cx,
        number(cx, params, "user_id")?.map(UserId),
        params.get("kind").map(String::as_str),
        time("from")?,
        time("to")?,
        number(cx, params, "before_id")?,
    )?;
    let limit = crate::functions::admin::AUDIT_PAGE_MAX;
    let events = engine.audit_events(&filter, limit).await.map_err(|e| cx.fail(e))?;
    let next = (events.len() == limit as usize).then(|| events.last().map(|e| e.id)).flatten();
    let events = events.iter().map(audit_event_view).collect();
    Ok(render::audit(params, events, next))
}

#[cfg(feature = "ssr")]
mod render {
    use super::*;
    use crate::models::{AdminUserView, AuditEventView, SessionInfo};
    use crate::pages::sessions::render::{session_item, when};
    use std::collections::HashMap;

    fn user_row(u: AdminUserView) -> impl IntoView {
        let id = u.id.to_string();
        let (action, verb) = if u.disabled {
            ("/api/admin/enable_user", "Enable")
        } else {
            ("/api/admin/disable_user", "Disable")
        };
        let label = format!("{verb} {}", u.email);
        view! {
            <tr class:disabled=u.disabled>
                <td>{u.email.clone()}</td>
                <td>{u.display_name}</td>
                <td>{if u.is_admin { "administrator" } else { "user" }}</td>
                <td><a href=format!("/admin?user={id}")>{u.live_sessions}</a></td>
                <td>
                    {u.disabled.then_some("disabled ")}
                    <form method="post" action=action class="inline">
                        <CsrfField/>
                        <input type="hidden" name="user_id" value=id/>
                        <button type="submit" aria-label=label>{verb}</button>
                    </form>
                </td>
            </tr>
        }
    }

    pub fn admin(users: Vec<AdminUserView>, detail: Option<(AdminUserView, Vec<SessionInfo>)>) -> String {
        view! {
            <section class="card" aria-labelledby="users-heading">
                <h2 id="users-heading">"Accounts"</h2>
                <table class="users" aria-label="Accounts">
                    <thead><tr><th>"Email"</th><th>"Name"</th><th>"Role"</th><th>"Live sessions"</th><th>"Account"</th></tr></thead>
                    <tbody>{users.into_iter().map(user_row).collect_view()}</tbody>
                </table>
            </section>
            {detail.map(|(user, sessions)| view! {
                <section class="card" aria-labelledby="user-sessions-heading">
                    <h2 id="user-sessions-heading">"Sessions of " {user.email}</h2>
                    <ul class="sessions" aria-label="Their sessions">
                        {sessions.into_iter().map(|s| session_item(s, "/api/admin/revoke_session")).collect_view()}
                    </ul>
                </section>
            })}
        }
        .to_html()
    }

    fn event_row(e: AuditEventView) -> impl IntoView {
        let user = |u: Option<UserId>| u.map(|u| u.to_string()).unwrap_or_else(|| "—".into());
        let refused = e.outcome == "refused";
        view! {
            <tr class:refused=refused>
                <td>{when(e.at)}</td>
                <td>{e.kind} {refused.then_some(" (refused)")}</td>
                <td>{user(e.actor_user_id)}</td>
                <td>{user(e.subject_user_id)}</td>
                <td>{e.session_public_id.map(|s| s.0).unwrap_or_default()}</td>
                <td>{e.ip.unwrap_or_default()}</td>
                <td>{e.detail.unwrap_or_default()}</td>
            </tr>
        }
    }

    /// `k=v&…` of the filter fields that are set.
    fn filter_query(params: &HashMap<String, String>) -> String {
        let mut out = form_urlencoded::Serializer::new(String::new());
        for key in ["user_id", "kind", "from", "to"] {
            if let Some(value) = params.get(key) {
                out.append_pair(key, value);
            }
        }
        out.finish()
    }

    fn alert_row(a: switchboard::alerts::Alert) -> impl IntoView {
        // An alert rule's condition that has ended says when.
        let cleared = a
            .cleared_at
            .map(|t| view! { <br/><small class="cleared">"cleared " {when(Timestamp(t.millis()))}</small> });
        view! {
            <tr class=format!("severity-{}", a.severity.as_str())>
                <td>{when(Timestamp(a.at.millis()))}</td>
                <td>{a.severity.as_str()}</td>
                <td>{a.kind.as_str()}{cleared}</td>
                <td>{a.user.map(|u| u.to_string()).unwrap_or_else(|| "—".into())}</td>
                <td>{a.session.map(|s| s.as_str().to_owned()).unwrap_or_default()}</td>
                <td>{a.ip.unwrap_or_default()}</td>
                <td><code>{a.evidence}</code></td>
            </tr>
        }
    }

    pub fn alerts(alerts: Vec<switchboard::alerts::Alert>, next: Option<i64>) -> String {
        let empty = alerts.is_empty();
        view! {
            <p>"Also in the log (target " <code>"switchboard::alert"</code> ") and, if set, sent to " <code>"alerts.webhook_url"</code> ". As JSON: " <a href="/api/admin/alerts">"/api/admin/alerts"</a></p>
            {empty.then(|| view! { <p class="empty">"No alerts."</p> })}
            <table class="audit alerts" aria-label="Alerts">
                <thead><tr><th>"When"</th><th>"Severity"</th><th>"Alert"</th><th>"User"</th><th>"Session"</th><th>"Address"</th><th>"Evidence"</th></tr></thead>
                <tbody>{alerts.into_iter().map(alert_row).collect_view()}</tbody>
            </table>
            {next.map(|id| view! { <p><a href=format!("/admin/alerts?before_id={id}")>"Older alerts"</a></p> })}
        }
        .to_html()
    }

    pub fn audit(params: &HashMap<String, String>, events: Vec<AuditEventView>, next: Option<i64>) -> String {
        let value = |k: &str| params.get(k).cloned().unwrap_or_default();
        let filters = filter_query(params);
        let sep = if filters.is_empty() { "" } else { "&" };
        let export = |format: &str| format!("/api/admin/audit?format={format}{sep}{filters}");
        let older = next.map(|id| format!("/admin/audit?{filters}{sep}before_id={id}"));
        view! {
            <form method="get" action="/admin/audit" class="audit-filter" aria-label="Filter">
                <label>"User id" <input type="text" name="user_id" value=value("user_id")/></label>
                <label>"Kind" <input type="text" name="kind" value=value("kind") placeholder="login_failed"/></label>
                <label>"From" <input type="text" name="from" value=value("from") placeholder="2026-11-01T00:00:00Z"/></label>
                <label>"To" <input type="text" name="to" value=value("to")/></label>
                <button type="submit">"Filter"</button>
            </form>
            <p>"Export: " <a href=export("csv")>"CSV"</a> " · " <a href=export("json")>"JSON"</a></p>
            <table class="audit" aria-label="Audit events">
                <thead><tr><th>"When"</th><th>"Event"</th><th>"Actor"</th><th>"Subject"</th><th>"Session"</th><th>"Address"</th><th>"Detail"</th></tr></thead>
                <tbody>{events.into_iter().map(event_row).collect_view()}</tbody>
            </table>
            {older.map(|href| view! { <p><a href=href>"Older events"</a></p> })}
        }
        .to_html()
    }
}
