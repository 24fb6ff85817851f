#!/usr/bin/env bash
# Runs every Switchboard test, stopping at the first failure:
#   setup -> lint (rustfmt, clippy, tsc) -> PostgreSQL -> cargo test (all crates but frontend)
#   -> release build -> start servers -> Playwright -> schemathesis (the OpenAPI document against
#   a live server) -> benchmark smoke -> summary
#
# `scripts/test.sh --browser-figures` (part of `make bench`): only the release build and Playwright,
# then the browser figures the specs print (click-to-UI, propagation, checks per minute, leader
# takeover, cross-instance revocation, the WASM over the wire).
#
# Environment:
#   SWITCHBOARD_TEST_POSTGRES_URL  use this database as is (not created, not dropped); otherwise a
#                                  fresh switchboard_test_* database on 127.0.0.1:5432 is created
#                                  and dropped on exit
#   SWITCHBOARD_E2E_PORT           port of the server Playwright tests against (default 3100); a
#                                  second server with a 12 s idle timeout uses the next port, a
#                                  third with tab sync switched off the one after, two
#                                  instances sharing one PostgreSQL schema the two after that,
#                                  and schemathesis's own server the one after those
set -euo pipefail

BROWSER_FIGURES=0
case "${1:-}" in
'') ;;
--browser-figures) BROWSER_FIGURES=1 ;;
*)
	echo "usage: $0 [--browser-figures]" >&2
	exit 2
	;;
esac
readonly BROWSER_FIGURES

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
readonly ROOT
cd "$ROOT"

readonly PG_HOST=127.0.0.1
readonly PG_PORT=5432
readonly PG_USER=postgres
readonly E2E_PORT="${SWITCHBOARD_E2E_PORT:-3100}"
readonly E2E_URL="http://127.0.0.1:$E2E_PORT"
readonly E2E_SHORT_PORT=$((E2E_PORT + 1))
readonly E2E_SHORT_URL="http://127.0.0.1:$E2E_SHORT_PORT"
readonly E2E_NO_SYNC_PORT=$((E2E_PORT + 2))
readonly E2E_NO_SYNC_URL="http://127.0.0.1:$E2E_NO_SYNC_PORT"
readonly E2E_PG_A_PORT=$((E2E_PORT + 3))
readonly E2E_PG_B_PORT=$((E2E_PORT + 4))
readonly API_FUZZ_PORT=$((E2E_PORT + 5))
readonly SERVER_BIN="$ROOT/target/release/switchboard"
readonly SERVER_READY_TIMEOUT=60

export DEBIAN_FRONTEND=noninteractive
export PGCONNECT_TIMEOUT=5
export PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"
# Paths below (target/release/switchboard, target/site) assume the default target dir.
unset CARGO_TARGET_DIR

log() { printf '[test] %s\n' "$*"; }

# ---- state used by the exit trap ---------------------------------------------------------------
created_db=""          # database to drop on exit
pg_admin_url=""        # where to drop it from
server_pids=()         # servers to stop on exit
e2e_tmp=""             # temp dir to remove on exit
e2e_pg_schema=""       # the PostgreSQL schema of the two-instance servers, dropped on exit
server_logs=()
hba_backups=()         # pg_hba.conf files changed for the run: "<file>|<backup>|<version>"
clusters_started=()    # PostgreSQL clusters this run started (stopped again on exit)
logs_dir="$(mktemp -d -t switchboard-test-logs.XXXXXX)"
current_phase=""
phase_t0=0
phase_names=()
phase_secs=()
phase_status=()
t_start=$SECONDS

phase() {
	current_phase="$1"
	phase_t0=$SECONDS
	printf '\n[test] ===== %s =====\n' "$current_phase"
}

phase_done() {
	phase_names+=("$current_phase")
	phase_secs+=($((SECONDS - phase_t0)))
	phase_status+=("ok")
	current_phase=""
}

die() {
	local where=""
	[[ -z "$current_phase" ]] || where=" in phase '$current_phase'"
	printf '\n[test] FAILED%s: %s\n' "$where" "$*" >&2
	exit 1
}

print_server_log_tail() {
	local log
	for log in "${server_logs[@]}"; do
		[[ -f "$log" ]] || continue
		printf '\n[test] ----- last 60 lines of the server log (%s) -----\n' "$log" >&2
		tail -n 60 "$log" >&2 || true
		printf '[test] ----- end of server log -----\n' >&2
	done
}

