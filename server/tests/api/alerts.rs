//! Suspicious activity: each detector raises one alert (not one per event), administrators read
//! them, and the webhook gets them: retried after a failure, and a receiver that hangs slows
//! nothing down.

use crate::support::{assert_error, ok, session_cookie_set_by, spawn_app, Browser, TestApp, PASSWORD};
use app::error::ErrorCode;
use reqwest::StatusCode;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use switchboard::testing::TestDatabase;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

const DETECTORS: &[(&str, &str)] = &[
    ("SWITCHBOARD_ALERTS_FAILED_LOGINS_PER_ACCOUNT", "3"),
    ("SWITCHBOARD_ALERTS_FAILED_LOGINS_PER_ADDRESS", "5"),
    ("SWITCHBOARD_ALERTS_NEW_SESSIONS_PER_ACCOUNT", "3"),
    ("SWITCHBOARD_ALERTS_CSRF_FAILURES_PER_ADDRESS", "3"),
    ("SWITCHBOARD_THROTTLE_PAIR_LIMIT", "1000"),
    ("SWITCHBOARD_THROTTLE_ADDRESS_LIMIT", "1000"),
    ("SWITCHBOARD_THROTTLE_ADDRESS_SLOW_AFTER", "1000"),
    ("SWITCHBOARD_THROTTLE_ACCOUNT_SLOW_AFTER", "1000"),
];

async fn alerts_seen(app: &TestApp) -> Vec<(String, String)> {
    let alerts = app.state.ctx.engine.alerts(1000, None).await.unwrap();
    alerts
        .into_iter()
        .map(|a| (a.kind.as_str().to_owned(), a.severity.as_str().to_owned()))
        .collect()
}

async fn refuse_csrf(b: &Browser, times: usize) {
    for _ in 0..times {
        assert_error(
            b.http
                .post(b.url("/api/add_platform"))
                .form(&[("label", "x")])
                .send()
                .await
                .unwrap(),
            StatusCode::FORBIDDEN,
            ErrorCode::CsrfFailed,
        )
        .await;
    }
}

async fn each_detector_raises_one_alert_and_administrators_read_them(db: TestDatabase) {
    let app = spawn_app(db, DETECTORS).await;
    let mut victim = app.browser().await;
    victim.register("victim@example.org").await;

    // Failed logins for one account (from anywhere), more than the threshold: one alert.
    let guesser = app.browser_from("127.0.0.2").await;
    for _ in 0..4 {
        guesser
            .post("/api/login", &[("email", "victim@example.org"), ("password", "guess")])
            .await;
    }
    // Failed logins from one address over many accounts.
    let sprayer = app.browser_from("127.0.0.3").await;
    for n in 0..5 {
        sprayer
            .post("/api/login", &[("email", &format!("user{n}@example.org")), ("password", "guess")])
            .await;
    }
    // Many new sessions for one account.
    for _ in 0..3 {
        app.browser().await.login("victim@example.org").await;
    }
    // Refused CSRF checks in bulk from one address.
    refuse_csrf(&app.browser_from("127.0.0.4").await, 3).await;
    // A revoked session's token used again (twice, as a thief replaying a copied cookie would).
    let thief = app.browser().await;
    let res = thief
        .post("/api/login", &[("email", "victim@example.org"), ("password", PASSWORD)])
        .await;
    let cookie = session_cookie_set_by(&res).expect("a session cookie");
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(victim.post("/api/revoke_other_sessions", &[]).await.status(), StatusCode::OK);
    for _ in 0..2 {
        let replay = app
            .bare()
            .get(app.url("/api/session_state"))
            .header("Cookie", &cookie)
            .send()
            .await
            .unwrap();
        assert_error(replay, StatusCode::UNAUTHORIZED, ErrorCode::SessionRevoked).await;
    }

    let mut seen = alerts_seen(&app).await;
    seen.sort();
    println!("alerts raised: {seen:?}");
    let expected = [
        ("csrf_failures", "warning"),
        ("ended_token_used", "warning"),
        ("failed_logins_for_account", "warning"),
        ("failed_logins_from_address", "warning"),
        ("many_new_sessions", "warning"),
    ];
    let expected: Vec<(String, String)> = expected.iter().map(|(k, s)| (k.to_string(), s.to_string())).collect();
    assert_eq!(seen, expected, "each detector once, however many events followed");

    // Administrators read them; others may not.
    assert_error(victim.get("/api/admin/alerts").await, StatusCode::FORBIDDEN, ErrorCode::Forbidden).await;
    let mut root = app.browser().await;
    root.register("root@example.org").await;
    app.make_admin("root@example.org").await;
    let list: Vec<serde_json::Value> = ok(root.get("/api/admin/alerts").await).await;
    assert_eq!(list.len(), 5);
    let ended = list.iter().find(|a| a["kind"] == "ended_token_used").unwrap();
    assert!(ended["session_public_id"].as_str().is_some_and(|s| s.len() == 22), "{ended}");
    assert_eq!(ended["evidence"]["end_reason"], "revoked_by_user");
    let account = list.iter().find(|a| a["kind"] == "failed_logins_for_account").unwrap();
    assert_eq!(account["evidence"]["email"], "victim@example.org");
    assert_error(
        root.get("/api/admin/alerts?limit=zero").await,
        StatusCode::UNPROCESSABLE_ENTITY,
        ErrorCode::InvalidInput,
    )
    .await;
    let page = root.get("/admin/alerts").await;
    assert_eq!(page.status(), StatusCode::OK);
    let html = page.text().await.unwrap();
    for (kind, _) in &expected {
        assert!(html.contains(kind.as_str()), "the page lists {kind}");
    }
    let forbidden = victim.get("/admin/alerts").await;
    assert_eq!(forbidden.status(), StatusCode::FORBIDDEN);
}

