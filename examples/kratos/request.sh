#!/usr/bin/env bash
# What the Kratos courier's HTTP channel sends with the configuration in
# README.md: the body its Jsonnet template builds, with basic_auth.
#
#   examples/kratos/request.sh          # the documented form template: To, Body
#   examples/kratos/request.sh json     # a JSON template passing the whole ctx
#
# Prints the answer's body, then its HTTP status on the last line.
# ADAPTER, TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN, TO and CODE override the defaults.
set -euo pipefail

adapter=${ADAPTER:-http://localhost:8080}
sid=${TWILIO_ACCOUNT_SID:-AC00000000000000000000000000000001}
token=${TWILIO_AUTH_TOKEN:-example-token}
to=${TO:-"+14155552671"}
code=${CODE:-"012345"}
body="Your verification code is: $code"

case "${1:-form}" in
form)
	curl -sS -w '\n%{http_code}\n' -u "$sid:$token" "$adapter/kratos" \
		-H 'Content-Type: application/x-www-form-urlencoded' \
		--data-urlencode "To=$to" --data-urlencode "Body=$body"
	;;
json)
	curl -sS -w '\n%{http_code}\n' -u "$sid:$token" "$adapter/kratos" -H 'Content-Type: application/json' \
		--data-binary "{\"recipient\":\"$to\",\"subject\":\"\",\"body\":\"$body\",\"template_type\":\"verification_code\",\"template_data\":{\"To\":\"$to\",\"VerificationCode\":\"$code\"},\"message_type\":\"sms\"}"
	;;
*)
	echo "usage: $0 [form|json]" >&2
	exit 2
	;;
esac
