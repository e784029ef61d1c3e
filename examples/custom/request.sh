#!/usr/bin/env bash
# What Acme IDM sends: a JSON POST with the user's number (international,
# without "+") and only the code, with the Twilio Account SID and auth token
# as HTTP Basic credentials (credentials passthrough).
#
#   examples/custom/request.sh [code]
#
# Prints the answer's body, then its HTTP status on the last line.
# ADAPTER, TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN and TO override the defaults.
set -euo pipefail

adapter=${ADAPTER:-http://localhost:8080}
sid=${TWILIO_ACCOUNT_SID:-AC00000000000000000000000000000001}
token=${TWILIO_AUTH_TOKEN:-example-token}
to=${TO:-"14155552671"}
code=${1:-482913}

curl -sS -w '\n%{http_code}\n' -u "$sid:$token" "$adapter/acme" \
	-H 'Content-Type: application/json' \
	--data-binary "{\"user\":{\"id\":\"u-1\",\"mobile\":\"$to\"},\"otp\":\"$code\"}"
