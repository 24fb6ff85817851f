//! The request layer in front of every route:
//! - resolves the caller once (session cookie → session, pre-session cookie, CSRF token) and
//!   stores it in the request for pages and server functions;
//! - for state-changing requests, refuses cross-site ones (`Sec-Fetch-Site`, `Origin`), checks
//!   the body (type, size, encoding, known fields only) and the CSRF token (`X-CSRF-Token`
//!   header or `csrf_token` field);
//! - marks API answers `no-store` and sets the pre-session cookie when it was missing.

use crate::AppState;
use app::api::FORM_FIELDS;
use app::error::ApiError;
use app::ssr::{resolve_request, Activity, RequestAuth};
use axum::body::Body;
use axum::extract::{ConnectInfo, Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use std::collections::HashSet;
use std::net::SocketAddr;

pub fn json_error(status: StatusCode, code: &str, message: &str) -> Response {
    let mut res = (status, axum::Json(ApiError::new(code, message))).into_response();
    res.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    res
}

/// Requests that need no session resolution: static files and probes.
fn is_passive(path: &str) -> bool {
    path.starts_with("/pkg/") || path == "/health" || path.rsplit('/').next().is_some_and(|last| last.contains('.'))
}

fn is_safe(method: &Method) -> bool {
    matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

pub async fn request_layer(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let path = req.uri().path().to_owned();
    if is_passive(&path) {
        return next.run(req).await;
    }
    let peer = req.extensions().get::<ConnectInfo<SocketAddr>>().map(|c| c.0.ip().to_string());
    let activity = if path == app::api::BACKGROUND_CHECK_PATH {
        Activity::Background
    } else {
        Activity::User
    };
    let auth = resolve_request(&state.ctx, req.headers(), peer, activity).await;
    let (mut parts, body) = req.into_parts();

    let body = if is_safe(&parts.method) {
        body
    } else {
        match check_unsafe(&state, &parts.headers, &path, body, &auth).await {
            Ok(body) => {
                // The body was re-encoded without `csrf_token`.
                parts.headers.remove(header::CONTENT_LENGTH);
                parts
                    .headers
                    .insert(header::CONTENT_TYPE, HeaderValue::from_static("application/x-www-form-urlencoded"));
                body
            }
            Err(rejection) => return with_cookies(&state, &auth, rejection),
        }
    };

    parts.extensions.insert(auth.clone());
    let mut res = next.run(Request::from_parts(parts, body)).await;
    if path.starts_with("/api/") {
        res.headers_mut()
            .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    with_cookies(&state, &auth, res)
}

fn with_cookies(state: &AppState, auth: &RequestAuth, mut res: Response) -> Response {
    if auth.new_pre_session {
        let cookies = state.ctx.cookies;
        res.headers_mut().append(
            header::SET_COOKIE,
            cookies.set(cookies.pre_session_name(), auth.pre_session.expose()),
        );
    }
    res
}

fn forbidden(message: &str) -> Response {
    json_error(StatusCode::FORBIDDEN, "csrf_failed", message)
}

/// The origin a browser would send for this server: the configured public origin, else the
/// request's Host (scheme-agnostic).
fn origin_matches(state: &AppState, headers: &HeaderMap, origin: &str) -> bool {
    if let Some(public) = &state.settings.public_origin {
        return origin == public;
    }
    let host = headers.get(header::HOST).and_then(|h| h.to_str().ok());
    let authority = origin.strip_prefix("https://").or_else(|| origin.strip_prefix("http://"));
    matches!((host, authority), (Some(h), Some(a)) if h.eq_ignore_ascii_case(a))
}

async fn check_unsafe(state: &AppState, headers: &HeaderMap, path: &str, body: Body, auth: &RequestAuth) -> Result<Body, Response> {
    if let Some(site) = headers.get("sec-fetch-site").and_then(|v| v.to_str().ok()) {
        if !matches!(site, "same-origin" | "none") {
            return Err(forbidden("cross-site requests are not accepted"));
        }
    }
    if let Some(origin) = headers.get(header::ORIGIN) {
        let ok = origin.to_str().is_ok_and(|o| origin_matches(state, headers, o));
        if !ok {
            return Err(forbidden("the request's Origin is not this site"));
        }
    }
    let Some((_, allowed)) = FORM_FIELDS.iter().find(|(p, _)| *p == path) else {
        return Err(json_error(StatusCode::NOT_FOUND, "not_found", "no such API endpoint"));
    };

    let content_type = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
    let media = content_type.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
    let limit = state.settings.max_body_bytes;
    let bytes = axum::body::to_bytes(body, limit).await.map_err(|_| {
        json_error(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            &format!("the request body is larger than {limit} bytes"),
        )
    })?;
    if !bytes.is_empty() && media != "application/x-www-form-urlencoded" {
        return Err(json_error(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "send the fields form-encoded (application/x-www-form-urlencoded)",
        ));
    }
    let text = std::str::from_utf8(&bytes)
        .map_err(|_| json_error(StatusCode::BAD_REQUEST, "bad_request", "the request body is not valid UTF-8"))?;

    let mut seen = HashSet::new();
    let mut fields = Vec::new();
    let mut form_token = None;
    for (key, value) in form_urlencoded::parse(text.as_bytes()) {
        if !seen.insert(key.to_string()) {
            return Err(json_error(
                StatusCode::BAD_REQUEST,
                "bad_request",
                &format!("the field `{key}` appears more than once"),
            ));
        }
        if key == "csrf_token" {
            form_token = Some(value.into_owned());
        } else if allowed.contains(&key.as_ref()) {
            fields.push((key.into_owned(), value.into_owned()));
        } else {
            let mut e = ApiError::new(
                "bad_request",
                format!("unknown field `{key}`; this endpoint takes: {}", allowed.join(", ")),
            );
            e.error.field = Some(key.into_owned());
            return Err((StatusCode::BAD_REQUEST, axum::Json(e)).into_response());
        }
    }

    let header_token = headers.get("x-csrf-token").and_then(|v| v.to_str().ok()).map(str::to_owned);
    let Some(token) = header_token.or(form_token) else {
        return Err(forbidden("a CSRF token is required (X-CSRF-Token header or csrf_token field)"));
    };
    if !state.ctx.csrf.verify(auth.csrf_binding(), &token) {
        return Err(forbidden("the CSRF token does not match this session; reload the page"));
    }

    let mut out = form_urlencoded::Serializer::new(String::new());
    for (k, v) in &fields {
        out.append_pair(k, v);
    }
    Ok(Body::from(out.finish()))
}
