#!/usr/bin/env bash
# The release build, with plain cargo: target/release/switchboard and the site it serves,
# target/site (public/ and pkg/switchboard.{js,wasm,css}, each with .br and .gz beside it).
#
#   scripts/build.sh    (what `make build`, `make run` and `make test` use)
#
# It does what `cargo leptos build --release --precompress` did, without cargo-leptos (16 minutes
# to compile on 2 cores, needed now only by `make dev`):
#   1. the server, `cargo build --release -p server --bin switchboard`;
#   2. the hydrate WASM, `cargo build --profile wasm-release -p frontend --target wasm32-unknown-unknown`;
#   3. wasm-bindgen --target web, named `switchboard`; wasm-opt -Oz (npm binaryen 132: Debian's
#      wasm-opt 108 builds a page that never hydrates);
#   4. esbuild minifies the JS glue and style/main.css;
#   5. scripts/precompress.mjs writes brotli and gzip siblings (Node's zlib).
# The server names the files by a hash of their content at start-up (server/src/http/assets.rs).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
readonly ROOT
readonly BIN_DIR="$ROOT/end2end/node_modules/.bin"
readonly TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"
readonly SITE="$ROOT/target/site"
readonly NAME="switchboard"

log() { printf '[build] %s\n' "$*"; }
die() {
	printf '[build] ERROR: %s\n' "$*" >&2
	exit 1
}

for tool in wasm-bindgen "$BIN_DIR/wasm-opt" "$BIN_DIR/esbuild" node; do
	command -v "$tool" >/dev/null || die "$tool not found: run scripts/setup.sh (make setup) first"
done
[[ "$("$BIN_DIR/wasm-opt" --version)" == *"version 132"* ]] ||
	die "$BIN_DIR/wasm-opt is not binaryen 132: run scripts/setup.sh"

# LEPTOS_OUTPUT_NAME=switchboard comes from .cargo/config.toml, for every build alike: with it,
# pages ask for /pkg/switchboard-<hash>.wasm.
started=$SECONDS
log "server: cargo build --release -p server --bin $NAME"
cargo build --locked --release -p server --bin "$NAME"

log "hydrate WASM: cargo build --profile wasm-release -p frontend --target wasm32-unknown-unknown"
cargo build --locked --profile wasm-release -p frontend --lib --target wasm32-unknown-unknown
wasm="$TARGET_DIR/wasm32-unknown-unknown/wasm-release/frontend.wasm"
[[ -f "$wasm" ]] || die "the WASM build did not produce $wasm"

# Assembled beside the site, then swapped in: a running server never sees half a build.
stage="$(mktemp -d "$ROOT/target/site.build.XXXXXX")"
trap 'rm -rf "$stage"' EXIT
mkdir -p "$stage/pkg"
log "wasm-bindgen $(wasm-bindgen --version | cut -d' ' -f2) --target web"
wasm-bindgen --target web --no-typescript --out-name "$NAME" --out-dir "$stage/bindgen" "$wasm"
log "wasm-opt -Oz"
"$BIN_DIR/wasm-opt" -Oz --enable-bulk-memory --enable-nontrapping-float-to-int \
	"$stage/bindgen/${NAME}_bg.wasm" -o "$stage/pkg/$NAME.wasm"
log "esbuild --minify (JS glue, style/main.css)"
"$BIN_DIR/esbuild" --log-level=warning --minify --format=esm "$stage/bindgen/$NAME.js" --outfile="$stage/pkg/$NAME.js"
"$BIN_DIR/esbuild" --log-level=warning --minify "$ROOT/style/main.css" --outfile="$stage/pkg/$NAME.css"
rm -rf "$stage/bindgen"
cp -R "$ROOT/public/." "$stage/"
node "$ROOT/scripts/precompress.mjs" "$stage"

rm -rf "$SITE"
mv "$stage" "$SITE"
trap - EXIT
log "done in $((SECONDS - started)) s: $TARGET_DIR/release/$NAME, $SITE"
ls -l "$SITE/pkg" | awk 'NR > 1 { printf "[build]   %9d  %s\n", $5, $9 }'
