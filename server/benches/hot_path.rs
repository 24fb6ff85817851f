//! The hot path under load: authenticated `GET /api/session_state` against the release binary,
//! on SQLite and PostgreSQL, with the session cache on and off, next to the same server's bare
//! route (`/health/live`, the ceiling) and an axum + tower-sessions 0.14 baseline with its sqlx
//! SQLite store serving the same state (`bench/tower_baseline.rs`). Prints one table and the
//! ratios the goals are written in.
//!
//! Load comes from this process, a small HTTP/1.1 client on keep-alive connections (one request
//! in flight per connection), with the session cookie a real sign-in set.
//!
//! `make bench` (or `cargo bench -p server --features bench-baseline --bench hot_path`).
//! `SWITCHBOARD_BENCH_SECONDS` (per row, default 5), `SWITCHBOARD_BENCH_CONNECTIONS` (default 64),
//! `SWITCHBOARD_BENCH_SMOKE=1` (1 s, 8 connections, SQLite only, and it fails on any error: what
//! CI runs so the benchmark cannot rot). PostgreSQL rows need `SWITCHBOARD_TEST_POSTGRES_URL`
//! (default `postgres://postgres@127.0.0.1:5432/postgres`) to be reachable; else they are skipped.
//! `SWITCHBOARD_BENCH_ONLY=crowd` runs only the rows with many live sessions (their memory, and
//! rounds taking turns between one session and all of them on the same server: "lookup
//! unchanged");
//! `SWITCHBOARD_BENCH_ONLY=sqlite` only the SQLite server's rows (reads, switches, bare route);
//! `SWITCHBOARD_BENCH_ONLY=ratios` only the SQLite ratio goals, in rounds taking turns.
//!
//! The SQLite ratio goals are also measured in rounds that take turns (`RATIO_ROUNDS`, or
//! `SWITCHBOARD_BENCH_ROUNDS`: our read, our bare route, the baseline's read, again and again,
//! with both servers up), and their median printed: on a 2-core machine the same row moves by a third between runs minutes apart, and a
//! ratio of two rows run a minute apart moves with it.

mod load;

use load::*;
use std::net::SocketAddr;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Duration;
use switchboard::testing::TestDatabase;

/// `connections` clients switching one session's platform at once (unconditional switches, each
/// a new version and an audit row), for `seconds`. Also counts lost updates: switches answered
/// `200` that the session's version does not show.
async fn switch_storm(addr: SocketAddr, signed: &Signed, connections: u64, seconds: f64) -> (Figures, i64) {
    let request = one(switch_request(signed));
    warm_up(addr, &request, connections).await;
    let before = version(addr, &signed.cookie).await;
    let figures = measure(addr, request, connections, seconds).await;
    let after = version(addr, &signed.cookie).await;
    let lost = figures.ok as i64 - (after - before);
    (figures, lost)
}

