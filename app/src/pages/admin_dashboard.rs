//! `/admin/dashboard` (administrators): how sessions are doing now and over the last hour:
//! live sessions, logins a minute, switch latency, server errors, pool use and the recent
//! alerts, each figure with a chart of its history.
//!
//! The server samples the figures every `dashboard.interval` into a ring buffer ([`History`],
//! `server/src/dashboard.rs`). The page's content is rendered on the server ([`render`], through
//! `pages::page_fragment`), so it reads without JavaScript; `/dashboard.js` (a few lines, not
//! WASM: the browser build stays as small as it is) then replaces it with each new rendering
//! that `GET /api/admin/dashboard/events` (Server-Sent Events) pushes.

use super::admin::admin_shell;
use leptos::prelude::*;

#[component]
pub fn AdminDashboardPage() -> impl IntoView {
    view! {
        {admin_shell("Dashboard", "Dashboard · Switchboard", "admin_dashboard")}
        <script type="module" src="/dashboard.js"></script>
    }
}

#[cfg(feature = "ssr")]
pub use live::*;

#[cfg(feature = "ssr")]
mod live {
    use crate::auth::ssr::RequestContext;
    use crate::error::ApiError;
    use crate::models::Timestamp;
    use crate::pages::sessions::render::when;
    use leptos::prelude::*;
    use switchboard::alerts::Alert;

    pub use crate::dashboard::{History, Sample};

    /// The figures as they are now, rendered (the page's content, and each pushed event).
    pub fn render_history(history: &History) -> String {
        let (samples, alerts, every) = history.snapshot();
        render(&samples, &alerts, every)
    }

    /// The page's content (administrators only).
    pub(crate) async fn fragment(cx: &RequestContext) -> Result<String, ApiError> {
        cx.require_admin("dashboard").await?;
        Ok(render_history(&cx.app.dashboard))
    }

    /// A chart's width and height in its own units (it stretches to its box).
    const CHART: (f64, f64) = (240.0, 48.0);

    /// The points of a line through `values` (oldest first) across the chart, scaled so that
    /// `top` is the chart's top; a missing value breaks nothing, it is left out.
    pub fn points(values: &[Option<f64>], top: f64) -> String {
        let (width, height) = CHART;
        let step = width / (values.len().max(2) - 1) as f64;
        let top = if top > 0.0 { top } else { 1.0 };
        let mut out = String::new();
        for (i, value) in values.iter().enumerate() {
            if let Some(v) = value {
                let y = height - (v / top).clamp(0.0, 1.0) * height;
                if !out.is_empty() {
                    out.push(' ');
                }
                out.push_str(&format!("{:.1},{:.1}", i as f64 * step, y));
            }
        }
        out
    }

