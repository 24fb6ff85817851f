//! `GET /api/openapi.json`: the HTTP API as an OpenAPI 3.1 document, made from the code. The
//! server functions come from the registry (`app::registry::endpoints`: path, method, the fields
//! their argument structs read, the schema of what they answer, derived from `app::models`);
//! the few routes axum serves itself are described here, next to nothing else. Every error is the
//! one `ApiError` shape, at the statuses its codes map to (`ErrorCode::status`).
//!
//! `scripts/test.sh` runs schemathesis against this document on a live server: every answer it
//! provokes must be documented here, status, type and shape.

use crate::AppState;
use app::error::{ApiError, ErrorCode};
use app::models::AuditEventView;
use app::registry::{endpoints, Endpoint, Input, InputKind, NamedSchemas};
use axum::extract::State;
use axum::response::IntoResponse;
use axum::Json;
use http::Method;
use serde_json::{json, Map, Value};
use server_fn::ServerFn;
use std::collections::BTreeSet;
use utoipa::{PartialSchema, ToSchema};

pub const PATH: &str = "/api/openapi.json";

pub async fn document(State(state): State<AppState>) -> impl IntoResponse {
    Json(build(state.ctx.cookies.session_name()))
}

/// The document, for a server whose session cookie is `session_cookie`.
pub fn build(session_cookie: &str) -> Value {
    let mut named = NamedSchemas::new();
    <ApiError as ToSchema>::schemas(&mut named);
    named.push((ApiError::name().into_owned(), ApiError::schema()));
    // The audit export answers what `security_events` lists.
    named.push((AuditEventView::name().into_owned(), AuditEventView::schema()));

    let mut paths = Map::new();
    for endpoint in endpoints() {
        let operation = server_function(endpoint, &mut named);
        let method = endpoint.method.as_str().to_ascii_lowercase();
        paths.insert(endpoint.path.to_owned(), json!({ method: operation }));
    }
    for (path, operation) in routes() {
        paths.insert(path.to_owned(), json!({ "get": operation }));
    }

    let schemas: Map<String, Value> = named
        .into_iter()
        .map(|(name, schema)| (name, serde_json::to_value(schema).expect("schemas are JSON")))
        .collect();
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "Switchboard",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Session management for a web app with several platform connections. \
                Server functions under /api take form-encoded fields (a query string for GET, an \
                application/x-www-form-urlencoded body for POST) and answer JSON. A POST needs the \
                CSRF token (X-CSRF-Token header or csrf_token field; GET /api/csrf gives it). A plain \
                HTML form post (Accept: text/html) is answered with a redirect instead. Every error \
                is {\"error\": {\"code\", \"message\", ...}}; docs/API.md describes each endpoint and code.",
        },
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {
                "session": {
                    "type": "apiKey",
                    "in": "cookie",
                    "name": session_cookie,
                    "description": "The session cookie, set by login and register (HttpOnly).",
                },
                "csrf": {
                    "type": "apiKey",
                    "in": "header",
                    "name": "X-CSRF-Token",
                    "description": "The caller's CSRF token (GET /api/csrf, or csrf_token in any session state). \
                        Every POST needs it, here or as the csrf_token field.",
                },
            },
        },
    })
}

