//! The session as components see it: one resource with the server's session state, refetched
//! after every action that changes it, and the actions themselves.

use crate::api::{current_session, AddPlatform, Login, Logout, Register, RemovePlatform, RenamePlatform, SwitchPlatform};
use crate::error::ApiError;
use crate::models::{SessionSnapshot, SessionState};
use leptos::prelude::*;

#[derive(Clone, Copy)]
pub struct SessionContext {
    pub state: Resource<Result<SessionSnapshot, ApiError>>,
    pub login: ServerAction<Login>,
    pub register: ServerAction<Register>,
    pub logout: ServerAction<Logout>,
    pub switch: ServerAction<SwitchPlatform>,
    pub add_platform: ServerAction<AddPlatform>,
    pub rename_platform: ServerAction<RenamePlatform>,
    pub remove_platform: ServerAction<RemovePlatform>,
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
                    switch.version().get(),
                    add_platform.version().get(),
                    rename_platform.version().get(),
                    remove_platform.version().get(),
                )
            },
            |_| current_session(),
        );
        // Keep the page's CSRF token in step with the session (it changes at login).
        Effect::new(move |_| {
            if let Some(Ok(snapshot)) = state.get() {
                crate::client::set_page_csrf_token(&snapshot.csrf_token);
            }
        });
        let ctx = Self {
            state,
            login,
            register,
            logout,
            switch,
            add_platform,
            rename_platform,
            remove_platform,
        };
        provide_context(ctx);
        ctx
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

/// The signed-in state, or the error that says why there is none.
pub fn signed_in(snapshot: Result<SessionSnapshot, ApiError>) -> Result<SessionState, ApiError> {
    let snapshot = snapshot?;
    match snapshot.state {
        Some(state) => Ok(state),
        None => Err(ApiError::new(
            snapshot.ended.as_deref().unwrap_or("unauthenticated"),
            "sign in to continue",
        )),
    }
}
