//! `spawn_app()`: a real server on a random port over a fresh database, and a client for it.

#![allow(dead_code)] // each test binary uses part of it

use app::error::{ApiError, ErrorCode};
use app::models::{PlatformId, PlatformView, SessionSnapshot, SessionState};
use reqwest::header::{HeaderMap, HeaderValue};
use reqwest::{Client, Response, StatusCode};
use serde::de::DeserializeOwned;
use std::collections::BTreeMap;
use std::sync::Arc;
use switchboard::testing::TestDatabase;
use switchboard::{ManualClock, Timestamp};
use switchboard_server::config::{Profile, Settings};

pub struct TestApp {
    pub base: String,
    pub clock: Arc<ManualClock>,
    pub state: switchboard_server::AppState,
    profile: Profile,
    env: Vec<(String, String)>,
    _database: Arc<TestDatabase>,
}

pub async fn spawn_app(database: TestDatabase, env: &[(&str, &str)]) -> TestApp {
    spawn_app_as(Profile::Test, database, env).await
}

/// [`spawn_app`] with another profile's defaults (e.g. `prod`: `Secure`, `__Host-` cookies).
pub async fn spawn_app_as(profile: Profile, database: TestDatabase, env: &[(&str, &str)]) -> TestApp {
    let env = env.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    spawn_instance(profile, Arc::new(database), env).await
}

/// A server on `database`, which other instances may share.
async fn spawn_instance(profile: Profile, database: Arc<TestDatabase>, env: Vec<(String, String)>) -> TestApp {
    let mut vars: BTreeMap<String, String> = env.iter().cloned().collect();
    vars.insert("SWITCHBOARD_DATABASE_URL".into(), database.url().to_owned());
    let settings = Settings::load(profile, None, &vars).expect("test settings");
    let db = switchboard_server::serving_database(&settings).await.expect("open test database");
    let clock = Arc::new(ManualClock::new(Timestamp(1_800_000_000_000)));
    let state = switchboard_server::build_state(settings, db, clock.clone()).await.expect("state");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let app = switchboard_server::http::router(state.clone());
    let limits = state.settings.http.clone();
    tokio::spawn(async move {
        switchboard_server::http::serve(listener, app, &limits, std::future::pending(), std::time::Duration::ZERO).await;
    });
    TestApp {
        base,
        clock,
        state,
        profile,
        env,
        _database: database,
    }
}

/// A browser-like client: keeps cookies, knows its CSRF token.
pub struct Browser {
    pub http: Client,
    pub base: String,
    pub csrf: String,
}

pub const PASSWORD: &str = "correct horse battery";

/// Form fields, as `(name, value)` pairs.
pub type Fields<'a> = &'a [(&'a str, &'a str)];

/// A request that takes this long is a hang: fail the test instead of the whole run.
const REQUEST_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

/// How a client presents itself: the address it connects from (any of 127.0.0.0/8 reaches the
/// server on loopback), its `User-Agent` and its `Accept-Language` (none when `None`).
#[derive(Debug, Clone, Copy, Default)]
pub struct Device<'a> {
    pub address: Option<&'a str>,
    pub user_agent: Option<&'a str>,
    pub accept_language: Option<&'a str>,
}

impl Device<'_> {
    fn client(&self, cookies: bool) -> Client {
        let mut headers = HeaderMap::new();
        if let Some(lang) = self.accept_language {
            headers.insert(reqwest::header::ACCEPT_LANGUAGE, HeaderValue::from_str(lang).unwrap());
        }
        let mut builder = Client::builder()
            .cookie_store(cookies)
            .redirect(reqwest::redirect::Policy::none())
            .timeout(REQUEST_TIMEOUT)
            .local_address(self.address.map(|a| a.parse().expect("an IP address")))
            .default_headers(headers);
        if let Some(ua) = self.user_agent {
            builder = builder.user_agent(ua);
        }
        builder.build().unwrap()
    }
}

impl TestApp {
    /// Another server on the same database with the same settings (many instances behind a
    /// proxy, without sticky sessions).
    pub async fn another_instance(&self) -> TestApp {
        spawn_instance(self.profile, self._database.clone(), self.env.clone()).await
    }

    pub async fn browser(&self) -> Browser {
        self.browser_as(Device::default()).await
    }

    /// A browser on another client address, so per-address limits can be tested:
    /// `browser_from("127.0.0.2")`.
    pub async fn browser_from(&self, address: &str) -> Browser {
        self.browser_as(Device {
            address: Some(address),
            ..Device::default()
        })
        .await
    }

    /// A browser presenting itself as `device`.
    pub async fn browser_as(&self, device: Device<'_>) -> Browser {
        let mut b = Browser {
            http: device.client(true),
            base: self.base.clone(),
            csrf: String::new(),
        };
        b.refresh_csrf().await;
        b
    }

    /// A client without a cookie store presenting itself as `device`, for hand-made cookies.
    pub fn client_as(&self, device: Device<'_>) -> Client {
        device.client(false)
    }

