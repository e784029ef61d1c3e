#!/usr/bin/env bash
# What Logto's HTTP SMS connector sends with the settings in README.md: a JSON
# POST with the recipient, the usage type and the code, and the connector's
# "authorization" value as the Authorization header.
#
#   examples/logto/request.sh [SignIn|Register|ForgotPassword|Generic|Test|<any type>]
#
# Prints the answer's body, then its HTTP status on the last line.
# ADAPTER, TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN and TO override the defaults.
set -euo pipefail

adapter=${ADAPTER:-http://localhost:8080}
sid=${TWILIO_ACCOUNT_SID:-AC00000000000000000000000000000001}
token=${TWILIO_AUTH_TOKEN:-example-token}
to=${TO:-"14155552671"} # Logto may send the number without its "+"
type=${1:-SignIn}
authorization="Basic $(printf '%s:%s' "$sid" "$token" | base64 | tr -d '\n')"

curl -sS -w '\n%{http_code}\n' "$adapter/logto" \
	-H "Authorization: $authorization" -H 'Content-Type: application/json' \
	--data-binary "{\"to\":\"$to\",\"type\":\"$type\",\"payload\":{\"code\":\"012345\",\"locale\":\"en\"},\"ip\":\"203.0.113.7\"}"
