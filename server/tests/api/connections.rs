//! Slow and greedy clients, over raw TCP: a client that sends its headers a byte at a time is cut
//! off, a body that never arrives is answered `408`, idle connections cannot starve everyone
//! else, and the connection cap holds.

use crate::support::{spawn_app, TestApp};
use reqwest::StatusCode;
use std::time::{Duration, Instant};
use switchboard::testing::TestDatabase;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

async fn connect(app: &TestApp) -> TcpStream {
    TcpStream::connect(app.base.trim_start_matches("http://")).await.unwrap()
}

/// Reads until the server closes the connection (or `limit` passes): what it sent, and when it
/// closed.
async fn read_until_closed(stream: &mut TcpStream, limit: Duration) -> (String, Option<Duration>) {
    let started = Instant::now();
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match tokio::time::timeout(limit.saturating_sub(started.elapsed()), stream.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return (String::from_utf8_lossy(&got).into_owned(), Some(started.elapsed())),
            Ok(Ok(n)) => got.extend_from_slice(&buf[..n]),
            Err(_) => return (String::from_utf8_lossy(&got).into_owned(), None),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_client_sending_its_headers_a_byte_at_a_time_is_cut_off() {
    let app = spawn_app(TestDatabase::sqlite().await, &[("SWITCHBOARD_HTTP_HEADER_READ_TIMEOUT", "1s")]).await;
    let mut slow = connect(&app).await;
    let started = Instant::now();
    let head = b"GET /api/session_state HTTP/1.1\r\nHost: localhost\r\nX-Padding: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n";
    let mut cut_off = None;
    for byte in head {
        if slow.write_all(&[*byte]).await.is_err() {
            cut_off = Some(started.elapsed());
            break;
        }
        let mut probe = [0u8; 1];
        match tokio::time::timeout(Duration::from_millis(100), slow.read(&mut probe)).await {
            Ok(Ok(0)) | Ok(Err(_)) => {
                cut_off = Some(started.elapsed());
                break;
            }
            _ => {}
        }
    }
    let cut_off = cut_off.expect("the server closed the connection before the slow headers were done");
    println!("slowloris client cut off after {cut_off:?}");
    assert!(
        cut_off >= Duration::from_millis(900) && cut_off < Duration::from_secs(4),
        "{cut_off:?}"
    );
    // A client that is not slow is served.
    assert_eq!(app.bare().get(app.url("/health")).send().await.unwrap().status(), StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_request_body_that_never_arrives_is_answered_408() {
    let app = spawn_app(TestDatabase::sqlite().await, &[("SWITCHBOARD_HTTP_BODY_TIMEOUT", "1s")]).await;
    let mut stream = connect(&app).await;
    stream
        .write_all(
            b"POST /api/login HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/x-www-form-urlencoded\r\n\
              Content-Length: 100\r\n\r\nemail=a",
        )
        .await
        .unwrap();
    let (answer, closed) = read_until_closed(&mut stream, Duration::from_secs(10)).await;
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains("request_timeout"), "{answer}");
    assert!(closed.is_some(), "and the connection ends");
}

/// 500 connections that send nothing do not keep others from being served.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn five_hundred_idle_connections_do_not_stop_others_being_served() {
    let app = spawn_app(TestDatabase::sqlite().await, &[]).await;
    let mut idle = Vec::new();
    for _ in 0..500 {
        idle.push(connect(&app).await);
    }
    let mut b = app.browser().await;
    let started = Instant::now();
    b.register("served@example.org").await;
    let state = b.state().await;
    assert_eq!(state.user.email, "served@example.org");
    println!("with 500 idle connections open, a sign-up and a read took {:?}", started.elapsed());
    assert!(started.elapsed() < Duration::from_secs(10));
    drop(idle);
}

/// At the cap, a new client waits for a connection to close (here, idle ones being cut off by the
/// header read timeout) and is then served.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn beyond_the_connection_cap_clients_wait_for_a_free_place() {
    let app = spawn_app(
        TestDatabase::sqlite().await,
        &[
            ("SWITCHBOARD_HTTP_MAX_CONNECTIONS", "3"),
            ("SWITCHBOARD_HTTP_HEADER_READ_TIMEOUT", "1500ms"),
        ],
    )
    .await;
    let mut idle = Vec::new();
    for _ in 0..3 {
        idle.push(connect(&app).await);
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    let started = Instant::now();
    let res = app.bare().get(app.url("/health")).send().await.unwrap();
    let waited = started.elapsed();
    assert_eq!(res.status(), StatusCode::OK);
    println!("at the cap, a new client was served after {waited:?}");
    assert!(waited >= Duration::from_millis(1000), "it waited for a place: {waited:?}");
    for mut conn in idle {
        let (_, closed) = read_until_closed(&mut conn, Duration::from_secs(5)).await;
        assert!(closed.is_some(), "idle connections were cut off");
    }
}
