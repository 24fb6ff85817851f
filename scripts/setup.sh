#!/usr/bin/env bash
# Installs what Switchboard's build and tests need, skipping whatever is already present at the
# right version. Safe to run any number of times.
#
#   scripts/setup.sh            Rust wasm target, wasm-bindgen CLI, end2end npm packages (wasm-opt)
#   scripts/setup.sh --browser  ... and Debian's chromium + chromium-driver (needed by `make test`)
#   scripts/setup.sh --api-fuzz ... and schemathesis (PyPI, in its own venv; `make test` runs it)
#   scripts/setup.sh --dev      ... and cargo-leptos (only `make dev` uses it: ~16 min to compile)
#
# (Deliberately no SWITCHBOARD_* switch: the server rejects unknown SWITCHBOARD_* variables.)
#
# Traps this script works around (see shared/TOOLCHAIN.md):
#   * cargo-leptos >= 0.3.6 needs a newer rustc than this machine has; without `no_downloads` it
#     tries to download tools and fails. It uses whatever wasm-bindgen / wasm-opt is first on PATH.
#   * The wasm-bindgen CLI must be exactly the version of the `wasm-bindgen` crate in Cargo.lock,
#     and `cargo install --locked wasm-bindgen-cli` fails here (a pinned dependency is missing).
#   * Debian's `binaryen` (wasm-opt 108) builds a release that never hydrates. wasm-opt must come
#     from npm `binaryen@132` (end2end/node_modules/.bin), put first on PATH by the Makefile and
#     scripts/test.sh. This script never installs Debian's binaryen.
#   * Playwright's own browser download cannot work here: PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 and
#     Debian's /usr/bin/chromium instead. Never run `npx playwright install`.
set -euo pipefail

readonly CARGO_LEPTOS_VERSION="0.3.5"
readonly MIN_NODE_MAJOR=20 # @playwright/test 1.65 needs Node.js >= 20

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
readonly ROOT
readonly E2E_DIR="$ROOT/end2end"
readonly NPM_STAMP="$E2E_DIR/node_modules/.switchboard-setup-stamp"

log() { printf '[setup] %s\n' "$*"; }
warn() { printf '[setup] WARNING: %s\n' "$*" >&2; }
die() {
	printf '[setup] ERROR: %s\n' "$*" >&2
	exit 1
}

usage() {
	sed -n '2,8p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
}

want_browser=0
want_api_fuzz=0
want_dev=0
for arg in "$@"; do
	case "$arg" in
	--browser) want_browser=1 ;;
	--api-fuzz) want_api_fuzz=1 ;;
	--dev) want_dev=1 ;;
	-h | --help)
		usage
		exit 0
		;;
	*) die "unknown argument: $arg (try --help)" ;;
	esac
done

# `cargo install` puts binaries here; make sure we see what it installed.
CARGO_BIN_DIR="${CARGO_HOME:-$HOME/.cargo}/bin"
export PATH="$CARGO_BIN_DIR:$PATH"
export DEBIAN_FRONTEND=noninteractive

# First x.y.z found in a command's output, or empty if the command is missing or fails.
version_of() {
	local out
	out="$("$@" 2>/dev/null)" || return 0
	grep -Eo '[0-9]+\.[0-9]+\.[0-9]+' <<<"$out" | head -n 1 || true
}

# apt-get install, running `apt-get update` first only when the package lists are empty or
# lack a candidate, and once more if the install fails (stale lists).
apt_install() {
	command -v apt-get >/dev/null || die "apt-get not found; install manually: $*"
	local -a apt=(apt-get -o DPkg::Lock::Timeout=600 -y)
	local need_update=0 pkg
	if [[ "$(id -u)" -ne 0 ]]; then
		command -v sudo >/dev/null || die "need root (or sudo) to apt-get install $*"
		apt=(sudo -E "${apt[@]}")
	fi
	for pkg in "$@"; do
		if ! apt-cache policy "$pkg" 2>/dev/null | grep -q 'Candidate: [^(]'; then
			need_update=1
		fi
	done
	if ((need_update)); then
		log "apt-get update"
		"${apt[@]}" update
	fi
	log "apt-get install $*"
	if ! "${apt[@]}" install "$@"; then
		log "install failed; apt-get update and retry"
		"${apt[@]}" update
		"${apt[@]}" install "$@"
	fi
}