fn server_function(endpoint: &Endpoint, named: &mut NamedSchemas) -> Value {
    let ok = serde_json::to_value((endpoint.output)(named)).expect("schemas are JSON");
    let post = endpoint.method == Method::POST;
    let mut responses = errors(!post);
    responses.insert(
        "200".into(),
        json!({ "description": "Done", "content": { "application/json": { "schema": ok } } }),
    );
    if post {
        for status in ["302", "303"] {
            responses.insert(
                status.into(),
                json!({
                    "description": "A plain HTML form post (Accept: text/html) is sent back to the page",
                    "headers": { "Location": { "schema": { "type": "string" } } },
                }),
            );
        }
    }
    // Signing in starts from a pre-session (its cookie is set by any first request, with the
    // token bound to it); every other change needs the session; a read may go without.
    let signs_in = [app::functions::Login::PATH, app::functions::Register::PATH].contains(&endpoint.path);
    let security = match (post, signs_in) {
        (true, true) => json!([{ "session": [], "csrf": [] }, { "csrf": [] }]),
        (true, false) => json!([{ "session": [], "csrf": [] }]),
        (false, _) => json!([{ "session": [] }, {}]),
    };
    // `/api/admin/revoke_session` → `admin_revoke_session`: unique, as paths are.
    let id = endpoint.path.trim_start_matches("/api/").replace('/', "_");
    let mut operation = json!({
        "operationId": id,
        "summary": endpoint.summary,
        "responses": responses,
        "security": security,
    });
    if post {
        let mut properties = Map::new();
        for input in endpoint.inputs {
            properties.insert(input.name.into(), input_schema(input));
        }
        properties.insert(
            "csrf_token".into(),
            json!({ "type": "string", "description": "The CSRF token, when not sent as X-CSRF-Token" }),
        );
        let required: Vec<&str> = endpoint.inputs.iter().filter(|i| i.required).map(|i| i.name).collect();
        operation["requestBody"] = json!({
            "required": !required.is_empty(),
            "content": { "application/x-www-form-urlencoded": { "schema": {
                "type": "object",
                "properties": properties,
                "required": required,
                "additionalProperties": false,
            } } },
        });
    } else if !endpoint.inputs.is_empty() {
        operation["parameters"] = endpoint
            .inputs
            .iter()
            .map(|i| json!({ "name": i.name, "in": "query", "required": i.required, "schema": input_schema(i) }))
            .collect();
    }
    operation
}

fn input_schema(input: &Input) -> Value {
    let schema = match input.kind {
        InputKind::Text => return json!({ "type": "string" }),
        InputKind::Boolean => json!({ "type": "boolean" }),
        InputKind::Integer { min, max } => json!({ "type": "integer", "minimum": bound(min), "maximum": bound(max) }),
    };
    // A form's empty field is read as left out.
    if input.required {
        schema
    } else {
        or_empty(schema)
    }
}

/// `schema`, or the empty text.
fn or_empty(schema: Value) -> Value {
    json!({ "anyOf": [schema, { "type": "string", "maxLength": 0 }] })
}

fn bound(n: i128) -> Value {
    i64::try_from(n)
        .map(Value::from)
        .or_else(|_| u64::try_from(n).map(Value::from))
        .unwrap_or(Value::Null)
}

/// The error answers: one per status the server's codes map to; a read has no body, so no
/// body errors (408, 413, 415).
fn errors(read: bool) -> Map<String, Value> {
    let browser_only = [ErrorCode::NetworkError, ErrorCode::BadResponse, ErrorCode::Unknown];
    let body_only = [
        ErrorCode::RequestTimeout,
        ErrorCode::PayloadTooLarge,
        ErrorCode::UnsupportedMediaType,
    ];
    let mut by_status: std::collections::BTreeMap<u16, BTreeSet<&str>> = Default::default();
    for code in ErrorCode::ALL.iter().filter(|c| !browser_only.contains(c)) {
        if read && body_only.contains(code) {
            continue;
        }
        by_status.entry(code.status()).or_default().insert(code.as_str());
    }
    by_status
        .into_iter()
        .map(|(status, codes)| {
            let codes: Vec<&str> = codes.into_iter().collect();
            let mut response = json!({
                "description": format!("Refused: {}", codes.join(", ")),
                "content": { "application/json": { "schema": { "$ref": "#/components/schemas/ApiError" } } },
            });
            if matches!(status, 429 | 503) {
                response["headers"] = json!({ "Retry-After": {
                    "description": "Seconds to wait before trying again (too_many_attempts, busy)",
                    "schema": { "type": "integer" },
                } });
            }
            (status.to_string(), response)
        })
        .collect()
}