# shellcheck disable=SC2317 # called from the exit trap
# Sums "N passed" / "N failed" from cargo test and Playwright output, for one plain closing line.
count_results() {
	local passed=0 failed=0 skipped=0 n
	local cargo_log="$logs_dir/cargo-test.log" pw_log="$logs_dir/playwright.log"
	if [[ -f "$cargo_log" ]]; then
		while read -r n; do passed=$((passed + n)); done < <(sed -nE 's/^test result: [A-Za-z]+\. ([0-9]+) passed;.*/\1/p' "$cargo_log")
		while read -r n; do failed=$((failed + n)); done < <(sed -nE 's/^test result: [A-Za-z]+\. [0-9]+ passed; ([0-9]+) failed;.*/\1/p' "$cargo_log")
		while read -r n; do skipped=$((skipped + n)); done < <(sed -nE 's/^test result: .* ([0-9]+) ignored;.*/\1/p' "$cargo_log")
	fi
	if [[ -f "$pw_log" ]]; then
		local stripped
		stripped="$(sed -E 's/\x1b\[[0-9;]*[A-Za-z]//g' "$pw_log")"
		while read -r n; do passed=$((passed + n)); done < <(sed -nE 's/^ +([0-9]+) (passed|flaky)( .*)?$/\1/p' <<<"$stripped")
		while read -r n; do failed=$((failed + n)); done < <(sed -nE 's/^ +([0-9]+) (failed|interrupted)( .*)?$/\1/p' <<<"$stripped")
		while read -r n; do skipped=$((skipped + n)); done < <(sed -nE 's/^ +([0-9]+) (skipped|did not run)( .*)?$/\1/p' <<<"$stripped")
	fi
	printf '%s passed, %s failed, %s skipped\n' "$passed" "$failed" "$skipped"
}

