//! Switchboard's Leptos application: pages, components and server functions. Every page is
//! rendered on the server from the session; the browser hydrates only the islands (`#[island]`:
//! the nav, which starts the session store and tab sync, and the session widgets), and every
//! form also works without JavaScript.
//!
//! By feature, leaves first: `models` and `error` (the wire types, shared with the browser),
//! `auth` (sign-in paths; `auth::ssr` is the server side of a request), `functions` (the server
//! functions, by resource, and their registry), `sync` (keeping tabs in step), `providers` (the
//! session context: a resource, its actions, the optimistic switch), then `components` and
//! `pages`, which read the session only through `providers::use_session()`.

pub mod auth;
#[cfg(feature = "ssr")]
pub mod client_report;
pub mod components;
#[cfg(feature = "ssr")]
pub mod dashboard;
pub mod error;
pub mod functions;
pub mod models;
pub mod pages;
pub mod providers;
#[cfg(feature = "ssr")]
pub mod registry;
pub mod sync;

#[cfg(test)]
mod proptests;

use components::forms::{first_error, form_error};
use components::nav::{Nav, PageAnswer};
use functions::{Logout, SwitchPlatform};
use leptos::prelude::*;
use leptos_meta::{provide_meta_context, MetaTags, Title};
use leptos_router::components::{Route, Router, Routes};
use leptos_router::{SsrMode, StaticSegment};
use pages::admin::{AdminPage, AlertsPage, AuditPage};
use pages::admin_dashboard::AdminDashboardPage;
use pages::sessions::SessionsPage;
use pages::{dashboard::DashboardPage, login::LoginPage, platforms::PlatformsPage, register::RegisterPage, session::SessionPage};
use server_fn::ServerFn;

/// The HTML document around the app. Carries the caller's CSRF token for scripts.
pub fn shell(options: LeptosOptions) -> impl IntoView {
    let csrf = components::forms::page_csrf_token();
    // The build's files carry a hash of their content in their name (the server's `/pkg`).
    let stylesheet = format!("/{}/{}.css", options.site_pkg_dir, options.output_name);
    view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <meta charset="utf-8"/>
                <meta name="viewport" content="width=device-width, initial-scale=1"/>
                <meta name="csrf-token" content=csrf/>
                <link rel="icon" type="image/svg+xml" href="/favicon.svg"/>
                <link rel="stylesheet" id="leptos" href=stylesheet/>
                <AutoReload options=options.clone()/>
                <HydrationScripts options islands=true/>
                <MetaTags/>
            </head>
            <body>
                <App/>
            </body>
        </html>
    }
}

#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    view! {
        <Title text="Switchboard"/>
        <Router>
            <Frame/>
        </Router>
    }
}

/// Everything inside the router: session context, navigation, pages.
#[component]
fn Frame() -> impl IntoView {
    let session = providers::provide_session();
    // The nav's plain forms (the switch and sign-out without JavaScript) come back with their
    // error in the address.
    let url_error = first_error(vec![form_error(SwitchPlatform::PATH), form_error(Logout::PATH)]);
    view! {
        <Suspense fallback=|| ()>
            {move || Suspend::new(async move {
                let answer = PageAnswer {
                    snapshot: session.await,
                    url_error: url_error.get_untracked(),
                };
                view! { <Nav answer=answer.to_prop()/> }
            })}
        </Suspense>
        <main>
            <Routes fallback=|| view! { <h1>"Page not found"</h1> <p><a href="/">"Back to the dashboard"</a></p> }>
                <Route path=StaticSegment("") view=DashboardPage ssr=SsrMode::Async/>
                <Route path=StaticSegment("login") view=LoginPage ssr=SsrMode::Async/>
                <Route path=StaticSegment("register") view=RegisterPage ssr=SsrMode::Async/>
                <Route path=StaticSegment("platforms") view=PlatformsPage ssr=SsrMode::Async/>
                <Route path=StaticSegment("session") view=SessionPage ssr=SsrMode::Async/>
                <Route path=StaticSegment("sessions") view=SessionsPage ssr=SsrMode::Async/>
                <Route path=StaticSegment("admin") view=AdminPage ssr=SsrMode::Async/>
                <Route path=(StaticSegment("admin"), StaticSegment("audit")) view=AuditPage ssr=SsrMode::Async/>
                <Route path=(StaticSegment("admin"), StaticSegment("alerts")) view=AlertsPage ssr=SsrMode::Async/>
                <Route path=(StaticSegment("admin"), StaticSegment("dashboard")) view=AdminDashboardPage ssr=SsrMode::Async/>
            </Routes>
        </main>
    }
}
