//! Alert rules: a condition is raised once while it holds (however often the rules look), sent
//! to the webhook as `firing`, cleared when it no longer holds and sent again as `resolved`;
//! and raised anew when it comes back.

use crate::alerts::{receiver, wait_for};
use crate::requests::readiness;
use crate::support::{spawn_app, TestApp};
use std::time::{Duration, Instant};
use switchboard::alerts::AlertKind;
use switchboard::testing::TestDatabase;

/// Rules looked at often; throttles out of the way of a burst of failed logins.
const RULES: &[(&str, &str)] = &[
    ("SWITCHBOARD_ALERT_RULES_INTERVAL", "100ms"),
    ("SWITCHBOARD_THROTTLE_PAIR_LIMIT", "1000"),
    ("SWITCHBOARD_THROTTLE_ADDRESS_LIMIT", "1000"),
    ("SWITCHBOARD_THROTTLE_ADDRESS_SLOW_AFTER", "1000"),
    ("SWITCHBOARD_THROTTLE_ACCOUNT_SLOW_AFTER", "1000"),
];

/// What the alerts table holds of one kind, oldest first.
#[derive(Debug, sqlx::FromRow)]
struct Alert {
    id: i64,
    evidence: String,
    cleared_at: Option<i64>,
}

/// Read through the connection beside the pool: the pool's own may all be held.
async fn of_kind(app: &TestApp, kind: AlertKind) -> Vec<Alert> {
    sqlx::query_as("SELECT id, evidence, cleared_at FROM alerts WHERE kind = $1 ORDER BY id")
        .bind(kind.as_str())
        .fetch_all(app.state.ctx.engine.db().side())
        .await
        .unwrap()
}

