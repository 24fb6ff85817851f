//! `/admin` (administrators): every account with its live sessions; one account's sessions
//! (`/admin?user=ID`) with "End" for each; disabling and enabling accounts. `/admin/audit`: the
//! audit log, filtered and paged, and its export.

use crate::components::forms::{action_error, first_error, CsrfField, ErrorNote};
use crate::components::guards::{not_available, RequireSession};
use crate::components::reauth::ConfirmPassword;
use crate::functions::{admin_user_sessions, admin_users, audit_page, AdminRevokeSession, DisableUser, EnableUser};
use crate::models::{AdminUserView, AuditEventView, SessionState, Timestamp, UserId};
use crate::pages::sessions::when;
use leptos::either::Either;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

/// Renders `page` only for administrators; others see why not (the server refuses them anyway).
fn admins_only<V: IntoView + 'static>(state: SessionState, page: impl FnOnce() -> V) -> Either<V, impl IntoView> {
    if state.user.is_admin {
        Either::Left(page())
    } else {
        Either::Right(view! { <p class="error" role="alert">"Only administrators may see this page."</p> })
    }
}

#[component]
pub fn AdminPage() -> impl IntoView {
    view! {
        <Title text="Administration · Switchboard"/>
        <RequireSession page=|state| admins_only(state, || view! { <Admin/> })/>
    }
}

#[component]
fn Admin() -> impl IntoView {
    let disable = ServerAction::<DisableUser>::new();
    let enable = ServerAction::<EnableUser>::new();
    let revoke = ServerAction::<AdminRevokeSession>::new();
    let query = use_query_map();
    let selected = Memo::new(move |_| query.with(|q| q.get("user")).and_then(|u| u.parse::<i64>().ok()).map(UserId));
    let changed = move || (disable.version().get(), enable.version().get(), revoke.version().get());
    let users = Resource::new(changed, |_| admin_users());
    let detail = Resource::new(
        move || (changed(), selected.get()),
        |(_, user)| async move {
            match user {
                Some(user) => admin_user_sessions(user).await.map(Some),
                None => Ok(None),
            }
        },
    );
    let error = first_error(vec![action_error(disable), action_error(enable), action_error(revoke)]);
    view! {
        <h1>"Administration"</h1>
        <p><a href="/admin/audit">"Audit log"</a></p>
        <ConfirmPassword error/>
        <ErrorNote error/>
        <section class="card" aria-labelledby="users-heading">
            <h2 id="users-heading">"Accounts"</h2>
            <Transition fallback=|| view! { <p>"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match users.await {
                        Ok(list) => Either::Left(view! {
                            <table class="users" aria-label="Accounts">
                                <thead><tr><th>"Email"</th><th>"Name"</th><th>"Role"</th><th>"Live sessions"</th><th>"Account"</th></tr></thead>
                                <tbody>{list.into_iter().map(|u| view! { <UserRow user=u disable enable/> }).collect_view()}</tbody>
                            </table>
                        }),
                        Err(e) => Either::Right(not_available(e)),
                    }
                })}
            </Transition>
        </section>
        <Transition fallback=|| ()>
            {move || Suspend::new(async move {
                match detail.await {
                    Ok(Some(d)) => Either::Left(view! {
                        <section class="card" aria-labelledby="user-sessions-heading">
                            <h2 id="user-sessions-heading">"Sessions of " {d.user.email.clone()}</h2>
                            <ul class="sessions" aria-label="Their sessions">
                                {d.sessions.into_iter().map(|s| {
                                    let device = format!("{} on {}", s.device.browser, s.device.os);
                                    let label = format!("End the session on {device}");
                                    view! {
                                        <li class="session">
                                            <strong>{device}</strong>
                                            <span class="meta">{s.ip.unwrap_or_default()} " · last active " {when(s.last_seen_at)}</span>
                                            <ActionForm action=revoke attr:class="inline">
                                                <CsrfField/>
                                                <input type="hidden" name="public_id" value=s.public_id.0/>
                                                <button type="submit" aria-label=label>"End"</button>
                                            </ActionForm>
                                        </li>
                                    }
                                }).collect_view()}
                            </ul>
                        </section>
                    }),
                    Ok(None) => Either::Right(None),
                    Err(e) => Either::Right(Some(view! { <p class="error" role="alert">{e.message().to_owned()}</p> })),
                }
            })}
        </Transition>
    }
}

