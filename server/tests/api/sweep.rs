//! A hostile-input sweep over raw TCP: thousands of malformed requests (bad cookies, oversized
//! headers and bodies, invalid UTF-8, wrong methods and content types, truncated forms and
//! bodies) from a seeded generator, signed in and not. No answer may be a 5xx other than
//! `503 busy`, and the server must still serve afterwards.

use crate::support::{spawn_app, TestApp};
use app::registry::endpoints;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;
use switchboard::testing::TestDatabase;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const REQUESTS: usize = 3000;

/// Bytes that are not UTF-8, and other trouble.
const NASTY: &[&[u8]] = &[
    b"\xff\xfe\xfd",
    b"\xc3\x28",
    b"%00",
    b"%ff%fe",
    b"%",
    b"%zz",
    b"\x00",
    b"\r",
    b";;;==;",
    b"\"quoted\"",
    b"../../etc/passwd",
    b"<script>alert(1)</script>",
    b"' OR '1'='1",
    b"\xf0\x9f\x92\xa9",
];

fn nasty(rng: &mut StdRng) -> Vec<u8> {
    let mut out = Vec::new();
    for _ in 0..rng.gen_range(1..6) {
        if rng.gen_bool(0.5) {
            out.extend_from_slice(NASTY.choose(rng).unwrap());
        } else {
            let n = rng.gen_range(0..40);
            out.extend((0..n).map(|_| rng.gen_range(b'!'..=b'~')));
        }
    }
    out
}

/// One malformed request, as raw bytes, and a label for the counts.
fn request(rng: &mut StdRng, cookie: &str, csrf: &str) -> (&'static str, Vec<u8>) {
    // Not the endpoints that end the sweeper's own session (the sweep would go on signed out).
    let ending = [
        "/api/logout",
        "/api/sign_out_everywhere",
        "/api/revoke_other_sessions",
        "/api/change_password",
        "/api/disown_session",
    ];
    let paths: Vec<String> = endpoints()
        .iter()
        .filter(|e| !ending.contains(&e.path))
        .map(|e| e.path.to_owned())
        .chain(
            [
                "/",
                "/login",
                "/sessions",
                "/admin",
                "/api/csrf",
                "/health",
                "/pkg/x.js",
                "/api/nope",
            ]
            .map(String::from),
        )
        .collect();
    let path = paths.choose(rng).unwrap().clone();
    let method = *["GET", "POST", "POST", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "HEAD", "FOO"]
        .choose(rng)
        .unwrap();
    let mut head = Vec::new();
    let mut body = Vec::new();
    let mut content_type: Vec<u8> = b"application/x-www-form-urlencoded".to_vec();
    let mut cookie_header: Vec<u8> = cookie.as_bytes().to_vec();
    let mut extra: Vec<u8> = Vec::new();
    let mut declared_length: Option<usize> = None;
    let mut target = path.clone().into_bytes();
    let kind = match rng.gen_range(0..10) {
        0 => {
            cookie_header = [b"sb_session=".as_slice(), &nasty(rng), b"; sb_pre=", &nasty(rng)].concat();
            "bad cookie"
        }
        1 => {
            extra = [b"X-Big: ".as_slice(), &vec![b'a'; rng.gen_range(8_000..120_000)], b"\r\n"].concat();
            "oversized header"
        }
        2 => {
            body = vec![b'a'; rng.gen_range(70_000..300_000)];
            "oversized body"
        }
        3 => {
            body = [b"email=".as_slice(), &nasty(rng), b"&password=", &nasty(rng)].concat();
            "invalid UTF-8 or escapes in a form"
        }
        4 => {
            content_type = [b"text/plain".as_slice(), b"multipart/form-data", b"application/json", b"x/\xff"]
                .choose(rng)
                .unwrap()
                .to_vec();
            body = b"{\"email\": 1}".to_vec();
            "wrong content type"
        }
        5 => {
            let full = b"email=a%40b.org&password=correct+horse&display_name=x".to_vec();
            let cut = rng.gen_range(0..full.len());
            body = full[..cut].to_vec();
            "truncated form"
        }
        6 => {
            body = b"email=a".to_vec();
            declared_length = Some(rng.gen_range(100..1000));
            "body shorter than its Content-Length"
        }
        7 => {
            target = [path.as_bytes(), b"?", &nasty(rng), b"=", &nasty(rng)].concat();
            "bad query"
        }
        8 => {
            extra = [
                b"X-CSRF-Token: ".as_slice(),
                &nasty(rng),
                b"\r\nOrigin: ",
                &nasty(rng),
                b"\r\nSec-Fetch-Site: ",
                &nasty(rng),
                b"\r\n",
            ]
            .concat();
            body = b"label=x".to_vec();
            "bad CSRF, Origin and Sec-Fetch headers"
        }
        _ => {
            body = (0..rng.gen_range(0..2000)).map(|_| rng.gen()).collect();
            "random bytes as the body"
        }
    };
    // Paths must not contain raw spaces or controls for the request line to parse at all; the
    // nasty bytes are percent-escaped there unless the request is about raw bytes.
    let target: Vec<u8> = target
        .iter()
        .flat_map(|b| match b {
            b' ' | b'\r' | b'\n' | 0x00..=0x1f | 0x7f.. => format!("%{b:02X}").into_bytes(),
            b => vec![*b],
        })
        .collect();
    head.extend_from_slice(method.as_bytes());
    head.push(b' ');
    head.extend_from_slice(&target);
    head.extend_from_slice(b" HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n");
    head.extend_from_slice(b"Cookie: ");
    head.extend_from_slice(&cookie_header);
    head.extend_from_slice(b"\r\nX-CSRF-Token: ");
    head.extend_from_slice(csrf.as_bytes());
    head.extend_from_slice(b"\r\nContent-Type: ");
    head.extend_from_slice(&content_type);
    head.extend_from_slice(b"\r\n");
    head.extend_from_slice(&extra);
    head.extend_from_slice(format!("Content-Length: {}\r\n\r\n", declared_length.unwrap_or(body.len())).as_bytes());
    head.extend_from_slice(&body);
    (kind, head)
}

