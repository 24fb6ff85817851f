//! The soak: the release server on SQLite under a steady mixed load at 70% of the capacity this
//! run measures first, for `SWITCHBOARD_SOAK_SECONDS` (default 600), one row every 30 s: what was
//! served, the latency, errors, and the server's resident memory. Memory must stay flat (the last
//! window within 10% of the second, after the caches have filled) and no request may fail.
//!
//! The mix: 19 in 20 requests read the state of one of 10,000 sessions in turn
//! (`GET /api/session_state`; each session's `last_seen_at` touch falls due once a minute, spread
//! out), 1 in 20 switches one signed-in user's platform (a write with its audit row). `make bench` runs it after the other benchmarks; alone:
//! `cargo bench -p server --bench soak`.

mod load;

use load::*;
use std::sync::Arc;
use std::time::Duration;
use switchboard::testing::TestDatabase;

const WINDOW_SECONDS: u64 = 30;
/// The server's `touch_interval`: the crowd was last seen over this much time, so their touches
/// fall due spread out, as real users' do (all at once, they queue behind the one writer).
const TOUCH_INTERVAL: Duration = Duration::from_secs(60);

#[tokio::main(flavor = "multi_thread")]
async fn main() {
    let seconds = env_number("SWITCHBOARD_SOAK_SECONDS", 600).max(2 * WINDOW_SECONDS);
    let connections = env_number("SWITCHBOARD_BENCH_CONNECTIONS", 64);
    let database = TestDatabase::sqlite().await;
    let addr = free_addr();
    let server = switchboard(addr, database.url(), true);
    until_up(addr, "/health/live").await;
    let signed = sign_in(addr).await;
    let switch = switch_request(&signed);
    let mut requests = Vec::new();
    for (i, cookie) in crowd_of(&database, 10_000, TOUCH_INTERVAL).await.iter().enumerate() {
        requests.push(get("/api/session_state", Some(cookie)));
        if i % 19 == 18 {
            requests.push(switch.clone());
        }
    }
    let requests = Arc::new(requests);

    warm_up(addr, &requests, connections).await;
    let capacity = measure(addr, requests.clone(), connections, 5.0).await.per_second;
    let rate = capacity * 0.7;
    let every = Duration::from_secs_f64(connections as f64 / rate);
    println!("[soak] capacity {capacity:.0} req/s (closed loop, {connections} connections); {seconds} s at {rate:.0} req/s");
    println!();
    println!("| minute | req/s | p50 ms | p99 ms | errors | RSS MiB |");
    println!("| --- | --- | --- | --- | --- | --- |");
    let mut memory = Vec::new();
    let mut errors = 0;
    for window in 0..seconds / WINDOW_SECONDS {
        let f = measure_paced(addr, requests.clone(), connections, WINDOW_SECONDS as f64, Some(every)).await;
        let rss = server.rss_mib();
        println!(
            "| {:.1} | {:.0} | {:.2} | {:.2} | {} | {rss:.1} |",
            ((window + 1) * WINDOW_SECONDS) as f64 / 60.0,
            f.per_second,
            f.p50_ms,
            f.p99_ms,
            f.errors
        );
        errors += f.errors;
        memory.push(rss);
    }
    let (settled, last) = (memory[1], memory[memory.len() - 1]);
    println!();
    println!(
        "[soak] RSS {settled:.1} MiB after the first minute, {last:.1} MiB at the end ({:+.1}%), peak {:.1}; {errors} errors",
        (last / settled - 1.0) * 100.0,
        server.peak_rss_mib()
    );
    assert_eq!(errors, 0, "no request fails under a steady load");
    assert!(
        last <= settled * 1.10,
        "memory grew under a steady load: {settled:.1} → {last:.1} MiB"
    );
}