# shellcheck disable=SC2317 # the exit trap
cleanup() {
	local rc=$?
	set +e
	trap - EXIT HUP INT PIPE TERM
	if [[ -n "$current_phase" ]]; then
		phase_names+=("$current_phase")
		phase_secs+=($((SECONDS - phase_t0)))
		phase_status+=("FAILED")
	fi
	local pid
	for pid in "${server_pids[@]}"; do
		kill -0 "$pid" 2>/dev/null || continue
		log "stopping server (pid $pid)"
		kill -TERM "$pid" 2>/dev/null
		for _ in $(seq 1 50); do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.2
		done
		kill -KILL "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
	done
	if [[ -n "$e2e_tmp" && -d "$e2e_tmp" ]]; then
		rm -rf -- "$e2e_tmp"
	fi
	if [[ -n "$e2e_pg_schema" && -z "$created_db" ]]; then
		psql "$SWITCHBOARD_TEST_POSTGRES_URL" -qc "DROP SCHEMA IF EXISTS $e2e_pg_schema CASCADE" >/dev/null 2>&1 ||
			log "WARNING: could not drop schema $e2e_pg_schema"
	fi
	if [[ -n "$created_db" ]]; then
		log "dropping database $created_db"
		psql "$pg_admin_url" -v ON_ERROR_STOP=1 -qc "DROP DATABASE IF EXISTS \"$created_db\" WITH (FORCE)" >/dev/null 2>&1 ||
			dropdb -h "$PG_HOST" -p "$PG_PORT" -U "$PG_USER" --if-exists "$created_db" ||
			log "WARNING: could not drop database $created_db"
	fi
	# Leave PostgreSQL as we found it: its configuration restored, and stopped if we started it.
	local entry hba backup ver
	for entry in "${hba_backups[@]}"; do
		IFS='|' read -r hba backup ver <<<"$entry"
		log "restoring $hba"
		cat "$backup" >"$hba" && rm -f "$backup"
		pg_ctlcluster --skip-systemctl-redirect "$ver" main reload >/dev/null 2>&1 || true
	done
	for ver in "${clusters_started[@]}"; do
		log "stopping the PostgreSQL cluster $ver/main this run started"
		pg_ctlcluster --skip-systemctl-redirect "$ver" main stop >/dev/null 2>&1 || true
	done

	printf '\n[test] ===== summary =====\n'
	local i
	for i in "${!phase_names[@]}"; do
		printf '[test] %-28s %6ss  %s\n' "${phase_names[$i]}" "${phase_secs[$i]}" "${phase_status[$i]}"
	done
	printf '[test] %-28s %6ss\n' "total" "$((SECONDS - t_start))"
	# The browser tests that failed (in CI, where each gets one retry, perhaps only once) and
	# their first errors, here at the end, where a CI page showing only the last lines names them.
	if [[ -f "$logs_dir/playwright.log" ]]; then
		local label="failed"
		((rc == 0)) && label="failed once, passed on retry (flaky)"
		sed -E 's/\x1b\[[0-9;]*[A-Za-z]//g' "$logs_dir/playwright.log" |
			grep -E '✘|^ +(Error|TimeoutError):' | head -n 8 | cut -c1-200 | sed "s/^ */[test] $label: /" || true
	fi
	if ((rc == 0)); then
		log "ALL TESTS PASSED"
	else
		log "FAILED (exit $rc)"
	fi
	# Plain closing line: cargo test and Playwright counts added up.
	if [[ -f "$logs_dir/cargo-test.log" ]]; then
		printf 'Tests: %s\n' "$(count_results)"
	fi
	# schemathesis's generated requests, apart: cases, not tests.
	if [[ -f "$logs_dir/schemathesis.log" ]]; then
		sed -E 's/\x1b\[[0-9;]*[A-Za-z]//g' "$logs_dir/schemathesis.log" |
			awk '/ generated, / { cases += $1; passed += $3 } END { printf "Schemathesis: %d generated requests, %d as documented\n", cases, passed }'
	fi
	rm -rf -- "$logs_dir"
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 129' HUP
trap 'exit 130' INT
trap 'exit 141' PIPE
trap 'exit 143' TERM

apt_install() {
	command -v apt-get >/dev/null || die "apt-get not found; cannot install $*"
	local -a apt=(apt-get -o DPkg::Lock::Timeout=600 -y)
	local need_update=0 pkg
	for pkg in "$@"; do
		apt-cache policy "$pkg" 2>/dev/null | grep -q 'Candidate: [^(]' || need_update=1
	done
	if ((need_update)); then
		log "apt-get update"
		"${apt[@]}" update
	fi
	log "apt-get install $*"
	"${apt[@]}" install "$@" || { "${apt[@]}" update && "${apt[@]}" install "$@"; }
}

# ---- a. setup ----------------------------------------------------------------------------------
phase "setup"
bash "$ROOT/scripts/setup.sh" --browser --api-fuzz || die "scripts/setup.sh --browser --api-fuzz failed"
phase_done

# ---- b. lint -----------------------------------------------------------------------------------
# Style and type errors fail the run before anything slow: rustfmt, clippy (every crate and
# target, warnings are errors), the TypeScript of the Playwright specs, and import circles.
phase "lint"
if ((BROWSER_FIGURES)); then log "skipped (--browser-figures)"; else
cargo fmt --all --check || die "cargo fmt --all --check: run \`cargo fmt --all\`"
cargo clippy --workspace --all-targets --locked -- -D warnings || die "cargo clippy found problems (see above)"
# The browser build alone (hydrate without ssr), as the WASM is compiled.
cargo clippy -p frontend --target wasm32-unknown-unknown --locked -- -D warnings || die "cargo clippy (WASM) found problems (see above)"
(cd "$ROOT/end2end" && npx --no-install tsc --noEmit) || die "tsc --noEmit: the Playwright specs do not type-check"
python3 "$ROOT/scripts/module_cycles.py" "$ROOT/src" "$ROOT/app/src" "$ROOT/server/src" ||
	die "modules import each other in a circle (see above; docs/ARCHITECTURE.md)"
fi
phase_done

# ---- c. PostgreSQL -----------------------------------------------------------------------------
pg_ready() {
	command -v pg_isready >/dev/null && pg_isready -q -h "$PG_HOST" -p "$PG_PORT" -t 3
}

wait_pg_ready() {
	local _
	for _ in $(seq 1 30); do
		pg_ready && return 0
		sleep 1
	done
	return 1
}

start_local_clusters() {
	# Debian layout: /etc/postgresql/<version>/<cluster>; start every "main" cluster found.
	local dir ver started=1
	command -v pg_ctlcluster >/dev/null || return 1
	for dir in /etc/postgresql/*/main; do
		[[ -d "$dir" ]] || continue
		ver="$(basename "$(dirname "$dir")")"
		log "starting PostgreSQL cluster $ver/main"
		if pg_ctlcluster --skip-systemctl-redirect "$ver" main start; then
			clusters_started+=("$ver")
		fi
		started=0
	done
	return "$started"
}

# A Debian cluster we started ourselves asks for passwords over TCP; the tests connect as
# postgres@127.0.0.1 without one, as on the machines that come with PostgreSQL running.
ensure_trust_auth() {
	psql -h "$PG_HOST" -p "$PG_PORT" -U "$PG_USER" -d postgres -w -Atqc 'select 1' >/dev/null 2>&1 && return 0
	local hba ver
	for hba in /etc/postgresql/*/main/pg_hba.conf; do
		[[ -f "$hba" ]] || continue
		ver="$(basename "$(dirname "$(dirname "$hba")")")"
		grep -q 'switchboard-test-trust' "$hba" && continue
		log "allowing trust auth for 127.0.0.1 and ::1 in $hba (restored on exit)"
		local backup
		backup="$(mktemp -t switchboard-pg_hba.XXXXXX)"
		cp -p "$hba" "$backup"
		hba_backups+=("$hba|$backup|$ver")
		{
			echo "# switchboard-test-trust: local test machine, tests connect as postgres without a password"
			echo "host all all 127.0.0.1/32 trust"
			echo "host all all ::1/128 trust"
			cat "$hba"
		} >"$hba.new" && cat "$hba.new" >"$hba" && rm -f "$hba.new"
		pg_ctlcluster --skip-systemctl-redirect "$ver" main reload || true
	done
	sleep 1
	psql -h "$PG_HOST" -p "$PG_PORT" -U "$PG_USER" -d postgres -w -Atqc 'select 1' >/dev/null 2>&1
}

phase "postgres"
# The upgrade test (server/tests/upgrade.rs) follows docs/DEPLOYMENT.md with the real tools.
if ! command -v pg_dump >/dev/null || ! command -v pg_restore >/dev/null || ! command -v psql >/dev/null; then
	apt_install postgresql-client
fi
command -v sqlite3 >/dev/null || apt_install sqlite3
if [[ -n "${SWITCHBOARD_TEST_POSTGRES_URL:-}" ]]; then
	log "using SWITCHBOARD_TEST_POSTGRES_URL as given (not created, not dropped)"
else
	if ! command -v psql >/dev/null || ! command -v createdb >/dev/null || ! command -v pg_isready >/dev/null; then
		apt_install postgresql-client
	fi
	started_here=0
	if ! pg_ready; then
		log "PostgreSQL not reachable at $PG_HOST:$PG_PORT; trying to start it"
		if start_local_clusters; then
			started_here=1
		else
			apt_install postgresql
			start_local_clusters || true
			started_here=1
		fi
		wait_pg_ready || die "PostgreSQL is not reachable at $PG_HOST:$PG_PORT (pg_isready fails)"
	fi
	if ((started_here)); then
		ensure_trust_auth || die "PostgreSQL at $PG_HOST:$PG_PORT refuses user $PG_USER without a password"
	fi
	pg_admin_url="postgres://$PG_USER@$PG_HOST:$PG_PORT/postgres"
	db_name="switchboard_test_$$_${RANDOM}"
	log "creating database $db_name"
	createdb -h "$PG_HOST" -p "$PG_PORT" -U "$PG_USER" -w "$db_name" ||
		die "could not create database $db_name at $PG_HOST:$PG_PORT as $PG_USER"
	created_db="$db_name"
	export SWITCHBOARD_TEST_POSTGRES_URL="postgres://$PG_USER@$PG_HOST:$PG_PORT/$db_name"
fi
log "SWITCHBOARD_TEST_POSTGRES_URL=$(sed -E 's#(://[^:/@]+):[^@]*@#\1:***@#' <<<"$SWITCHBOARD_TEST_POSTGRES_URL")"
phase_done

# ---- d. cargo test -----------------------------------------------------------------------------
phase "cargo test"
if ((BROWSER_FIGURES)); then log "skipped (--browser-figures)"; else
# `frontend` (the hydrate WASM entry) is excluded: building it in the same cargo invocation as
# `server` unifies features, so app/leptos get both `ssr` and `hydrate` and every server test
# panics ("spawn_local called from outside of a task::LocalSet"). It has no native tests; the
# release build below compiles it for wasm32.
cargo test --workspace --exclude frontend --locked 2>&1 | tee "$logs_dir/cargo-test.log" ||
	die "cargo test --workspace --exclude frontend --locked failed (see above)"
fi
phase_done

# ---- e. release build --------------------------------------------------------------------------
phase "release build"
# Plain cargo, wasm-bindgen, npm binaryen's wasm-opt 132 and esbuild: no cargo-leptos.
bash "$ROOT/scripts/build.sh" || die "the release build (scripts/build.sh) failed"
[[ -x "$SERVER_BIN" ]] || die "the release build did not produce $SERVER_BIN"
[[ -d "$ROOT/target/site" ]] || die "the release build did not produce target/site"
phase_done

# ---- f. start the servers ----------------------------------------------------------------------
# Three servers, each on its own SQLite file: the main one with the test profile, a "short" one
# whose sessions go idle after a few seconds (for the expiry and "Stay signed in" tests), and one
# with tab sync switched off (features.spec.ts).
phase "start servers"
e2e_tmp="$(mktemp -d -t switchboard-e2e.XXXXXX)"

# start_server NAME PORT [VAR=VALUE...]: starts the release server and waits for /health.
start_server() {
	local name="$1" port="$2"
	shift 2
	local url="http://127.0.0.1:$port" log="$e2e_tmp/$name.log" pid code deadline
	# Refuse to test whatever else may be listening on the port (a stale server would pass or
	# fail the tests for the wrong reasons).
	if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
		die "something already listens on $url; stop it or set SWITCHBOARD_E2E_PORT"
	fi
	log "starting $name server on $url (log $log)"
	# Every browser test signs up from 127.0.0.1: lift the per-address registration limit.
	env SWITCHBOARD_PROFILE=test \
		SWITCHBOARD_BIND="127.0.0.1:$port" \
		SWITCHBOARD_THROTTLE_REGISTRATION_LIMIT=1000 \
		SWITCHBOARD_DATABASE_URL="sqlite://$e2e_tmp/$name.db" \
		"$@" "$SERVER_BIN" serve >"$log" 2>&1 </dev/null &
	pid=$!
	server_pids+=("$pid")
	server_logs+=("$log")
	deadline=$((SECONDS + SERVER_READY_TIMEOUT))
	while :; do
		code="$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "$url/health" || true)"
		[[ "$code" == "200" ]] && break
		if ! kill -0 "$pid" 2>/dev/null; then
			print_server_log_tail
			die "the $name server exited before $url/health answered 200"
		fi
		if ((SECONDS >= deadline)); then
			print_server_log_tail
			die "$url/health did not answer 200 within ${SERVER_READY_TIMEOUT}s (last status: ${code:-none})"
		fi
		sleep 0.5
	done
	log "$name server is up: $url/health answered 200"
}

# add_admin SERVER EMAIL PASSWORD: an administrator in that server's database, before it starts.
add_admin() {
	printf '%s\n' "$3" | SWITCHBOARD_PROFILE=test SWITCHBOARD_DATABASE_URL="sqlite://$e2e_tmp/$1.db" \
		"$SERVER_BIN" user add --email "$2" --name "Administrator" --admin >/dev/null ||
		die "could not create the administrator of the $1 server"
}

# The main server's database starts with an administrator (accounts.spec.ts signs in as it).
readonly E2E_ADMIN_EMAIL="admin@switchboard.test"
readonly E2E_ADMIN_PASSWORD="administrator password for the e2e run"
add_admin main "$E2E_ADMIN_EMAIL" "$E2E_ADMIN_PASSWORD"
start_server main "$E2E_PORT" SWITCHBOARD_DASHBOARD_INTERVAL=1s SWITCHBOARD_METRICS_CLIENT_REPORT_INTERVAL=2s
start_server short "$E2E_SHORT_PORT" \
	SWITCHBOARD_IDLE_TIMEOUT=12s SWITCHBOARD_IDLE_WARNING=8s SWITCHBOARD_TOUCH_INTERVAL=1s SWITCHBOARD_SYNC_CHECK_INTERVAL=2s
start_server no-sync "$E2E_NO_SYNC_PORT" SWITCHBOARD_FEATURE_CROSS_TAB_SYNC=false
# Two instances on one PostgreSQL schema (many.spec.ts: a device on each). Their interval check is
# a minute, so only the server's push can explain a change reaching a tab within seconds.
command -v psql >/dev/null || apt_install postgresql-client
e2e_pg_schema="e2e_many_$$_${RANDOM}"
psql "$SWITCHBOARD_TEST_POSTGRES_URL" -v ON_ERROR_STOP=1 -qc "CREATE SCHEMA $e2e_pg_schema" >/dev/null ||
	die "could not create the schema $e2e_pg_schema for the two-instance servers"
e2e_pg_sep='?'
[[ "$SWITCHBOARD_TEST_POSTGRES_URL" == *\?* ]] && e2e_pg_sep='&'
e2e_pg_url="$SWITCHBOARD_TEST_POSTGRES_URL${e2e_pg_sep}options=-c%20search_path%3D$e2e_pg_schema"
for instance in a b; do
	port="$E2E_PG_A_PORT"
	[[ "$instance" == b ]] && port="$E2E_PG_B_PORT"
	start_server "pg-$instance" "$port" SWITCHBOARD_DATABASE_URL="$e2e_pg_url" SWITCHBOARD_SYNC_CHECK_INTERVAL=60s
done
phase_done

# ---- g. Playwright -----------------------------------------------------------------------------
phase "playwright"
if ! (cd "$ROOT/end2end" && SWITCHBOARD_E2E_URL="$E2E_URL" SWITCHBOARD_E2E_SHORT_URL="$E2E_SHORT_URL" \
	SWITCHBOARD_E2E_NO_SYNC_URL="$E2E_NO_SYNC_URL" SWITCHBOARD_E2E_PG_A_URL="http://127.0.0.1:$E2E_PG_A_PORT" \
	SWITCHBOARD_E2E_PG_B_URL="http://127.0.0.1:$E2E_PG_B_PORT" SWITCHBOARD_E2E_ADMIN_EMAIL="$E2E_ADMIN_EMAIL" \
	SWITCHBOARD_E2E_ADMIN_PASSWORD="$E2E_ADMIN_PASSWORD" npx --no-install playwright test) 2>&1 |
	tee "$logs_dir/playwright.log"; then
	print_server_log_tail
	die "Playwright tests failed (see above; test-results in end2end/test-results)"
fi
phase_done

# ---- h. schemathesis ---------------------------------------------------------------------------
# Property-based requests to every operation of GET /api/openapi.json, on a server of its own (a
# fresh database, so nothing the browser tests left changes what it meets), signed in as an
# administrator: no 5xx, and every answer as the document says (scripts/schemathesis.sh).
if ((!BROWSER_FIGURES)); then
phase "schemathesis"
readonly API_FUZZ_EMAIL="api@switchboard.test"
readonly API_FUZZ_PASSWORD="administrator password for the schemathesis run"
add_admin api "$API_FUZZ_EMAIL" "$API_FUZZ_PASSWORD"
start_server api "$API_FUZZ_PORT"
bash "$ROOT/scripts/schemathesis.sh" "http://127.0.0.1:$API_FUZZ_PORT" "$API_FUZZ_EMAIL" "$API_FUZZ_PASSWORD" 2>&1 |
	tee "$logs_dir/schemathesis.log" || {
	print_server_log_tail
	die "schemathesis found answers the OpenAPI document does not allow (see above)"
}
phase_done
fi

# ---- i. benchmark smoke -------------------------------------------------------------------------
# The hot-path benchmark (`make bench`) for one second a row on SQLite, failing on any error, so
# it cannot rot; its figures here mean little (the machine is busy), `make bench` prints real ones.
if ((BROWSER_FIGURES)); then
	printf '\n[test] browser figures (Chromium, release build):\n'
	grep -ho '\[figures\].*' "$logs_dir/playwright.log" | sort -u || true
	exit 0
fi
phase "benchmark smoke"
SWITCHBOARD_BENCH_SMOKE=1 cargo bench --locked -p server --features bench-baseline --bench hot_path ||
	die "the hot-path benchmark's smoke run failed (see above)"
phase_done

# ---- j. summary (printed by the exit trap) -----------------------------------------------------
exit 0