/// Waits until `ready` holds of the alerts of `kind` (oldest first), and returns them.
async fn until(app: &TestApp, kind: AlertKind, what: &str, ready: impl Fn(&[Alert]) -> bool) -> Vec<Alert> {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let alerts = of_kind(app, kind).await;
        if ready(&alerts) {
            return alerts;
        }
        assert!(Instant::now() < deadline, "{what}: {alerts:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn fail_logins(app: &TestApp, times: usize) {
    let guesser = app.browser_from("127.0.0.9").await;
    for n in 0..times {
        guesser
            .post("/api/login", &[("email", &format!("nobody{n}@example.org")), ("password", "guess")])
            .await;
    }
}

async fn the_failed_login_rate_is_raised_once_cleared_and_raised_again(db: TestDatabase) {
    let hook = receiver(vec![200]).await;
    let mut env = RULES.to_vec();
    env.extend([
        ("SWITCHBOARD_ALERT_RULES_FAILED_LOGINS", "3"),
        ("SWITCHBOARD_ALERT_RULES_WINDOW", "60s"),
        ("SWITCHBOARD_ALERTS_WEBHOOK_URL", hook.url.as_str()),
    ]);
    let app = spawn_app(db, &env).await;
    let _rules = switchboard_server::spawn_alert_rules(&app.state).expect("alert rules are on");

    fail_logins(&app, 2).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(
        of_kind(&app, AlertKind::FailedLoginRate).await.is_empty(),
        "2 failed logins are below 3"
    );

    fail_logins(&app, 3).await;
    until(&app, AlertKind::FailedLoginRate, "raised", |a| !a.is_empty()).await;
    // Looked at several times more while it holds: still one alert, open.
    tokio::time::sleep(Duration::from_millis(600)).await;
    let raised = of_kind(&app, AlertKind::FailedLoginRate).await;
    assert_eq!(raised.len(), 1, "{raised:?}");
    assert_eq!(raised[0].cleared_at, None);
    let evidence: serde_json::Value = serde_json::from_str(&raised[0].evidence).unwrap();
    // As many as there were when a look first found 3 or more.
    let counted = evidence["failed_logins"].as_i64().unwrap();
    assert!((3..=5).contains(&counted), "{evidence}");
    assert_eq!(evidence["threshold"], 3);
    let sent = wait_for(&hook.bodies, 1).await;
    let sent: Vec<_> = sent.iter().filter(|b| b["kind"] == "failed_login_rate").collect();
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert_eq!(sent[0]["status"], "firing");
    assert_eq!(sent[0]["id"], raised[0].id);

    // The window passes without failures: cleared, and sent again as resolved.
    app.clock.advance(Duration::from_secs(61));
    let cleared = until(&app, AlertKind::FailedLoginRate, "cleared", |a| {
        a.len() == 1 && a[0].cleared_at.is_some()
    })
    .await;
    assert_eq!(cleared[0].id, raised[0].id);
    let deadline = Instant::now() + Duration::from_secs(10);
    let resolved = loop {
        let bodies = hook.bodies.lock().unwrap().clone();
        if let Some(body) = bodies.into_iter().find(|b| b["status"] == "resolved") {
            break body;
        }
        assert!(Instant::now() < deadline, "no resolved alert was sent");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(resolved["id"], raised[0].id);
    assert_eq!(resolved["kind"], "failed_login_rate");
    assert!(resolved["cleared_at"].is_string(), "{resolved}");
    // Administrators see it cleared, on the page and in the JSON.
    let mut admin = app.browser().await;
    admin.register("root@example.org").await;
    app.make_admin("root@example.org").await;
    let page = admin.get("/admin/alerts").await.text().await.unwrap();
    assert!(page.contains("failed_login_rate<br><small class=\"cleared\">cleared "), "{page}");
    let listed: Vec<serde_json::Value> = admin.get("/api/admin/alerts").await.json().await.unwrap();
    let listed = listed.iter().find(|a| a["id"] == raised[0].id).expect("listed");
    assert_eq!(listed["status"], "resolved");

    // It comes back: a new alert.
    fail_logins(&app, 3).await;
    let again = until(&app, AlertKind::FailedLoginRate, "raised again", |a| a.len() == 2).await;
    assert!(again[1].id > again[0].id && again[1].cleared_at.is_none(), "{again:?}");
}

/// A saturated pool is an alert (raised through a connection beside the pool: on PostgreSQL
/// the pool's own could not record it), and the 503s it causes are a 5xx rate; both clear.
async fn a_saturated_pool_and_its_errors_are_raised_and_cleared(db: TestDatabase) {
    let mut env = RULES.to_vec();
    env.extend([
        ("SWITCHBOARD_POOL_MAX_CONNECTIONS", "2"),
        ("SWITCHBOARD_ALERT_RULES_SERVER_ERRORS", "3"),
        ("SWITCHBOARD_ALERT_RULES_WINDOW", "3s"),
    ]);
    let app = spawn_app(db, &env).await;
    let _rules = switchboard_server::spawn_alert_rules(&app.state).expect("alert rules are on");
    let pool = app.state.ctx.engine.db().reader();
    let held = (pool.acquire().await.unwrap(), pool.acquire().await.unwrap());
    let saturated = until(&app, AlertKind::PoolSaturated, "pool saturation raised", |a| !a.is_empty()).await;
    let evidence: serde_json::Value = serde_json::from_str(&saturated[0].evidence).unwrap();
    assert_eq!(evidence["max_connections"], 2, "{evidence}");
    // Readiness answers 503 while the pool is saturated: three of them are a 5xx rate.
    for _ in 0..3 {
        assert_eq!(readiness(&app).await.0, reqwest::StatusCode::SERVICE_UNAVAILABLE);
    }
    until(&app, AlertKind::ServerErrorRate, "5xx rate raised", |a| !a.is_empty()).await;
    drop(held);
    let cleared = until(&app, AlertKind::PoolSaturated, "pool saturation cleared", |a| {
        a.len() == 1 && a[0].cleared_at.is_some()
    })
    .await;
    assert_eq!(cleared[0].id, saturated[0].id, "the same alert, cleared");
    // No more errors: once the window has passed, the rate clears too.
    until(&app, AlertKind::ServerErrorRate, "5xx rate cleared", |a| {
        a.len() == 1 && a[0].cleared_at.is_some()
    })
    .await;
}

/// `alert_rules.enabled = false`: no rules task, and a saturated pool raises nothing.
async fn alert_rules_turned_off_raise_nothing(db: TestDatabase) {
    let mut env = RULES.to_vec();
    env.extend([
        ("SWITCHBOARD_POOL_MAX_CONNECTIONS", "1"),
        ("SWITCHBOARD_ALERT_RULES_ENABLED", "false"),
    ]);
    let app = spawn_app(db, &env).await;
    assert!(switchboard_server::spawn_alert_rules(&app.state).is_none());
    let _held = app.state.ctx.engine.db().reader().acquire().await.unwrap();
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert!(of_kind(&app, AlertKind::PoolSaturated).await.is_empty());
}

switchboard::on_both_backends!(
    the_failed_login_rate_is_raised_once_cleared_and_raised_again,
    a_saturated_pool_and_its_errors_are_raised_and_cleared,
    alert_rules_turned_off_raise_nothing,
);