fn postgres_reachable() -> Option<String> {
    let url = std::env::var("SWITCHBOARD_TEST_POSTGRES_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
    let host = url.split('@').nth(1)?.split('/').next()?.to_owned();
    let addr = if host.contains(':') { host } else { format!("{host}:5432") };
    let addr: SocketAddr = std::net::ToSocketAddrs::to_socket_addrs(&addr).ok()?.next()?;
    std::net::TcpStream::connect_timeout(&addr, Duration::from_secs(1))
        .ok()
        .map(|_| url)
}

struct Row {
    name: String,
    figures: Figures,
}

#[tokio::main(flavor = "multi_thread")]
async fn main() {
    let smoke = std::env::var("SWITCHBOARD_BENCH_SMOKE").is_ok_and(|v| v == "1");
    let (seconds, connections) = if smoke {
        (1.0, 8)
    } else {
        (
            env_number("SWITCHBOARD_BENCH_SECONDS", 5) as f64,
            env_number("SWITCHBOARD_BENCH_CONNECTIONS", 64),
        )
    };
    println!(
        "[hot_path] {connections} connections, {seconds} s a row, release builds, {} cores",
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    let mut rows = Vec::new();
    let mut switches = Vec::new();
    let mut peak_rss = Vec::new();

    let only = std::env::var("SWITCHBOARD_BENCH_ONLY").unwrap_or_default();
    let (only_crowd, only_sqlite) = (only == "crowd", only == "sqlite");
    if only == "ratios" {
        for line in interleaved_ratios(connections, seconds).await {
            println!("{line}");
        }
        return;
    }
    let mut backends = vec![("sqlite", TestDatabase::sqlite().await)];
    if only_crowd {
        backends.clear();
    } else if !smoke && !only_sqlite {
        match postgres_reachable() {
            Some(url) => {
                std::env::set_var("SWITCHBOARD_TEST_POSTGRES_URL", url);
                backends.push(("postgres", TestDatabase::postgres_database().await));
            }
            None => println!("[hot_path] PostgreSQL is not reachable: its rows are skipped"),
        }
    }
    for (backend, database) in &backends {
        for cache in [true, false] {
            if smoke && !cache {
                continue;
            }
            let addr = free_addr();
            let server = switchboard(addr, database.url(), cache);
            until_up(addr, "/health/live").await;
            // Each server signs up its own user (a fresh sign-in each time).
            let signed = sign_in(addr).await;
            let name = format!("Switchboard, {backend}, cache {}", if cache { "on" } else { "off" });
            let figures = drive(addr, get("/api/session_state", Some(&signed.cookie)), connections, seconds).await;
            rows.push(Row { name, figures });
            if cache {
                let (figures, lost) = switch_storm(addr, &signed, connections, seconds).await;
                println!("[hot_path] {backend}: {connections} concurrent switches of one session: {lost} lost updates");
                assert_eq!(lost, 0, "every acknowledged switch is a version");
                switches.push(Row {
                    name: format!("`POST /api/switch_platform`, {backend}, {connections} at once on one session"),
                    figures,
                });
            }
            if *backend == "sqlite" && cache {
                let figures = drive(addr, get("/health/live", None), connections, seconds).await;
                rows.push(Row {
                    name: "Switchboard, bare route (/health/live)".into(),
                    figures,
                });
            }
            peak_rss.push((
                format!("{backend}, cache {}", if cache { "on" } else { "off" }),
                server.peak_rss_mib(),
            ));
            drop(server);
            // The next server on this database signs up the same email: start over.
            reset(database).await;
        }
    }

    // Many live sessions: the cache holds them all, and a lookup should cost what it did for one.
    let crowd = if smoke {
        1_000
    } else {
        env_number("SWITCHBOARD_BENCH_SESSIONS", 100_000)
    };
    // The cache at its default size (every session fits), and at a fifth of the crowd.
    let mut crowd_rss = Vec::new();
    let capacities = if only_sqlite { vec![] } else { vec![None, Some(crowd / 5)] };
    for capacity in capacities {
        crowd_rss.push(crowd_rows(crowd, capacity, connections, seconds, &mut rows).await);
    }

    let mut ratio_lines = Vec::new();
    if !only_crowd && !only_sqlite {
        baseline_rows(connections, seconds, &mut rows).await;
        if !smoke {
            ratio_lines = interleaved_ratios(connections, seconds).await;
        }
    }

    print_table("authenticated `GET /api/session_state` | req/s", &rows);
    print_table("switching (goal: p99 ≤ 20 ms, no errors, no lost update) | switches/s", &switches);
    let rate = |name: &str| rows.iter().find(|r| r.name == name).map(|r| r.figures.per_second);
    let tower = rate("axum + tower-sessions 0.14, sqlx SQLite store");
    let bare = rate("Switchboard, bare route (/health/live)");
    println!();
    for (name, against, label) in [
        ("Switchboard, sqlite, cache on", tower, "× tower-sessions (goal ≥ 2)"),
        ("Switchboard, sqlite, cache on", bare, "× the bare route (goal ≥ 0.5)"),
        ("Switchboard, postgres, cache on", tower, "× tower-sessions (goal ≥ 1)"),
    ] {
        if let (Some(ours), Some(theirs)) = (rate(name), against) {
            println!("[hot_path] {name}: {:.2} {label}", ours / theirs);
        }
    }
    for line in ratio_lines {
        println!("{line}");
    }
    for (server, rss) in peak_rss {
        println!("[hot_path] peak RSS of the server ({server}): {rss:.1} MiB");
    }
    for line in crowd_rss {
        println!("{line}");
    }
    if smoke {
        for row in rows.iter().chain(&switches) {
            assert!(row.figures.ok > 0, "{}: no request succeeded", row.name);
            assert_eq!(row.figures.errors, 0, "{}: errors", row.name);
        }
    }
}

/// Many live sessions read in turn, with the cache holding `capacity` of them (`None`: the
/// default). Adds two rows; returns what the server's memory said.
async fn crowd_rows(crowd: u64, capacity: Option<u64>, connections: u64, seconds: f64, rows: &mut Vec<Row>) -> String {
    let database = TestDatabase::sqlite().await;
    let addr = free_addr();
    let capacity_env = capacity.map(|c| c.to_string());
    let env: Vec<_> = capacity_env.iter().map(|c| ("SWITCHBOARD_CACHE_CAPACITY", c.as_str())).collect();
    let server = switchboard_with(addr, database.url(), true, &env);
    let cached = capacity.map_or("every session cached".to_owned(), |c| format!("{c} cached"));
    until_up(addr, "/health/live").await;
    let rss_idle = server.rss_mib();
    let requests: Vec<_> = crowd_of(&database, crowd, Duration::ZERO)
        .await
        .iter()
        .map(|cookie| get("/api/session_state", Some(cookie)))
        .collect();
    let first = each_once(addr, &requests, connections).await;
    let rss_filled = server.rss_mib();
    rows.push(Row {
        name: format!("Switchboard, sqlite, {crowd} sessions ({cached}), the first read of each"),
        figures: first,
    });
    // Reads write nothing (beyond the throttled touch of `last_seen_at`, not due here: the crowd
    // was seen moments ago). `PRAGMA data_version` moves when another connection commits.
    let watch = database.connect(&switchboard::PoolSettings::default()).await;
    let mut watching = watch.reader().acquire().await.unwrap();
    let data_version = "PRAGMA data_version";
    let before: i64 = sqlx::query_scalar(data_version).fetch_one(&mut *watching).await.unwrap();
    let requests = Arc::new(requests);
    let again = measure(addr, requests.clone(), connections, seconds).await;
    let after: i64 = sqlx::query_scalar(data_version).fetch_one(&mut *watching).await.unwrap();
    let reads_wrote = after != before;
    drop(watching);
    watch.close().await;
    println!(
        "[hot_path] database commits during {} reads ({cached}): {}",
        again.ok,
        if reads_wrote {
            "some (PRAGMA data_version moved)"
        } else {
            "none (PRAGMA data_version unchanged)"
        }
    );
    rows.push(Row {
        name: format!("Switchboard, sqlite, {crowd} sessions ({cached}), read again in turn"),
        figures: again,
    });
    let mut line = format!(
        "[hot_path] RSS of the server with {crowd} live sessions, {cached} (goal ≤ 64 MiB): {rss_idle:.1} MiB before any \
         was read, {rss_filled:.1} once each was read, {:.1} after reading them again, peak {:.1}",
        server.rss_mib(),
        server.peak_rss_mib()
    );
    if capacity.is_none() && crowd > 1_000 {
        line.push_str(&crowd_against_one(addr, &requests, connections, seconds).await);
    }
    drop(server);
    line
}

/// "Lookup unchanged with many sessions", from rounds that take turns on the same server (as
/// [`interleaved_ratios`]): every connection reading one session, then the connections reading
/// all of `requests` in turn. Returns the lines to print.
async fn crowd_against_one(addr: SocketAddr, requests: &Arc<Vec<Arc<Vec<u8>>>>, connections: u64, seconds: f64) -> String {
    let crowd = requests.len();
    let rounds = env_number("SWITCHBOARD_BENCH_ROUNDS", RATIO_ROUNDS).max(1);
    let mut ratios = Vec::new();
    let mut lines = String::new();
    for round in 1..=rounds {
        let one = drive(addr, requests[0].clone(), connections, seconds).await;
        let all = measure(addr, requests.clone(), connections, seconds).await;
        assert_eq!(one.errors + all.errors, 0, "round {round}: errors");
        ratios.push(all.per_second / one.per_second);
        lines.push_str(&format!(
            "\n[hot_path] round {round}: one session {:.0} req/s (p99 {:.2} ms), {crowd} sessions in turn {:.0} req/s (p99 {:.2} ms)",
            one.per_second, one.p99_ms, all.per_second, all.p99_ms
        ));
    }
    lines.push_str(&format!(
        "\n[hot_path] lookups across {crowd} cached sessions: {}",
        median_of_rounds(&mut ratios, "× one session's (goal: unchanged)")
    ));
    lines
}

/// "`median` `label`, the median of N rounds taking turns (each, sorted)".
fn median_of_rounds(ratios: &mut [f64], label: &str) -> String {
    ratios.sort_by(f64::total_cmp);
    let each: Vec<String> = ratios.iter().map(|r| format!("{r:.2}")).collect();
    format!(
        "{:.2} {label}, the median of {} rounds taking turns ({})",
        ratios[ratios.len() / 2],
        ratios.len(),
        each.join(", ")
    )
}

/// The axum + tower-sessions baseline, up and signed in: its process (with the folder of its
/// database), address and session cookie.
async fn start_baseline() -> ((Process, tempfile::TempDir), SocketAddr, String) {
    let dir = tempfile::tempdir().unwrap();
    let addr = free_addr();
    let baseline = Process(
        Command::new(env!("CARGO_BIN_EXE_tower-baseline"))
            .arg(addr.to_string())
            .arg(dir.path().join("tower.db"))
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("the baseline binary"),
    );
    until_up(addr, "/bare").await;
    let res = reqwest::Client::new().post(format!("http://{addr}/login")).send().await.unwrap();
    let cookie = cookie_set_by(&res, "").expect("tower-sessions sets its cookie");
    ((baseline, dir), addr, cookie)
}

/// How many rounds [`interleaved_ratios`] takes, unless `SWITCHBOARD_BENCH_ROUNDS` says.
const RATIO_ROUNDS: u64 = 3;

/// The SQLite ratio goals from rounds that take turns (see the module documentation): each
/// round's ratios, and their medians.
async fn interleaved_ratios(connections: u64, seconds: f64) -> Vec<String> {
    let database = TestDatabase::sqlite().await;
    let addr = free_addr();
    let _server = switchboard(addr, database.url(), true);
    until_up(addr, "/health/live").await;
    let signed = sign_in(addr).await;
    let (_baseline, tower_addr, tower_cookie) = start_baseline().await;
    let (mut to_tower, mut to_bare) = (Vec::new(), Vec::new());
    let mut lines = Vec::new();
    let rounds = env_number("SWITCHBOARD_BENCH_ROUNDS", RATIO_ROUNDS).max(1);
    for round in 1..=rounds {
        let ours = drive(addr, get("/api/session_state", Some(&signed.cookie)), connections, seconds).await;
        let bare = drive(addr, get("/health/live", None), connections, seconds).await;
        let tower = drive(tower_addr, get("/api/session_state", Some(&tower_cookie)), connections, seconds).await;
        for f in [&ours, &bare, &tower] {
            assert_eq!(f.errors, 0, "round {round}: errors");
        }
        to_tower.push(ours.per_second / tower.per_second);
        to_bare.push(ours.per_second / bare.per_second);
        lines.push(format!(
            "[hot_path] round {round}: Switchboard, sqlite, cache on {:.0} req/s, its bare route {:.0}, tower-sessions {:.0}",
            ours.per_second, bare.per_second, tower.per_second
        ));
    }
    for (ratios, label) in [
        (&mut to_tower, "× tower-sessions (goal ≥ 2)"),
        (&mut to_bare, "× the bare route (goal ≥ 0.5)"),
    ] {
        lines.push(format!(
            "[hot_path] Switchboard, sqlite, cache on: {}",
            median_of_rounds(ratios, label)
        ));
    }
    lines
}

/// The axum + tower-sessions baseline: its session read and its bare route.
async fn baseline_rows(connections: u64, seconds: f64, rows: &mut Vec<Row>) {
    let (baseline, addr, cookie) = start_baseline().await;
    let figures = drive(addr, get("/api/session_state", Some(&cookie)), connections, seconds).await;
    rows.push(Row {
        name: "axum + tower-sessions 0.14, sqlx SQLite store".into(),
        figures,
    });
    let figures = drive(addr, get("/bare", None), connections, seconds).await;
    rows.push(Row {
        name: "axum + tower-sessions, bare route".into(),
        figures,
    });
    drop(baseline);
}

/// One Markdown table: `head` names the first two columns.
fn print_table(head: &str, rows: &[Row]) {
    println!();
    println!("| {head} | p50 ms | p99 ms | errors |");
    println!("| --- | --- | --- | --- | --- |");
    for row in rows {
        let f = &row.figures;
        println!(
            "| {} | {:.0} | {:.2} | {:.2} | {} |",
            row.name, f.per_second, f.p50_ms, f.p99_ms, f.errors
        );
    }
}

/// Empties the accounts a row created, so the next server can sign up again.
async fn reset(database: &TestDatabase) {
    let db = database.connect(&switchboard::PoolSettings::default()).await;
    for table in ["audit_events", "alerts", "drafts", "sessions", "platforms", "users"] {
        let _ = sqlx::query(&format!("DELETE FROM {table}")).execute(db.writer()).await;
    }
    db.close().await;
}
