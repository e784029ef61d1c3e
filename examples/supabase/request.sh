#!/usr/bin/env bash
# What Supabase Auth's Send SMS hook sends with the settings in README.md: a
# JSON POST with the user (phone without "+") and the code, signed with
# Standard Webhooks: webhook-id (a new UUID each attempt), webhook-timestamp
# and webhook-signature "v1,<base64 HMAC-SHA256 of id.timestamp.body>" under
# the hook's secret.
#
#   examples/supabase/request.sh           # one send
#   examples/supabase/request.sh retry     # the same body again with a new webhook-id: not sent twice
#   examples/supabase/request.sh forged    # signed with another secret: refused, nothing sent
#
# Prints the answer's body, then its HTTP status on the last line.
# ADAPTER, SECRET, TO and CODE override the defaults.
set -euo pipefail

adapter=${ADAPTER:-http://localhost:8080}
secret=${SECRET:-"v1,whsec_ZXhhbXBsZS1zdXBhYmFzZS1ob29rLXNlY3JldA=="}
to=${TO:-"14155552671"}
code=${CODE:-"$(printf '%06d' $((RANDOM % 1000000)))"}
mode=${1:-send}

case "$mode" in
send | retry) ;;
forged) secret="v1,whsec_$(printf 'another-secret' | base64)" ;;
*)
	echo "usage: $0 [send|retry|forged]" >&2
	exit 2
	;;
esac

body='{"metadata":{"uuid":"0b5e6a54-3d5f-4b1e-9d0a-8c3c0f1e2a77","time":"2026-12-01T15:04:05.123456Z","name":"send-sms","ip_address":"203.0.113.7"},'
body+='"user":{"id":"8ccaa7af-909f-44e7-84cb-67cdccb56be6","aud":"authenticated","role":"authenticated","email":"","phone":"'"$to"'",'
body+='"app_metadata":{"provider":"phone","providers":["phone"]},"user_metadata":{},"identities":[],"is_anonymous":false},'
body+='"sms":{"otp":"'"$code"'"}}'
key_hex=$(printf '%s' "${secret#v1,whsec_}" | base64 -d | od -An -v -tx1 | tr -d ' \n')

send() {
	local id ts sig
	id=$(cat /proc/sys/kernel/random/uuid 2>/dev/null || printf 'msg_%s%s' "$RANDOM" "$RANDOM")
	ts=$(date +%s)
	sig=$(printf '%s' "$id.$ts.$body" | openssl dgst -sha256 -mac HMAC -macopt "hexkey:$key_hex" -binary | base64 | tr -d '\n')
	curl -sS -w '\n%{http_code}\n' "$adapter/supabase" -H 'Content-Type: application/json' \
		-H "webhook-id: $id" -H "webhook-timestamp: $ts" -H "webhook-signature: v1,$sig" \
		--data-binary "$body"
}

if [[ $mode == retry ]]; then
	send >/dev/null # the first attempt; Supabase timed out on it and tries again
fi
send
