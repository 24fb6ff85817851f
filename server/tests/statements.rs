//! How many SQL statements the hot paths run, counted from sqlx's own statement log (a tracing
//! subscriber for this test binary only): reading the session state runs none once the session
//! cache holds it (two reads without the cache, or right after a change) and writes nothing but
//! the throttled touch, and a switch checks ownership once, does not read back the row it just
//! updated nor the user its lookup read, and writes its audit record in the same transaction.

mod support;

use app::models::SessionState;
use std::sync::{Mutex, OnceLock};
use support::{ok, spawn_app, Browser};
use switchboard::testing::TestDatabase;
use tracing::field::{Field, Visit};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::Layer;

/// The statements run while recording, each with its log target (`sqlx::query`, or
/// `switchboard::store::local` for SQLite's reads on the caller's thread).
static RECORDED: Mutex<Option<Vec<(&'static str, String)>>> = Mutex::new(None);
/// The recorder is global: tests take turns.
static TURN: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

struct Recorder;

impl<S: tracing::Subscriber> Layer<S> for Recorder {
    fn on_event(&self, event: &tracing::Event<'_>, _: tracing_subscriber::layer::Context<'_, S>) {
        // sqlx's statements, and SQLite's reads on the caller's thread (`store/local.rs`).
        if !matches!(event.metadata().target(), "sqlx::query" | "switchboard::store::local") {
            return;
        }
        #[derive(Default)]
        struct Sql {
            summary: String,
            statement: String,
        }
        impl Visit for Sql {
            fn record_str(&mut self, field: &Field, value: &str) {
                match field.name() {
                    "summary" => self.summary = value.to_owned(),
                    "db.statement" => self.statement = value.trim().to_owned(),
                    _ => {}
                }
            }
            fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
                if field.name() == "summary" {
                    self.summary = format!("{value:?}");
                }
            }
        }
        let mut sql = Sql::default();
        event.record(&mut sql);
        let text = if sql.statement.is_empty() { sql.summary } else { sql.statement };
        // Connection set-up (SQLite's PRAGMAs) is not part of any request.
        if text.trim_start().to_ascii_uppercase().starts_with("PRAGMA") {
            return;
        }
        if let Some(list) = RECORDED.lock().unwrap().as_mut() {
            list.push((event.metadata().target(), text));
        }
    }
}

fn install_recorder() {
    static ONCE: OnceLock<()> = OnceLock::new();
    ONCE.get_or_init(|| tracing_subscriber::registry().with(Recorder).init());
}

/// The statements `work` ran.
async fn statements_of<F: std::future::Future>(work: F) -> (Vec<String>, F::Output) {
    let (list, out) = targeted_statements_of(work).await;
    (list.into_iter().map(|(_, text)| text).collect(), out)
}