/// The routes axum serves itself (`server/src/http/mod.rs`).
fn routes() -> Vec<(&'static str, Value)> {
    let text = |description: &str| json!({ "type": "string", "description": description });
    let admin = |summary: &str, parameters: Value, ok: Value| {
        let mut responses = errors(true);
        responses.insert("200".into(), ok);
        json!({ "summary": summary, "parameters": parameters, "responses": responses, "security": [{ "session": [] }] })
    };
    let query = |name: &str, schema: Value| json!({ "name": name, "in": "query", "required": false, "schema": schema });
    let positive = json!({ "type": "integer", "minimum": 1, "maximum": i64::MAX });
    // The export's filters come from a form, whose empty fields mean "any".
    let nullable = |t: &str| json!({ "type": [t, "null"] });
    let event_stream =
        |description: &str| json!({ "description": description, "content": { "text/event-stream": { "schema": { "type": "string" } } } });
    let health = |summary: &str, ok: Value, unavailable: Option<&str>| {
        let mut responses = Map::new();
        responses.insert(
            "200".into(),
            json!({ "description": "Healthy", "content": { "application/json": { "schema": ok.clone() } } }),
        );
        if let Some(why) = unavailable {
            responses.insert(
                "503".into(),
                json!({ "description": why, "content": { "application/json": { "schema": ok } } }),
            );
        }
        json!({ "summary": summary, "responses": responses, "security": [{}] })
    };
    let status_object = json!({ "type": "object", "required": ["status"], "properties": { "status": { "type": "string" } } });

    vec![
        (
            "/api/csrf",
            json!({
                "summary": "The caller's CSRF token (and, before login, the pre-session cookie it is bound to)",
                "security": [{ "session": [] }, {}],
                "responses": { "200": { "description": "The token", "content": { "application/json": { "schema": {
                    "type": "object", "required": ["csrf_token"], "properties": { "csrf_token": text("Send as X-CSRF-Token") },
                } } } } },
            }),
        ),
        (app::registry::SESSION_EVENTS, {
            let mut responses = errors(true);
            responses.insert(
                "200".into(),
                event_stream("Server-Sent Events: each event is a change to the session (state, ended); reconnect with Last-Event-ID"),
            );
            json!({
                "summary": "The push stream of session changes (held by each browser's leader tab)",
                "parameters": [{ "name": "Last-Event-ID", "in": "header", "required": false, "schema": { "type": "string" } }],
                "responses": responses,
                "security": [{ "session": [] }],
            })
        }),
        (
            "/api/admin/audit",
            admin(
                "Administrators: the audit log as a file (CSV or JSON), streamed",
                json!([
                    query("format", json!({ "type": "string", "enum": ["csv", "json"] })),
                    query("user_id", or_empty(positive.clone())),
                    query("kind", text("An audit event kind (docs/API.md)")),
                    query("from", or_empty(json!({ "type": "string", "format": "date-time" }))),
                    query("to", or_empty(json!({ "type": "string", "format": "date-time" }))),
                ]),
                json!({ "description": "The matching records, newest first", "content": {
                    "application/json": { "schema": { "type": "array", "items": { "$ref": "#/components/schemas/AuditEventView" } } },
                    "text/csv": { "schema": { "type": "string" } },
                } }),
            ),
        ),
        (
            "/api/admin/alerts",
            admin(
                "Administrators: alerts, newest first",
                json!([query("before_id", positive.clone()), query("limit", positive)]),
                json!({ "description": "Alerts", "content": { "application/json": { "schema": { "type": "array", "items": {
                    "type": "object",
                    "required": ["id", "at", "kind", "severity", "status", "evidence"],
                    "properties": {
                        "id": { "type": "integer" },
                        "at": { "type": "string", "format": "date-time" },
                        "kind": text("What was seen (docs/OPERATIONS.md lists them)"),
                        "severity": { "type": "string", "enum": ["info", "warning", "critical"] },
                        "user_id": nullable("integer"),
                        "session_public_id": nullable("string"),
                        "ip": nullable("string"),
                        "evidence": {},
                        "status": { "type": "string", "enum": ["firing", "resolved"] },
                        "cleared_at": { "type": ["string", "null"], "format": "date-time" },
                    },
                } } } } }),
            ),
        ),
        ("/api/admin/dashboard/events", {
            let mut responses = errors(true);
            responses.insert(
                "200".into(),
                event_stream("Server-Sent Events: each new sample of the dashboard, rendered"),
            );
            json!({ "summary": "Administrators: the dashboard's live updates", "responses": responses, "security": [{ "session": [] }] })
        }),
        (
            PATH,
            json!({
                "summary": "This document",
                "security": [{}],
                "responses": { "200": { "description": "OpenAPI 3.1", "content": { "application/json": { "schema": { "type": "object" } } } } },
            }),
        ),
        (
            "/health",
            health(
                "Health with details: database, pool, cache",
                status_object.clone(),
                Some("The database does not answer"),
            ),
        ),
        ("/health/live", health("Liveness: the process answers", status_object.clone(), None)),
        (
            "/health/ready",
            health(
                "Readiness: database, migrations, cleanup, pool, cache listener",
                status_object,
                Some("Not ready: `failing` names the checks that fail"),
            ),
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_server_function_and_route_is_documented() {
        let doc = build("sb_session");
        for e in endpoints() {
            let method = e.method.as_str().to_ascii_lowercase();
            let op = &doc["paths"][e.path][&method];
            assert!(op.is_object(), "{method} {} is missing", e.path);
            assert_eq!(op["summary"], e.summary);
        }
        for path in super::super::API_READS.iter().chain(&["/health", "/health/live", "/health/ready"]) {
            assert!(doc["paths"][path]["get"].is_object(), "{path}");
        }
        let documented = doc["paths"].as_object().unwrap().len();
        assert_eq!(
            documented,
            endpoints().len() + super::super::API_READS.len() + 3,
            "a route nobody serves"
        );
    }

    #[test]
    fn every_reference_resolves() {
        let doc = build("sb_session");
        let text = doc.to_string();
        let mut missing = Vec::new();
        for part in text.split("\"$ref\":\"#/components/schemas/").skip(1) {
            let name = &part[..part.find('"').unwrap()];
            if doc["components"]["schemas"][name].is_null() {
                missing.push(name.to_owned());
            }
        }
        assert!(missing.is_empty(), "unresolved: {missing:?}");
        assert!(text.contains("#/components/schemas/SessionState"), "{text:.400}");
    }

    #[test]
    fn a_change_takes_form_fields_and_the_csrf_token() {
        let doc = build("sb_session");
        let op = &doc["paths"]["/api/switch_platform"]["post"];
        let schema = &op["requestBody"]["content"]["application/x-www-form-urlencoded"]["schema"];
        assert_eq!(schema["required"], json!(["platform_id"]));
        assert_eq!(schema["properties"]["expected_version"]["anyOf"][0]["type"], "integer");
        assert_eq!(schema["properties"]["platform_id"]["type"], "integer");
        assert_eq!(schema["additionalProperties"], false);
        assert!(op["responses"]["409"]["description"].as_str().unwrap().contains("version_conflict"));
        assert!(op["responses"]["415"].is_object());
        assert_eq!(doc["components"]["securitySchemes"]["session"]["name"], "sb_session");
        // A read takes a query string and has no body to refuse.
        let check = &doc["paths"]["/api/session_check"]["get"];
        assert_eq!(check["parameters"][0]["name"], "checks");
        assert!(check["responses"]["415"].is_null());
    }
}