# --- Rust toolchain and wasm target -------------------------------------------------------------
command -v cargo >/dev/null || die "cargo not found (expected the machine's rustup toolchain in $CARGO_BIN_DIR)"
command -v rustup >/dev/null || die "rustup not found (needed for the wasm32-unknown-unknown target)"
log "cargo: $(cargo --version)"

if rustup target list --installed | grep -qx 'wasm32-unknown-unknown'; then
	log "ok: rust target wasm32-unknown-unknown is installed"
else
	log "installing rust target wasm32-unknown-unknown"
	rustup target add wasm32-unknown-unknown
fi

# --- cargo-leptos (exact version; only for `make dev`) ------------------------------------------
# `make build` and `make test` do without it (scripts/build.sh: plain cargo, wasm-bindgen, wasm-opt).
have="$(version_of cargo leptos --version)"
if ((!want_dev)); then
	log "cargo-leptos not requested (use --dev for \`make dev\`; found: ${have:-none})"
elif [[ "$have" == "$CARGO_LEPTOS_VERSION" ]]; then
	log "ok: cargo-leptos $have"
else
	log "installing cargo-leptos $CARGO_LEPTOS_VERSION (found: ${have:-none}); this takes ~16 min on 2 cores"
	cargo install cargo-leptos --version "$CARGO_LEPTOS_VERSION" --locked --features no_downloads --force
	have="$(version_of cargo leptos --version)"
	[[ "$have" == "$CARGO_LEPTOS_VERSION" ]] ||
		die "cargo-leptos reports '${have:-nothing}' after install, want $CARGO_LEPTOS_VERSION (another one earlier on PATH? $(command -v cargo-leptos || true))"
fi

# --- wasm-bindgen CLI (exactly the crate version in Cargo.lock) ---------------------------------
wasm_bindgen_lock_version() {
	awk '
		/^\[\[package\]\]/ { in_wb = 0; next }
		/^name = "wasm-bindgen"$/ { in_wb = 1; next }
		in_wb && /^version = "/ { gsub(/"/, "", $3); print $3; exit }
	' "$ROOT/Cargo.lock"
}

if [[ ! -f "$ROOT/Cargo.toml" ]]; then
	warn "no Cargo.toml in $ROOT yet: cannot tell which wasm-bindgen CLI to install; skipped"
else
	if [[ ! -f "$ROOT/Cargo.lock" ]]; then
		log "no Cargo.lock: cargo generate-lockfile"
		(cd "$ROOT" && cargo generate-lockfile)
	fi
	want="$(wasm_bindgen_lock_version)"
	if [[ -z "$want" ]]; then
		warn "Cargo.lock has no wasm-bindgen package; wasm-bindgen CLI not installed"
	else
		have="$(version_of wasm-bindgen --version)"
		if [[ "$have" == "$want" ]]; then
			log "ok: wasm-bindgen CLI $have (matches Cargo.lock)"
		else
			log "installing wasm-bindgen-cli $want to match Cargo.lock (found: ${have:-none}); ~5 min"
			# Not --locked: its lockfile pins a crate version missing from the registry.
			cargo install wasm-bindgen-cli --version "$want" --force
			have="$(version_of wasm-bindgen --version)"
			[[ "$have" == "$want" ]] ||
				die "wasm-bindgen reports '${have:-nothing}' after install, want $want (another one earlier on PATH? $(command -v wasm-bindgen || true))"
		fi
	fi
fi

# --- Node.js packages for end2end (Playwright, npm binaryen = wasm-opt 132) ---------------------
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
	die "node/npm not found: Node.js >= $MIN_NODE_MAJOR with npm is expected on this machine (Debian's nodejs is too old for Playwright 1.65)"
fi
node_major="$(node -p 'process.versions.node.split(".")[0]')"
((node_major >= MIN_NODE_MAJOR)) || die "Node.js $(node --version) is too old; need >= $MIN_NODE_MAJOR"