/// A webhook receiver on loopback: records each request's body and answers with the next status
/// of `answers` (the last one repeated), or never answers when it is 0.
pub(crate) struct Receiver {
    pub(crate) url: String,
    pub(crate) bodies: Arc<Mutex<Vec<serde_json::Value>>>,
}

pub(crate) async fn receiver(answers: Vec<u16>) -> Receiver {
    receiver_over(answers, None).await
}

/// [`receiver`] over HTTPS (`https://localhost:…`) with a certificate from its own authority,
/// whose PEM is returned beside it.
async fn https_receiver() -> (String, Receiver) {
    use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair};
    use tokio_rustls::rustls::{self, pki_types::PrivateKeyDer};
    let ca_key = KeyPair::generate().unwrap();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params.distinguished_name.push(DnType::CommonName, "Switchboard test CA");
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let key = KeyPair::generate().unwrap();
    let cert = CertificateParams::new(vec!["localhost".to_owned()])
        .unwrap()
        .signed_by(&key, &ca, &ca_key)
        .unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![cert.der().clone()], PrivateKeyDer::Pkcs8(key.serialize_der().into()))
        .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    (ca.pem(), receiver_over(vec![200], Some(acceptor)).await)
}

async fn receiver_over(answers: Vec<u16>, tls: Option<tokio_rustls::TlsAcceptor>) -> Receiver {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let url = match tls {
        Some(_) => format!("https://localhost:{port}/hook"),
        None => format!("http://127.0.0.1:{port}/hook"),
    };
    let bodies = Arc::new(Mutex::new(Vec::new()));
    let seen = bodies.clone();
    tokio::spawn(async move {
        let mut n = 0;
        loop {
            let Ok((stream, _)) = listener.accept().await else { return };
            let status = *answers.get(n).or(answers.last()).unwrap();
            n += 1;
            let seen = seen.clone();
            let tls = tls.clone();
            tokio::spawn(async move {
                match tls {
                    // A client that does not trust the certificate ends the handshake here.
                    Some(acceptor) => {
                        if let Ok(stream) = acceptor.accept(stream).await {
                            answer(stream, status, seen).await;
                        }
                    }
                    None => answer(stream, status, seen).await,
                }
            });
        }
    });
    Receiver { url, bodies }
}

