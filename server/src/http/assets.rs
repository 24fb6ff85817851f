//! The browser build under `/pkg`: `switchboard.js`, `.wasm` and `.css` from `site_root/pkg`.
//!
//! Pages name them with a hash of their content (`/pkg/switchboard-1a2b3c4d5e6f7a8b.wasm`,
//! computed once at start-up), and those names are cached by browsers for a year as
//! `immutable`: a page load costs no request for them until a new build changes the hash. The
//! plain names still work, revalidated on every use (`no-cache`). Where the build wrote
//! precompressed siblings (`switchboard.wasm.br`, `.gz`: scripts/build.sh), browsers that
//! accept them get those. Assets need no session: this router sits outside the request layer,
//! so they cost no database read.

use crate::AppState;
use axum::extract::{Path as UrlPath, Request, State};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use http::{header, HeaderValue, StatusCode};
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use tower::ServiceExt;
use tower_http::services::ServeFile;

/// What the build is called: `switchboard-<hash>` when its files were found at start-up.
#[derive(Debug, Clone)]
pub struct Assets {
    pkg_dir: PathBuf,
    /// The name pages use for the build's files (Leptos's `output_name`).
    pub output_name: String,
}

/// The build's file names, before hashing.
const BASE: &str = "switchboard";
const KINDS: [&str; 3] = ["js", "wasm", "css"];

impl Assets {
    /// Hashes the build in `site_root/pkg`. Without one (tests, a server-only build) the plain
    /// names are used.
    pub fn load(site_root: &Path) -> Self {
        let pkg_dir = site_root.join("pkg");
        let mut hash = Sha256::new();
        let mut found = false;
        for kind in KINDS {
            if let Ok(bytes) = std::fs::read(pkg_dir.join(format!("{BASE}.{kind}"))) {
                hash.update(kind.as_bytes());
                hash.update(&bytes);
                found = true;
            }
        }
        let output_name = if found {
            let digest = hash.finalize();
            let hex: String = digest[..8].iter().map(|b| format!("{b:02x}")).collect();
            format!("{BASE}-{hex}")
        } else {
            BASE.to_owned()
        };
        Self { pkg_dir, output_name }
    }

    /// The file behind a `/pkg/` name, and whether the name is the content-hashed one. (Leptos
    /// names the WASM `<name>_bg.wasm` when the server was built without `LEPTOS_OUTPUT_NAME`.)
    fn resolve(&self, name: &str) -> Option<(PathBuf, bool)> {
        let (stem, kind) = name.rsplit_once('.')?;
        if !KINDS.contains(&kind) {
            return None;
        }
        let stem = if kind == "wasm" {
            stem.strip_suffix("_bg").unwrap_or(stem)
        } else {
            stem
        };
        let hashed = stem == self.output_name && stem != BASE;
        (hashed || stem == BASE).then(|| (self.pkg_dir.join(format!("{BASE}.{kind}")), hashed))
    }
}

pub fn router() -> Router<AppState> {
    Router::new().route("/pkg/{file}", get(asset))
}

async fn asset(State(state): State<AppState>, UrlPath(file): UrlPath<String>, req: Request) -> Response {
    let Some((path, hashed)) = state.assets.resolve(&file) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let served = ServeFile::new(path).precompressed_br().precompressed_gzip().oneshot(req).await;
    let mut res = match served {
        Ok(res) => res.map(axum::body::Body::new),
        Err(never) => match never {},
    };
    if res.status().is_success() || res.status() == StatusCode::NOT_MODIFIED {
        let cache = if hashed {
            "public, max-age=31536000, immutable"
        } else {
            "no-cache"
        };
        res.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    }
    res
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_builds_own_names_resolve() {
        let assets = Assets {
            pkg_dir: PathBuf::from("/site/pkg"),
            output_name: "switchboard-0123456789abcdef".into(),
        };
        let wasm = PathBuf::from("/site/pkg/switchboard.wasm");
        assert_eq!(assets.resolve("switchboard-0123456789abcdef.wasm"), Some((wasm.clone(), true)));
        assert_eq!(assets.resolve("switchboard-0123456789abcdef_bg.wasm"), Some((wasm.clone(), true)));
        assert_eq!(assets.resolve("switchboard.wasm"), Some((wasm, false)));
        for other in [
            "switchboard-ffffffffffffffff.wasm",
            "switchboard.wasm.br",
            "../secret.js",
            "switchboard.exe",
            "switchboard",
            "",
        ] {
            assert_eq!(assets.resolve(other), None, "{other}");
        }
    }
}