npm_fingerprint() {
	# What node_modules was installed from; re-install when any of it changes.
	{
		node --version
		cat "$E2E_DIR/package.json"
		if [[ -f "$E2E_DIR/package-lock.json" ]]; then cat "$E2E_DIR/package-lock.json"; fi
	} | sha256sum | cut -d' ' -f1
}

[[ -f "$E2E_DIR/package.json" ]] || die "missing $E2E_DIR/package.json"
if [[ -f "$NPM_STAMP" && "$(cat "$NPM_STAMP")" == "$(npm_fingerprint)" &&
	-x "$E2E_DIR/node_modules/.bin/wasm-opt" && -x "$E2E_DIR/node_modules/.bin/esbuild" &&
	-x "$E2E_DIR/node_modules/.bin/playwright" ]]; then
	log "ok: end2end/node_modules is up to date with package-lock.json"
else
	export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1
	if [[ -f "$E2E_DIR/package-lock.json" ]]; then
		log "npm ci in end2end/ (PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1)"
		(cd "$E2E_DIR" && npm ci --no-audit --no-fund)
	else
		log "npm install in end2end/ (no package-lock.json; PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1)"
		(cd "$E2E_DIR" && npm install --no-audit --no-fund)
	fi
	npm_fingerprint >"$NPM_STAMP"
fi
wasm_opt_version="$("$E2E_DIR/node_modules/.bin/wasm-opt" --version 2>/dev/null || true)"
[[ "$wasm_opt_version" == *"version 132"* ]] ||
	die "end2end/node_modules/.bin/wasm-opt reports '$wasm_opt_version', want version 132"
log "ok: wasm-opt for release builds: end2end/node_modules/.bin/wasm-opt ($wasm_opt_version)"
if other="$(command -v wasm-opt)" && [[ "$other" != "$E2E_DIR/node_modules/.bin/wasm-opt" ]]; then
	warn "another wasm-opt is on PATH ($other, $("$other" --version 2>/dev/null || true)); builds must put end2end/node_modules/.bin first on PATH (the Makefile and scripts/test.sh do)"
fi

# --- Browser for Playwright (only with --browser) -----------------------------------------------
if ((want_browser)); then
	if [[ -x /usr/bin/chromium && -x /usr/bin/chromedriver ]]; then
		log "ok: $(/usr/bin/chromium --version 2>/dev/null || echo chromium) at /usr/bin/chromium"
	else
		log "installing Debian's chromium and chromium-driver (~35 s)"
		apt_install chromium chromium-driver
		[[ -x /usr/bin/chromium ]] || die "/usr/bin/chromium still missing after apt-get install"
	fi
	if command -v curl >/dev/null; then
		log "ok: curl (used to poll the test server)"
	else
		apt_install curl
	fi
else
	log "browser not requested (use --browser for the Playwright tests)"
fi

# --- schemathesis, for the OpenAPI run of `make test` (only with --api-fuzz) ---------------------
# In a venv of its own under the cache dir (kept across clones), at one version: its checks
# change between releases, and a run must mean the same thing on every machine.
readonly SCHEMATHESIS_VERSION=4.32.5
if ((want_api_fuzz)); then
	venv="${XDG_CACHE_HOME:-$HOME/.cache}/switchboard/schemathesis"
	have="$(version_of "$venv/bin/schemathesis" --version)"
	if [[ "$have" == "$SCHEMATHESIS_VERSION" ]]; then
		log "ok: schemathesis $have ($venv)"
	else
		log "installing schemathesis $SCHEMATHESIS_VERSION into $venv (~40 s)"
		command -v python3 >/dev/null || apt_install python3
		python3 -c 'import venv, ensurepip' 2>/dev/null || apt_install python3-venv
		rm -rf -- "$venv"
		python3 -m venv "$venv" || die "python3 -m venv $venv failed"
		"$venv/bin/pip" install --quiet --disable-pip-version-check "schemathesis==$SCHEMATHESIS_VERSION" ||
			die "pip install schemathesis==$SCHEMATHESIS_VERSION failed"
		have="$(version_of "$venv/bin/schemathesis" --version)"
		[[ "$have" == "$SCHEMATHESIS_VERSION" ]] || die "schemathesis reports '$have', want $SCHEMATHESIS_VERSION"
	fi
fi

log "done"