/// Reads one request, records its body, answers `status` (never, when it is 0).
async fn answer<S: AsyncRead + AsyncWrite + Unpin>(mut stream: S, status: u16, seen: Arc<Mutex<Vec<serde_json::Value>>>) {
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    let body = loop {
        let Ok(read) = stream.read(&mut buf).await else { return };
        if read == 0 {
            return;
        }
        got.extend_from_slice(&buf[..read]);
        let text = String::from_utf8_lossy(&got).into_owned();
        if let Some((head, body)) = text.split_once("\r\n\r\n") {
            let length: usize = head
                .lines()
                .find_map(|l| {
                    l.to_ascii_lowercase()
                        .strip_prefix("content-length:")
                        .map(|v| v.trim().parse().unwrap())
                })
                .unwrap_or(0);
            if body.len() >= length {
                break body.to_owned();
            }
        }
    };
    seen.lock().unwrap().push(serde_json::from_str(&body).unwrap());
    if status == 0 {
        tokio::time::sleep(Duration::from_secs(3600)).await;
        return;
    }
    let answer = format!("HTTP/1.1 {status} X\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
    let _ = stream.write_all(answer.as_bytes()).await;
    let _ = stream.shutdown().await;
}

pub(crate) async fn wait_for(bodies: &Arc<Mutex<Vec<serde_json::Value>>>, count: usize) -> Vec<serde_json::Value> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let got = bodies.lock().unwrap().clone();
        if got.len() >= count || Instant::now() > deadline {
            return got;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_webhook_gets_each_alert_and_retries_a_failure() {
    let hook = receiver(vec![500, 200]).await;
    let mut env = DETECTORS.to_vec();
    env.extend([
        ("SWITCHBOARD_ALERTS_WEBHOOK_URL", hook.url.as_str()),
        ("SWITCHBOARD_ALERTS_WEBHOOK_RETRIES", "2"),
    ]);
    let app = spawn_app(TestDatabase::sqlite().await, &env).await;
    refuse_csrf(&app.browser_from("127.0.0.5").await, 3).await;
    let got = wait_for(&hook.bodies, 2).await;
    assert_eq!(got.len(), 2, "refused once (500), then delivered: {got:?}");
    assert_eq!(got[0], got[1], "the same alert again");
    assert_eq!(got[1]["kind"], "csrf_failures");
    assert_eq!(got[1]["severity"], "warning");
    assert_eq!(got[1]["ip"], "127.0.0.5");
    assert_eq!(got[1]["evidence"]["refusals"], 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_https_webhook_gets_alerts_only_with_a_certificate_it_trusts() {
    let (ca, hook) = https_receiver().await;
    let dir = tempfile::tempdir().unwrap();
    let ca_file = dir.path().join("ca.pem");
    std::fs::write(&ca_file, ca).unwrap();

    // Someone in the middle with a certificate no trusted authority signed: the alert is not
    // handed over (the handshake is refused), and never sent in the clear either.
    let mut env = DETECTORS.to_vec();
    env.extend([
        ("SWITCHBOARD_ALERTS_WEBHOOK_URL", hook.url.as_str()),
        ("SWITCHBOARD_ALERTS_WEBHOOK_RETRIES", "0"),
    ]);
    let untrusting = spawn_app(TestDatabase::sqlite().await, &env).await;
    refuse_csrf(&untrusting.browser_from("127.0.0.6").await, 3).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert!(hook.bodies.lock().unwrap().is_empty(), "an untrusted certificate gets nothing");
    assert_eq!(alerts_seen(&untrusting).await.len(), 1, "the alert is still recorded");

    // With the receiver's authority in alerts.webhook_ca_file, it is delivered over TLS.
    env.push(("SWITCHBOARD_ALERTS_WEBHOOK_CA_FILE", ca_file.to_str().unwrap()));
    let app = spawn_app(TestDatabase::sqlite().await, &env).await;
    refuse_csrf(&app.browser_from("127.0.0.7").await, 3).await;
    let got = wait_for(&hook.bodies, 1).await;
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(got[0]["kind"], "csrf_failures");
    assert_eq!(got[0]["ip"], "127.0.0.7");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_webhook_that_hangs_slows_no_request() {
    let hook = receiver(vec![0]).await;
    let mut env = DETECTORS.to_vec();
    env.extend([
        ("SWITCHBOARD_ALERTS_WEBHOOK_URL", hook.url.as_str()),
        ("SWITCHBOARD_ALERTS_WEBHOOK_TIMEOUT", "2s"),
        ("SWITCHBOARD_ALERTS_WEBHOOK_RETRIES", "0"),
        ("SWITCHBOARD_ALERTS_WEBHOOK_QUEUE", "2"),
    ]);
    let app = spawn_app(TestDatabase::sqlite().await, &env).await;
    // Eight alerts (one per address) while the receiver holds the first delivery open.
    let started = Instant::now();
    for n in 10..18 {
        let b = app.browser_from(&format!("127.0.0.{n}")).await;
        let each = Instant::now();
        refuse_csrf(&b, 3).await;
        assert!(each.elapsed() < Duration::from_secs(1), "not slowed: {:?}", each.elapsed());
    }
    println!("8 alerts with a hanging webhook: {:?}", started.elapsed());
    assert_eq!(alerts_seen(&app).await.len(), 8, "every alert is recorded");
    let mut b = app.browser().await;
    b.register("still@example.org").await;
    assert_eq!(b.state().await.user.email, "still@example.org");
}

async fn this_wasnt_me_ends_every_session_records_why_and_alerts(db: TestDatabase) {
    let app = spawn_app(db, &[]).await;
    let mut laptop = app.browser().await;
    laptop.register("owner@example.org").await;
    let mut phone = app.browser().await;
    let phone_state = phone.login("owner@example.org").await;
    let mut other = app.browser().await;
    let other_state = other.register("other@example.org").await;

    // The Sessions page offers it for the other session, not for this one.
    let page = laptop.get("/sessions").await.text().await.unwrap();
    assert_eq!(page.matches("action=\"/api/disown_session\"").count(), 1, "{page}");

    // Someone else's session is not found, exactly like one that does not exist.
    assert_error(
        laptop
            .post("/api/disown_session", &[("public_id", &other_state.session.id.0)])
            .await,
        StatusCode::NOT_FOUND,
        ErrorCode::NotFound,
    )
    .await;
    let res = laptop
        .post("/api/disown_session", &[("public_id", &phone_state.session.id.0)])
        .await;
    let snapshot: app::models::SessionSnapshot = ok(res).await;
    assert!(snapshot.state.is_none(), "this browser is signed out too");
    assert_error(
        phone.get("/api/session_state").await,
        StatusCode::UNAUTHORIZED,
        ErrorCode::SessionRevoked,
    )
    .await;
    assert_error(
        laptop.get("/api/session_state").await,
        StatusCode::UNAUTHORIZED,
        ErrorCode::Unauthenticated,
    )
    .await;
    assert_eq!(other.state().await.user.email, "other@example.org", "other accounts are untouched");

    let engine = &app.state.ctx.engine;
    let why = app.audit_of(switchboard::audit::AuditKind::SessionDisowned).await;
    assert_eq!(why.len(), 1);
    let detail = why[0].entry.detail.clone().unwrap();
    assert!(
        detail.contains(&phone_state.session.id.0) && detail.contains("2 sessions ended"),
        "{detail}"
    );
    let alerts = engine.alerts(10, None).await.unwrap();
    let alert = alerts.iter().find(|a| a.kind.as_str() == "session_disowned").expect("an alert");
    assert_eq!(alert.severity.as_str(), "critical");
    assert_eq!(alert.session.as_ref().map(|s| s.as_str()), Some(phone_state.session.id.0.as_str()));
}

switchboard::on_both_backends!(
    each_detector_raises_one_alert_and_administrators_read_them,
    this_wasnt_me_ends_every_session_records_why_and_alerts,
);
