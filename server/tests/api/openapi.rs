//! `GET /api/openapi.json`: served, complete, and true to the answers. (`make test` also runs
//! schemathesis against it on a live server: every operation, every answer checked.)

use crate::support::{assert_error, spawn_app};
use app::error::ErrorCode;
use reqwest::StatusCode;
use serde_json::Value;
use std::collections::BTreeSet;
use switchboard::testing::TestDatabase;

/// The property names of a schema, and which of them it requires.
fn properties(schema: &Value) -> (BTreeSet<String>, BTreeSet<String>) {
    let names = schema["properties"]
        .as_object()
        .expect("an object schema")
        .keys()
        .cloned()
        .collect();
    let required = schema["required"]
        .as_array()
        .map(|r| r.iter().map(|n| n.as_str().unwrap().to_owned()).collect())
        .unwrap_or_default();
    (names, required)
}

fn keys(answer: &Value) -> BTreeSet<String> {
    answer.as_object().expect("a JSON object").keys().cloned().collect()
}

async fn the_document_describes_the_served_api(db: TestDatabase) {
    let app = spawn_app(db, &[]).await;
    let mut b = app.browser().await;
    let res = b.get("/api/openapi.json").await;
    assert_eq!(res.status(), StatusCode::OK);
    let doc: Value = res.json().await.unwrap();
    assert_eq!(doc["openapi"], "3.1.0");
    for e in app::registry::endpoints() {
        let method = e.method.as_str().to_ascii_lowercase();
        assert!(doc["paths"][e.path][&method]["responses"]["200"].is_object(), "{method} {}", e.path);
    }
    assert_eq!(
        doc["components"]["securitySchemes"]["session"]["name"],
        app.state.ctx.cookies.session_name(),
        "the cookie a client must send"
    );

    // A real answer carries what its schema says, nothing more and nothing less.
    b.register("reader@example.org").await;
    let answer: Value = b.get("/api/session_state").await.json().await.unwrap();
    let schemas = &doc["components"]["schemas"];
    for (value, schema) in [
        (&answer, &schemas["SessionState"]),
        (&answer["session"], &schemas["SessionView"]),
        (&answer["user"], &schemas["UserView"]),
    ] {
        let (names, required) = properties(schema);
        assert_eq!(keys(value), names, "{schema}");
        assert!(required.is_subset(&names));
    }
    let documented = &doc["paths"]["/api/session_state"]["get"]["responses"]["200"]["content"]["application/json"]["schema"];
    assert_eq!(properties(documented).0, keys(&answer));

    // An error is the one documented shape, at a documented status.
    let res = b.post("/api/switch_platform", &[("platform_id", "424242")]).await;
    let status = res.status().as_u16().to_string();
    let responses = &doc["paths"]["/api/switch_platform"]["post"]["responses"];
    assert_eq!(
        responses[&status]["content"]["application/json"]["schema"]["$ref"],
        "#/components/schemas/ApiError"
    );
    let error: Value = res.json().await.unwrap();
    assert!(responses[&status]["description"]
        .as_str()
        .unwrap()
        .contains(error["error"]["code"].as_str().unwrap()));
}

async fn the_routes_beside_the_server_functions_take_only_get(db: TestDatabase) {
    let app = spawn_app(db, &[]).await;
    let b = app.browser().await;
    for path in ["/api/csrf", "/api/openapi.json", "/api/admin/alerts"] {
        let res = b.post(path, &[]).await;
        assert_eq!(res.headers().get("allow").and_then(|v| v.to_str().ok()), Some("GET"), "{path}");
        assert_error(res, StatusCode::METHOD_NOT_ALLOWED, ErrorCode::MethodNotAllowed).await;
    }
    let res = app
        .bare()
        .request(reqwest::Method::DELETE, b.url("/api/session_events"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::METHOD_NOT_ALLOWED);
}

switchboard::on_both_backends!(
    the_document_describes_the_served_api,
    the_routes_beside_the_server_functions_take_only_get,
);
