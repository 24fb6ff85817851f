#!/usr/bin/env bash
# Runs schemathesis against a live Switchboard server's own OpenAPI document
# (`GET /api/openapi.json`): property-based requests to every operation, each answer checked
# against the document (status, content type, headers, body schema), and no 5xx anywhere.
#
#   scripts/schemathesis.sh URL EMAIL PASSWORD
#
# EMAIL/PASSWORD: an administrator of that server (so the admin operations are reached too).
# scripts/test.sh starts a server of its own for this, on a fresh SQLite file. Needs the
# schemathesis that `scripts/setup.sh --api-fuzz` installs.
#
# Environment:
#   SWITCHBOARD_SCHEMATHESIS_EXAMPLES  test cases per operation and phase (default 40)
#   SWITCHBOARD_SCHEMATHESIS_SEED      the random seed (default: a new one, printed)
set -euo pipefail

[[ $# -eq 3 ]] || {
	sed -n '7p' "${BASH_SOURCE[0]}" | sed 's/^# *//' >&2
	exit 2
}
readonly URL="$1" EMAIL="$2" PASSWORD="$3"
readonly EXAMPLES="${SWITCHBOARD_SCHEMATHESIS_EXAMPLES:-40}"
readonly SEED="${SWITCHBOARD_SCHEMATHESIS_SEED:-$RANDOM$RANDOM}"
readonly ST="${XDG_CACHE_HOME:-$HOME/.cache}/switchboard/schemathesis/bin/schemathesis"
[[ -x "$ST" ]] || { echo "schemathesis is not installed: run scripts/setup.sh --api-fuzz" >&2; exit 1; }

log() { printf '[schemathesis] %s\n' "$*"; }

work="$(mktemp -d -t switchboard-schemathesis.XXXXXX)"
trap 'rm -rf -- "$work"' EXIT

# A session, as a script signs in: the pre-session cookie and its CSRF token, then the login.
json_field() { python3 -c 'import json,sys; print(json.load(sys.stdin)[sys.argv[1]])' "$1"; }
pre_token="$(curl -fsS -c "$work/jar" "$URL/api/csrf" | json_field csrf_token)"
state="$(curl -fsS -b "$work/jar" -c "$work/jar" -H "X-CSRF-Token: $pre_token" \
	--data-urlencode "email=$EMAIL" --data-urlencode "password=$PASSWORD" "$URL/api/login")"
token="$(json_field csrf_token <<<"$state")"
# The password entered again, so the sensitive operations (administrators', a password change)
# reach their handlers for the length of the run rather than stopping at 403.
curl -fsS -o /dev/null -b "$work/jar" -H "X-CSRF-Token: $token" --data-urlencode "password=$PASSWORD" "$URL/api/reauthenticate"
# The cookie jar's session line: domain, flag, path, secure, expiry, name, value.
session="$(awk '!/^#/ || /^#HttpOnly_/ { if (NF == 7 && $6 !~ /pre/) print $7 }' "$work/jar" | head -n1)"
[[ -n "$session" ]] || { echo "the login set no session cookie" >&2; exit 1; }
# Given as the document's security schemes, so schemathesis can also leave them out on purpose
# (and expect a refusal). The file is the run's own (mode 600), removed on exit.
(
	umask 077
	printf '[auth.openapi.session]\napi_key = "%s"\n\n[auth.openapi.csrf]\napi_key = "%s"\n' "$session" "$token" >"$work/schemathesis.toml"
)

# Operations that end the very session the run uses (or replace it: a login or registration
# that succeeds starts a new one) go last, in a run of their own. Streams never end (a request
# would wait for its timeout): their tests are in server/tests/api.
readonly ENDING='/api/(logout|sign_out_everywhere|login|register|change_password|admin/disable_user|disown_session)'
readonly STREAMS='/api/(session_events|admin/dashboard/events)'

# Every check but one: `positive_data_acceptance` expects any request the schema allows to be
# accepted, and the document gives each field's type, not every rule the server holds it to (a
# label's length, an https URL, a known audit kind): those are refused with 422 naming the
# field, an answer the document lists. Every other check holds: no 5xx, every status, content
# type, header and body as documented, schema-invalid requests refused, 405 for other methods.
run() {
	log "$1 (seed $SEED, $EXAMPLES cases an operation)"
	shift
	# From the run's own directory: schemathesis keeps a cache of past failures in
	# ./.schemathesis and replays them, and a run must not depend on an earlier one.
	cd "$work"
	"$ST" --config-file "$work/schemathesis.toml" run "$URL/api/openapi.json" \
		--url "$URL" \
		--checks all --exclude-checks positive_data_acceptance \
		--max-examples "$EXAMPLES" --seed "$SEED" \
		--phases examples,coverage,fuzzing \
		--request-timeout 10 \
		--output-sanitize true \
		--warnings off \
		"$@"
}

run "every operation but those that end the session" --exclude-path-regex "^($ENDING|$STREAMS)\$"
run "the operations that end the session" --include-path-regex "^$ENDING\$"