/// The statements `work` ran, each with its log target.
async fn targeted_statements_of<F: std::future::Future>(work: F) -> (Vec<(&'static str, String)>, F::Output) {
    *RECORDED.lock().unwrap() = Some(Vec::new());
    let out = work.await;
    let list = RECORDED.lock().unwrap().take().unwrap_or_default();
    (list, out)
}

fn starts(statement: &str, prefix: &str) -> bool {
    statement.split_whitespace().collect::<Vec<_>>().join(" ").starts_with(prefix)
}

/// The cache's own bookkeeping: what a write transaction changed (PostgreSQL) and the change
/// log (SQLite).
fn is_bookkeeping(statement: &str) -> bool {
    statement.contains("current_setting('switchboard.changed'") || statement.contains("FROM cache_changes")
}

async fn signed_in_with_two_platforms(b: &mut Browser) -> SessionState {
    b.register("count@example.org").await;
    b.add_platform("One").await;
    b.add_platform("Two").await;
    // Warm up: connections open, statements prepared.
    b.state().await;
    b.state().await
}

/// Without the cache (or the first time after a change), the session state is two reads: the
/// session and its user in one statement, then the platforms.
async fn session_state_is_two_reads_without_the_cache(db: TestDatabase) {
    let _turn = TURN.lock().await;
    install_recorder();
    let app = spawn_app(db, &[("SWITCHBOARD_CACHE_ENABLED", "false")]).await;
    let mut b = app.browser().await;
    signed_in_with_two_platforms(&mut b).await;

    let (targeted, state) = targeted_statements_of(b.state()).await;
    assert_eq!(state.platforms.len(), 2);
    assert_eq!(state.user.email, "count@example.org");
    let statements: Vec<String> = targeted.iter().map(|(_, text)| text.clone()).collect();
    assert_two_reads(&statements);
    // SQLite reads both on the request's own thread (no trip to the pool's thread and back);
    // PostgreSQL through its pool.
    let expected = match app.state.ctx.engine.db().backend() {
        switchboard::Backend::Sqlite => "switchboard::store::local",
        switchboard::Backend::Postgres => "sqlx::query",
    };
    assert!(targeted.iter().all(|(target, _)| *target == expected), "{targeted:#?}");
}

fn assert_two_reads(statements: &[String]) {
    assert_eq!(statements.len(), 2, "GET /api/session_state: {statements:#?}");
    assert!(starts(&statements[0], "SELECT s.id, s.public_id"), "{statements:#?}");
    assert!(
        statements[0].contains("FROM sessions s JOIN users u") && statements[0].contains("WHERE s.token_hash"),
        "{statements:#?}"
    );
    assert!(statements[1].contains("FROM platforms"), "{statements:#?}");
}

/// With the cache, a session state read twice runs no statement the second time; after a change
/// (a platform renamed) the next read goes to the database once, and sees the change.
async fn session_state_comes_from_the_cache_until_it_changes(db: TestDatabase) {
    let _turn = TURN.lock().await;
    install_recorder();
    let app = spawn_app(db, &[]).await;
    let mut b = app.browser().await;
    let state = signed_in_with_two_platforms(&mut b).await;

    let (statements, cached) = statements_of(b.state()).await;
    assert!(statements.is_empty(), "a cached read ran: {statements:#?}");
    assert_same(&cached, &state);

    let platform = state.platforms[0].id.to_string();
    ok::<serde_json::Value>(
        b.post("/api/rename_platform", &[("platform_id", &platform), ("label", "Renamed")])
            .await,
    )
    .await;
    let (statements, renamed) = statements_of(b.state()).await;
    let work: Vec<String> = statements.into_iter().filter(|s| !is_bookkeeping(s)).collect();
    assert_two_reads(&work);
    assert_eq!(renamed.platforms[0].label, "Renamed");
    let (statements, again) = statements_of(b.state()).await;
    assert!(statements.is_empty(), "{statements:#?}");
    assert_same(&again, &renamed);
}

/// The same state (each answer masks the CSRF token anew).
fn assert_same(a: &SessionState, b: &SessionState) {
    assert_eq!((&a.user, &a.session, &a.platforms), (&b.user, &b.session, &b.platforms));
}

async fn a_switch_checks_ownership_once_and_reads_neither_session_nor_user_back(db: TestDatabase) {
    let _turn = TURN.lock().await;
    install_recorder();
    let app = spawn_app(db, &[]).await;
    let mut b = app.browser().await;
    let state = signed_in_with_two_platforms(&mut b).await;
    let target = state.platforms.iter().find(|p| Some(p.id) != state.platform_id()).unwrap().id;

    let fields = [
        ("platform_id", target.to_string()),
        ("expected_version", state.session.version.to_string()),
    ];
    let fields: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let (statements, res) = statements_of(b.post("/api/switch_platform", &fields)).await;
    let switched: SessionState = ok(res).await;
    assert_eq!(switched.platform_id(), Some(target));

    let session_reads = statements
        .iter()
        .filter(|s| starts(s, "SELECT") && s.contains("FROM sessions"))
        .count();
    assert!(
        session_reads <= 1,
        "only the request's own lookup reads the session: {statements:#?}"
    );
    let updates: Vec<_> = statements.iter().filter(|s| s.contains("UPDATE sessions")).collect();
    assert_eq!(updates.len(), 1, "{statements:#?}");
    assert!(updates[0].contains("RETURNING"), "the update answers the new row: {statements:#?}");
    let ownership = statements.iter().filter(|s| s.contains("FROM platforms WHERE id")).count();
    assert_eq!(ownership, 1, "ownership is checked once, inside the update: {statements:#?}");
    let audit = statements.iter().filter(|s| s.contains("INSERT INTO audit_events")).count();
    assert_eq!(audit, 1, "the switch is recorded once, with the change: {statements:#?}");
    assert!(
        updates[0].contains("INSERT INTO audit_events"),
        "the update and its audit row are one trip to the database (a statement list on SQLite, \
         one statement on PostgreSQL): {statements:#?}"
    );
    let user_reads = statements
        .iter()
        .filter(|s| starts(s, "SELECT") && s.contains("FROM users"))
        .count();
    assert_eq!(
        user_reads, 0,
        "the user was read with the session by the request's lookup, not again: {statements:#?}"
    );
    let work: Vec<_> = statements
        .iter()
        .filter(|s| !is_transaction_control(s) && !is_bookkeeping(s))
        .collect();
    assert!(
        work.len() <= 3,
        "(session lookup, cached here), update with its audit row, platforms: {work:#?}"
    );
}

/// `BEGIN`, `COMMIT`, and the savepoint each transaction's work runs in on SQLite (group
/// commit).
fn is_transaction_control(statement: &str) -> bool {
    ["BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE"]
        .iter()
        .any(|w| starts(statement, w))
}

fn is_write(statement: &str) -> bool {
    ["INSERT", "UPDATE", "DELETE"]
        .iter()
        .any(|w| starts(&statement.to_ascii_uppercase(), w))
}

/// 1,000 reads of the session state (and of the pages' own check) write nothing, and, served by
/// the cache, read nothing either; the touch that keeps the session alive is one `UPDATE` per
/// `touch_interval` (60 s), not one per request.
async fn reads_write_nothing_but_the_throttled_touch(db: TestDatabase) {
    let _turn = TURN.lock().await;
    install_recorder();
    let app = spawn_app(db, &[]).await;
    let mut b = app.browser().await;
    signed_in_with_two_platforms(&mut b).await;

    let reads = async {
        for _ in 0..500 {
            b.state().await;
            b.check().await;
        }
    };
    let (statements, ()) = statements_of(reads).await;
    let writes: Vec<_> = statements.iter().filter(|s| is_write(s)).collect();
    assert!(writes.is_empty(), "1,000 reads wrote: {writes:#?}");
    assert!(statements.is_empty(), "1,000 cached reads ran {} statements", statements.len());

    app.clock.advance(std::time::Duration::from_secs(61));
    let (statements, ()) = statements_of(async {
        for _ in 0..10 {
            b.state().await;
        }
    })
    .await;
    let writes: Vec<_> = statements.iter().filter(|s| is_write(s)).collect();
    assert_eq!(writes.len(), 1, "one touch a minute later: {writes:#?}");
    assert!(starts(writes[0], "UPDATE sessions SET last_seen_at"), "{writes:#?}");
}

switchboard::on_both_backends!(
    session_state_is_two_reads_without_the_cache,
    session_state_comes_from_the_cache_until_it_changes,
    a_switch_checks_ownership_once_and_reads_neither_session_nor_user_back,
    reads_write_nothing_but_the_throttled_touch,
);