    /// Makes the account an administrator (as `switchboard user admin EMAIL --grant` does).
    pub async fn make_admin(&self, email: &str) {
        let email = switchboard::domain::Email::parse(email).unwrap();
        self.state.ctx.engine.set_admin(&email, true).await.unwrap();
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// The audit events of `kind`, newest first (at most 1000).
    pub async fn audit_of(&self, kind: switchboard::audit::AuditKind) -> Vec<switchboard::audit::AuditEvent> {
        let filter = switchboard::audit::AuditFilter {
            kind: Some(kind),
            ..Default::default()
        };
        self.state.ctx.engine.audit_events(&filter, 1000).await.unwrap()
    }

    /// The database the server runs on.
    pub fn database(&self) -> &TestDatabase {
        &self._database
    }

    /// A client without a cookie store, for hand-made cookies.
    pub fn bare(&self) -> Client {
        self.client_as(Device::default())
    }
}

impl Browser {
    /// The same browser (cookies, CSRF token) talking to another instance: a proxy sent its next
    /// requests elsewhere.
    pub fn on(&self, instance: &TestApp) -> Browser {
        Browser {
            http: self.http.clone(),
            base: instance.base.clone(),
            csrf: self.csrf.clone(),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub async fn refresh_csrf(&mut self) {
        #[derive(serde::Deserialize)]
        struct Csrf {
            csrf_token: String,
        }
        let body: Csrf = self.http.get(self.url("/api/csrf")).send().await.unwrap().json().await.unwrap();
        self.csrf = body.csrf_token;
    }

    /// POSTs form fields with the CSRF header, as the hydrated app does.
    pub async fn post(&self, path: &str, fields: &[(&str, &str)]) -> Response {
        self.http
            .post(self.url(path))
            .header("X-CSRF-Token", &self.csrf)
            .form(fields)
            .send()
            .await
            .unwrap()
    }

    pub async fn get(&self, path: &str) -> Response {
        self.http.get(self.url(path)).send().await.unwrap()
    }

    pub async fn register(&mut self, email: &str) -> SessionState {
        let res = self
            .post(
                "/api/register",
                &[("email", email), ("password", PASSWORD), ("display_name", "Tester")],
            )
            .await;
        let state: SessionState = ok(res).await;
        self.csrf = state.csrf_token.clone();
        state
    }

    /// Signs in again (the account's password is [`PASSWORD`]); keeps the new CSRF token.
    pub async fn login(&mut self, email: &str) -> SessionState {
        let state: SessionState = ok(self.post("/api/login", &[("email", email), ("password", PASSWORD)]).await).await;
        self.csrf = state.csrf_token.clone();
        state
    }

    pub async fn add_platform(&self, label: &str) -> PlatformId {
        let res = self
            .post(
                "/api/add_platform",
                &[
                    ("kind", "mastodon"),
                    ("label", label),
                    ("instance_url", "https://mastodon.social"),
                    ("handle", "@me"),
                ],
            )
            .await;
        ok::<PlatformView>(res).await.id
    }

    /// `GET /api/session_state`, which must succeed.
    pub async fn state(&self) -> SessionState {
        ok(self.get("/api/session_state").await).await
    }

    /// `GET /api/session` (always 200).
    pub async fn snapshot(&self) -> SessionSnapshot {
        ok(self.get("/api/session").await).await
    }

    /// `GET /api/session_check` (always 200).
    pub async fn check(&self) -> SessionSnapshot {
        ok(self.get("/api/session_check").await).await
    }
}

/// Decodes a 200 answer into its wire type.
pub async fn ok<T: DeserializeOwned>(res: Response) -> T {
    let status = res.status();
    let text = res.text().await.unwrap();
    assert_eq!(status, StatusCode::OK, "{text}");
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("not the expected answer ({e}): {text}"))
}

/// Asserts an error answer: status, code, a message; returns it decoded.
pub async fn assert_error(res: Response, status: StatusCode, code: ErrorCode) -> ApiError {
    assert_eq!(res.status(), status, "expected {status} {code:?}");
    let text = res.text().await.unwrap();
    let err: ApiError = serde_json::from_str(&text).unwrap_or_else(|e| panic!("error bodies are ApiError JSON ({e}): {text}"));
    assert_eq!(err.code(), code, "{text}");
    assert!(!err.message().is_empty(), "{text}");
    err
}

pub fn cookie_header(value: &str) -> HeaderMap {
    let mut h = HeaderMap::new();
    h.insert(reqwest::header::COOKIE, HeaderValue::from_str(value).unwrap());
    h
}

/// The `name=value` of the session cookie an answer sets (test profile: `sb_session`), if any.
pub fn session_cookie_set_by(res: &reqwest::Response) -> Option<String> {
    res.headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .map(|c| c.split(';').next().unwrap_or_default().to_owned())
        .find(|c| c.starts_with("sb_session="))
}
