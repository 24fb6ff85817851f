//! Alerts leave the process here: each is POSTed as JSON to `alerts.webhook_url` by one
//! background task, through a bounded queue, so a slow or hanging receiver never blocks or slows
//! a request: a full queue drops the delivery (the alert is still recorded and logged).

use crate::config::{read_ca_file, AlertsConfig};
use std::sync::Arc;
use std::time::Duration;
use switchboard::alerts::{Alert, AlertListener};
use tokio::sync::mpsc;

/// The alert as the webhook receives it.
pub fn alert_json(alert: &Alert) -> serde_json::Value {
    let evidence = serde_json::from_str::<serde_json::Value>(&alert.evidence).unwrap_or_else(|_| alert.evidence.clone().into());
    serde_json::json!({
        "id": alert.id,
        "at": app::models::Timestamp(alert.at.millis()).to_string(),
        "kind": alert.kind.as_str(),
        "severity": alert.severity.as_str(),
        "user_id": alert.user.map(|u| u.get()),
        "session_public_id": alert.session.as_ref().map(|s| s.as_str()),
        "ip": alert.ip,
        "evidence": evidence,
        // Alert rules' alerts are sent twice: raised ("firing"), then cleared ("resolved").
        "status": if alert.cleared_at.is_some() { "resolved" } else { "firing" },
        "cleared_at": alert.cleared_at.map(|t| app::models::Timestamp(t.millis()).to_string()),
    })
}

/// The webhook's client: HTTPS certificates must chain to Mozilla's roots, the system's, or
/// `webhook_ca_file`'s; every attempt ends within `webhook_timeout`.
fn client(config: &AlertsConfig) -> Result<reqwest::Client, String> {
    let mut builder = reqwest::Client::builder()
        .timeout(config.webhook_timeout.0)
        .https_only(config.webhook_url.as_deref().is_some_and(|u| u.starts_with("https://")));
    if let Some(path) = &config.webhook_ca_file {
        for cert in read_ca_file(path)? {
            builder = builder.add_root_certificate(cert);
        }
    }
    builder.build().map_err(|e| e.to_string())
}

/// The listener that queues alerts for the webhook, and starts its delivery task; `None` when no
/// webhook is configured (or its client cannot be made, which is logged). Call within the runtime.
pub fn webhook(config: &AlertsConfig) -> Option<AlertListener> {
    let url = config.webhook_url.clone()?;
    let client = match client(config) {
        Ok(client) => client,
        Err(e) => {
            tracing::error!(error = %e, "cannot start the alert webhook");
            return None;
        }
    };
    let (tx, rx) = mpsc::channel::<Alert>(config.webhook_queue);
    tokio::spawn(deliver(rx, client, url, config.webhook_retries));
    Some(Arc::new(move |alert: &Alert| {
        if tx.try_send(alert.clone()).is_err() {
            tracing::warn!(
                alert_id = alert.id,
                "the alert webhook queue is full: this alert is recorded and logged but not sent"
            );
        }
    }))
}

async fn deliver(mut queue: mpsc::Receiver<Alert>, client: reqwest::Client, url: String, retries: u32) {
    while let Some(alert) = queue.recv().await {
        let body = alert_json(&alert).to_string();
        for attempt in 0..=retries {
            let sent = client
                .post(&url)
                .header(http::header::CONTENT_TYPE, "application/json")
                .body(body.clone())
                .send()
                .await;
            match sent {
                Ok(res) if res.status().is_success() => break,
                Ok(res) => tracing::warn!(
                    alert_id = alert.id,
                    attempt,
                    status = res.status().as_u16(),
                    "the alert webhook refused"
                ),
                Err(e) => tracing::warn!(alert_id = alert.id, attempt, error = %e, "the alert webhook did not answer"),
            }
            if attempt < retries {
                tokio::time::sleep(Duration::from_millis(200) * 2u32.pow(attempt)).await;
            } else {
                tracing::error!(alert_id = alert.id, "the alert was not delivered to the webhook");
            }
        }
    }
}