/// Sends raw bytes; the status of the answer, or `None` if the server closed without one.
async fn send(app: &TestApp, bytes: Vec<u8>) -> Option<u16> {
    let mut stream = tokio::net::TcpStream::connect(app.base.trim_start_matches("http://")).await.ok()?;
    // The server may answer (413, 431) and close before the whole request is written.
    let _ = stream.write_all(&bytes).await;
    let mut answer = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(20), async {
        let mut buf = [0u8; 4096];
        while answer.len() < 12 {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => answer.extend_from_slice(&buf[..n]),
            }
        }
    })
    .await;
    assert!(read.is_ok(), "no answer and no close within 20 s");
    let line = String::from_utf8_lossy(&answer);
    line.strip_prefix("HTTP/1.1 ")
        .and_then(|rest| rest.get(..3))
        .and_then(|code| code.parse().ok())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn thousands_of_malformed_requests_get_4xx_never_5xx() {
    let app = Arc::new(spawn_app(TestDatabase::sqlite().await, &[("SWITCHBOARD_HTTP_BODY_TIMEOUT", "1s")]).await);
    let mut b = app.browser().await;
    let res = b
        .post(
            "/api/register",
            &[
                ("email", "sweep@example.org"),
                ("password", crate::support::PASSWORD),
                ("display_name", "Sweep"),
            ],
        )
        .await;
    let session_cookie = crate::support::session_cookie_set_by(&res).expect("a session cookie");
    let state: app::models::SessionState = crate::support::ok(res).await;
    b.csrf = state.csrf_token.clone();
    b.add_platform("Swept").await;
    let csrf = b.csrf.clone();

    let mut rng = StdRng::seed_from_u64(0x5b_5eed);
    let limit = Arc::new(tokio::sync::Semaphore::new(32));
    let mut tasks = tokio::task::JoinSet::new();
    for n in 0..REQUESTS {
        let signed_in = n % 2 == 0;
        let (kind, bytes) = request(
            &mut rng,
            if signed_in {
                session_cookie.as_str()
            } else {
                "sb_pre=AAAAAAAAAAAAAAAAAAAAAA"
            },
            if signed_in { csrf.as_str() } else { "x" },
        );
        let (app, limit) = (app.clone(), limit.clone());
        tasks.spawn(async move {
            let _permit = limit.acquire().await.unwrap();
            (kind, send(&app, bytes).await)
        });
    }
    let mut by_status: BTreeMap<String, usize> = BTreeMap::new();
    let mut by_kind: BTreeMap<&str, usize> = BTreeMap::new();
    let mut failures = Vec::new();
    while let Some(done) = tasks.join_next().await {
        let (kind, status) = done.unwrap();
        *by_kind.entry(kind).or_default() += 1;
        let key = status.map_or("closed without an answer".to_owned(), |s| s.to_string());
        *by_status.entry(key).or_default() += 1;
        if let Some(s) = status.filter(|s| *s >= 500 && *s != 503) {
            failures.push(format!("{s} for {kind}"));
        }
    }
    println!("hostile sweep: {REQUESTS} requests; by kind {by_kind:?}");
    println!("hostile sweep: answers by status {by_status:?}");
    assert!(failures.is_empty(), "{failures:#?}");
    assert!(
        by_status.keys().filter(|k| k.starts_with('4')).count() >= 5,
        "varied refusals: {by_status:?}"
    );
    assert!(by_status.contains_key("431"), "heads over 64 KiB are refused: {by_status:?}");
    // Still serving, and the session still works.
    let after = b.state().await;
    assert_eq!(after.session.id, state.session.id);
}