    /// One figure: its name, its value now, what the value means, and a chart of its history
    /// (one or two lines: `(class, values)`).
    fn tile(name: &'static str, now: String, note: String, lines: Vec<(&'static str, Vec<Option<f64>>)>) -> impl IntoView {
        let top = lines.iter().flat_map(|(_, v)| v.iter().flatten()).fold(0.0_f64, |a, &b| a.max(b));
        let label = format!("{name}, the last {} samples; highest {}", lines[0].1.len(), figure(top));
        let (width, height) = CHART;
        view! {
            <figure class="tile">
                <figcaption>{name}</figcaption>
                <strong class="now">{now}</strong>
                <span class="meta">{note}</span>
                <svg viewBox=format!("0 0 {width} {height}") preserveAspectRatio="none" role="img" aria-label=label>
                    {lines.into_iter().map(|(class, values)| view! {
                        <polyline class=class points=points(&values, top) vector-effect="non-scaling-stroke"/>
                    }).collect_view()}
                </svg>
            </figure>
        }
    }

    /// A rate or latency as shown: whole numbers from 10 (and 0), one decimal below.
    fn figure(v: f64) -> String {
        if v >= 10.0 || v == 0.0 {
            format!("{v:.0}")
        } else {
            format!("{v:.1}")
        }
    }

    /// The dashboard's live part, from `samples` (oldest first) taken `every` so often.
    pub fn render(samples: &[Sample], alerts: &[Alert], every: std::time::Duration) -> String {
        let last = samples.last().copied().unwrap_or_default();
        let series = |f: fn(&Sample) -> Option<f64>| samples.iter().map(f).collect::<Vec<_>>();
        let ms = |v: Option<f64>| v.map_or("—".to_owned(), |v| format!("{} ms", figure(v)));
        let span = every.as_secs_f64() * samples.len() as f64 / 60.0;
        let updated = if samples.is_empty() {
            "No sample yet: the first comes within one interval.".to_owned()
        } else {
            format!(
                "Updated {} · a sample every {} s · the last {} minutes",
                when(last.at),
                every.as_secs_f64(),
                figure(span)
            )
        };
        let tiles = vec![
            tile(
                "Live sessions",
                last.live_sessions.to_string(),
                "not ended, within both deadlines".to_owned(),
                vec![("a", series(|s| Some(s.live_sessions as f64)))],
            )
            .into_any(),
            tile(
                "Logins a minute",
                figure(last.logins_per_minute),
                format!("and {} failed", figure(last.failed_logins_per_minute)),
                vec![
                    ("a", series(|s| Some(s.logins_per_minute))),
                    ("b", series(|s| Some(s.failed_logins_per_minute))),
                ],
            )
            .into_any(),
            tile(
                "Switch latency",
                ms(last.switch_p50_ms),
                format!("p50; p95 {} ({} switches)", ms(last.switch_p95_ms), last.switches),
                vec![("a", series(|s| s.switch_p50_ms)), ("b", series(|s| s.switch_p95_ms))],
            )
            .into_any(),
            tile(
                "Server errors a minute",
                figure(last.server_errors_per_minute),
                "answers with a 5xx status".to_owned(),
                vec![("b", series(|s| Some(s.server_errors_per_minute)))],
            )
            .into_any(),
            tile(
                "Pool use",
                format!("{} of {}", last.pool_busy, last.pool_max),
                format!("read connections busy ({} open)", last.pool_open),
                vec![
                    ("a", series(|s| Some(s.pool_busy as f64))),
                    ("b", series(|s| Some(s.pool_max as f64))),
                ],
            )
            .into_any(),
        ];
        let no_alerts = alerts.is_empty();
        let alerts = alerts
            .iter()
            .map(|a| {
                let open = a.cleared_at.is_none();
                let state = match a.cleared_at {
                    Some(t) => format!("cleared {}", when(Timestamp(t.millis()))),
                    None => "open".to_owned(),
                };
                view! {
                    <li class=format!("severity-{}{}", a.severity.as_str(), if open { " open" } else { "" })>
                        <strong>{a.kind.as_str()}</strong>
                        " " {a.severity.as_str()} " · " {when(Timestamp(a.at.millis()))} " · " {state}
                        {a.ip.clone().map(|ip| format!(" · {ip}"))}
                    </li>
                }
            })
            .collect_view();
        view! {
            <section id="dashboard-live" aria-label="Live figures">
                <div class="tiles">{tiles}</div>
                <h2>"Recent alerts"</h2>
                {no_alerts.then(|| view! { <p class="empty">"No alerts."</p> })}
                <ul class="recent-alerts" aria-label="Recent alerts">{alerts}</ul>
                <p class="meta"><a href="/admin/alerts">"All alerts"</a> " · " {updated}</p>
            </section>
        }
        .to_html()
    }

    #[cfg(test)]
    mod tests {
        use super::*;
        use std::time::Duration;
        use switchboard::alerts::{AlertKind, Severity};

        fn sample(n: u64) -> Sample {
            Sample {
                at: Timestamp(1_800_000_000_000 + n as i64 * 5000),
                live_sessions: n,
                logins_per_minute: 12.0,
                failed_logins_per_minute: 0.5,
                switches: 3,
                switch_p50_ms: Some(1.5),
                switch_p95_ms: Some(4.0),
                server_errors_per_minute: 0.0,
                pool_busy: 1,
                pool_open: 4,
                pool_max: 16,
            }
        }

        #[test]
        fn lines_span_the_chart_and_skip_missing_values() {
            assert_eq!(points(&[Some(0.0), Some(10.0)], 10.0), "0.0,48.0 240.0,0.0");
            assert_eq!(points(&[Some(5.0), None, Some(5.0)], 10.0), "0.0,24.0 240.0,24.0");
            // Nothing above zero: a flat line at the bottom, not a division by zero.
            assert_eq!(points(&[Some(0.0), Some(0.0)], 0.0), "0.0,48.0 240.0,48.0");
            assert_eq!(points(&[Some(3.0)], 3.0), "0.0,0.0");
        }

        #[test]
        fn the_rendering_shows_the_newest_figures_and_escapes_what_it_shows() {
            let alert = Alert {
                id: 1,
                at: switchboard::Timestamp(1_800_000_000_000),
                kind: AlertKind::PoolSaturated,
                severity: Severity::Critical,
                user: None,
                session: None,
                ip: Some("<script>".into()),
                evidence: "{}".into(),
                cleared_at: None,
            };
            let html = render(&[sample(1), sample(7)], &[alert], Duration::from_secs(5));
            assert!(html.contains("Live sessions"), "{html}");
            assert!(html.contains(r#"<strong class="now">7</strong>"#), "{html}");
            assert!(html.contains(r#"<strong class="now">1.5 ms</strong>"#), "p50 {html}");
            assert!(html.contains("p95 4.0 ms (3 switches)"), "{html}");
            assert!(html.contains("1 of 16"), "{html}");
            assert!(html.contains("pool_saturated"), "{html}");
            assert!(html.contains("severity-critical open"), "{html}");
            assert!(!html.contains("<script>"), "{html}");
            assert!(render(&[], &[], Duration::from_secs(5)).contains("No sample yet"));
        }
    }
}