#[component]
fn UserRow(user: AdminUserView, disable: ServerAction<DisableUser>, enable: ServerAction<EnableUser>) -> impl IntoView {
    let id = user.id.to_string();
    let sessions_link = format!("/admin?user={id}");
    let (enable_label, disable_label) = (format!("Enable {}", user.email), format!("Disable {}", user.email));
    let toggle = if user.disabled {
        Either::Left(view! {
            <ActionForm action=enable attr:class="inline">
                <CsrfField/>
                <input type="hidden" name="user_id" value=id.clone()/>
                <button type="submit" aria-label=enable_label>"Enable"</button>
            </ActionForm>
        })
    } else {
        Either::Right(view! {
            <ActionForm action=disable attr:class="inline">
                <CsrfField/>
                <input type="hidden" name="user_id" value=id.clone()/>
                <button type="submit" aria-label=disable_label>"Disable"</button>
            </ActionForm>
        })
    };
    view! {
        <tr class:disabled=user.disabled>
            <td>{user.email.clone()}</td>
            <td>{user.display_name.clone()}</td>
            <td>{if user.is_admin { "administrator" } else { "user" }}</td>
            <td><a href=sessions_link>{user.live_sessions}</a></td>
            <td>{if user.disabled { "disabled " } else { "" }} {toggle}</td>
        </tr>
    }
}

#[component]
pub fn AuditPage() -> impl IntoView {
    view! {
        <Title text="Audit log · Switchboard"/>
        <RequireSession page=|state| admins_only(state, || view! { <Audit/> })/>
    }
}

/// The query string of the current filter (for the next page and the export links).
fn filter_query(pairs: &[(&str, Option<String>)]) -> String {
    pairs
        .iter()
        .filter_map(|(k, v)| v.as_ref().filter(|v| !v.is_empty()).map(|v| format!("{k}={}", urlencode(v))))
        .collect::<Vec<_>>()
        .join("&")
}

fn urlencode(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' | b':' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[component]
fn Audit() -> impl IntoView {
    let query = use_query_map();
    let param = move |k: &str| query.with(|q| q.get(k)).filter(|v| !v.is_empty());
    let page = Resource::new(
        move || (param("user_id"), param("kind"), param("from"), param("to"), param("before_id")),
        |(user, kind, from, to, before)| {
            audit_page(
                user.and_then(|u| u.parse().ok()).map(UserId),
                kind,
                from.and_then(|t| Timestamp::parse_rfc3339(&t)),
                to.and_then(|t| Timestamp::parse_rfc3339(&t)),
                before.and_then(|b| b.parse().ok()),
                None,
            )
        },
    );
    let filters = move || ["user_id", "kind", "from", "to"].map(|k| (k, param(k)));
    let export = move |format: &str| {
        let q = filter_query(&filters());
        format!("/api/admin/audit?format={format}{}{q}", if q.is_empty() { "" } else { "&" })
    };
    view! {
        <h1>"Audit log"</h1>
        <form method="get" action="/admin/audit" class="audit-filter">
            <label>"User id" <input type="text" name="user_id" value=move || param("user_id").unwrap_or_default()/></label>
            <label>"Kind" <input type="text" name="kind" value=move || param("kind").unwrap_or_default() placeholder="login_failed"/></label>
            <label>"From" <input type="text" name="from" value=move || param("from").unwrap_or_default() placeholder="2026-11-01T00:00:00Z"/></label>
            <label>"To" <input type="text" name="to" value=move || param("to").unwrap_or_default()/></label>
            <button type="submit">"Filter"</button>
        </form>
        <p>"Export: " <a href=move || export("csv")>"CSV"</a> " · " <a href=move || export("json")>"JSON"</a></p>
        <Transition fallback=|| view! { <p>"Loading…"</p> }>
            {move || Suspend::new(async move {
                match page.await {
                    Ok(p) => {
                        let next = p.next_before_id.map(|id| {
                            let q = filter_query(&filters());
                            format!("/admin/audit?{q}{}before_id={id}", if q.is_empty() { "" } else { "&" })
                        });
                        Either::Left(view! {
                            <table class="audit" aria-label="Audit events">
                                <thead><tr><th>"When"</th><th>"Event"</th><th>"Actor"</th><th>"Subject"</th><th>"Session"</th><th>"Address"</th><th>"Detail"</th></tr></thead>
                                <tbody>{p.events.into_iter().map(|e| view! { <EventRow event=e/> }).collect_view()}</tbody>
                            </table>
                            {next.map(|href| view! { <p><a href=href>"Older events"</a></p> })}
                        })
                    }
                    Err(e) => Either::Right(not_available(e)),
                }
            })}
        </Transition>
    }
}

#[component]
fn EventRow(event: AuditEventView) -> impl IntoView {
    let user = |u: Option<UserId>| u.map(|u| u.to_string()).unwrap_or_else(|| "—".into());
    view! {
        <tr class:refused=event.outcome == "refused">
            <td>{when(event.at)}</td>
            <td>{event.kind.clone()} {(event.outcome == "refused").then_some(" (refused)")}</td>
            <td>{user(event.actor_user_id)}</td>
            <td>{user(event.subject_user_id)}</td>
            <td>{event.session_public_id.map(|s| s.0).unwrap_or_default()}</td>
            <td>{event.ip.unwrap_or_default()}</td>
            <td>{event.detail.unwrap_or_default()}</td>
        </tr>
    }
}
